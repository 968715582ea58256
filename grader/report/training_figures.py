"""Pictures and tables of the training and timing checks' extra data, for the HTML report.

Loss curves (student vs reference), time per step per backend with its spread, the scaling sweep and
the reproducibility record. matplotlib is imported only when a picture is drawn.
"""
from __future__ import annotations

import base64
import io
import math

from ..i18n import _


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=96)
    FigureCanvasAgg(fig)
    return fig


def _curves_figure(curves: dict):
    phases = [(k, v) for k, v in curves.items() if v.get("reference")]
    if not phases:
        return None
    fig = _figure(4.2 * len(phases), 3.2)
    for i, (key, curve) in enumerate(phases):
        ax = fig.add_subplot(1, len(phases), i + 1)
        ref = [math.nan if v is None else v for v in curve["reference"]]
        ax.plot(range(len(ref)), ref, label=_("reference (PyTorch)"), color="#1f77b4", linewidth=2)
        student = [math.nan if v is None else v for v in curve.get("student") or []]
        at = list(curve.get("student_steps") or range(len(student)))[:len(student)]
        if student:
            ax.plot(at, student, label=_("yours"), color="#ff7f0e", linestyle="--", marker="." if
                    len(at) < len(ref) // 2 else None)
            finite = [(t, v) for t, v in zip(at, student) if math.isfinite(v)]
            if at[-1] < len(ref) - 1 and finite:  # the run stopped (diverged or failed) here
                ax.plot([finite[-1][0]], [finite[-1][1]], marker="x", color="#d62728", markersize=10,
                        label=_("stopped at step {step}").format(step=at[-1]))
        ax.set_yscale("log")
        ax.set_xlabel(_("step"))
        ax.set_ylabel(_("training loss"))
        ax.set_title(key)
        ax.legend(fontsize=8)
    return fig


def _timing_figure(backends: list[dict]):
    ok = [b for b in backends if b.get("median_s")]
    if not ok:
        return None
    fig = _figure(5.0, 0.6 + 0.55 * len(ok))
    ax = fig.add_subplot()
    med = [b["median_s"] * 1e3 for b in ok]
    lo = [m - b["min_s"] * 1e3 for m, b in zip(med, ok)]
    hi = [b["max_s"] * 1e3 - m for m, b in zip(med, ok)]
    ax.barh(range(len(ok)), med, xerr=[lo, hi], color="#4c72b0", capsize=4)
    ax.set_yticks(range(len(ok)), [b["backend"] for b in ok])
    ax.invert_yaxis()
    ax.set_xlabel("ms per train step (median; bars: min-max over runs)")
    skipped = [f"{b['backend']}: {b['note']}" for b in backends if not b.get("median_s")]
    if skipped:
        ax.set_title("; ".join(skipped), fontsize=8)
    return fig


def _sweep_figure(sweep: dict):
    if not sweep or not sweep.get("points"):
        return None
    devices = [d for d in sweep.get("devices", {}) if any(p.get(d) for p in sweep["points"])]
    if not devices:
        return None
    fig = _figure(8.4, 3.2)
    for i, axis in enumerate(("hidden", "batch")):
        ax = fig.add_subplot(1, 2, i + 1)
        for device in devices:
            pts = [(p[axis], p[device] * 1e3) for p in sweep["points"] if p["axis"] == axis and p.get(device)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=f"PyTorch {device}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("hidden width" if axis == "hidden" else "batch size")
        ax.set_ylabel("ms per train step")
        skipped = [f"{d}: {note}" for d, note in sweep.get("devices", {}).items() if d not in devices]
        if skipped:
            ax.set_title("; ".join(skipped), fontsize=8)
        if ax.get_lines():
            ax.legend(fontsize=8)
    return fig


def figures(check) -> list[tuple[str, str]]:
    """(caption, PNG data URI) pictures of a check's extra data, for the HTML report. Never raises:
    without matplotlib, or if drawing fails, the report simply has no pictures."""
    extra = getattr(check, "extra", None) or {}
    wanted = extra.get("timing") or (extra.get("curves") and (getattr(check, "status", "") != "passed"
                                                               or extra.get("plot_curves")))
    if not wanted:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    out = []
    builders = []
    # Loss curves cost matplotlib (~1 s) on every grade: drawn when the check failed, or when asked for
    # (`timing` or `plots` on), otherwise the table of final losses and accuracies says it.
    if extra.get("curves") and (getattr(check, "status", "") != "passed" or extra.get("plot_curves")):
        builders.append((_("Training loss after each step: yours and the PyTorch reference's, from the same "
                           "weights on the same batches."), lambda: _curves_figure(extra["curves"])))
    timing = extra.get("timing") or {}
    if timing.get("backends"):
        builders.append(("Time per train step of the same workload, per backend (median of the runs; bars "
                         "span the fastest and slowest run).", lambda: _timing_figure(timing["backends"])))
    if timing.get("sweep"):
        builders.append(("PyTorch time per step as the hidden width and the batch size grow, CPU and CUDA.",
                         lambda: _sweep_figure(timing["sweep"])))
    for caption, build in builders:
        try:
            fig = build()
            if fig is not None:
                out.append((caption, _png(fig)))
        except Exception:  # noqa: BLE001 - see docstring
            continue
    return out


def _ms(x) -> str:
    return "—" if x is None else f"{x * 1e3:.3g}"


def tables(check) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) tables of a check's extra data, for the HTML report (strings only)."""
    extra = getattr(check, "extra", None) or {}
    out = []
    curves = extra.get("curves") or {}
    if curves:
        rows = []
        for key, c in curves.items():
            ref, stu = c.get("reference") or [], c.get("student") or []
            last = (c.get("student_steps") or [len(stu) - 1])[-1]
            acc = c.get("student_accuracy")
            rows.append([key, str(c.get("steps", "")),
                         "—" if not ref or ref[-1] is None else f"{ref[-1]:.4g}",
                         "—" if not stu or stu[-1] is None else f"{stu[-1]:.4g}" + (
                             "" if last == len(ref) - 1 else " " + _("(stopped at step {step})").format(step=last)),
                         "—" if c.get("reference_accuracy") is None else f"{c['reference_accuracy']:.2%}",
                         "—" if acc is None else f"{acc:.2%}"])
        header = [_("run"), _("steps"), _("final loss (reference)"), _("final loss (yours)"),
                  _("test accuracy (reference)"), _("test accuracy (yours)")]
        out.append((_("Training runs"), header, rows))
    compared = extra.get("metrics") or {}
    if compared.get("runs"):
        def pct(m, key):
            return "—" if not m else (f"{m[key]:.2%}" if key == "accuracy" else f"{m[key]:.3f}")
        rows = [[r["run"], pct(r["reference"], "accuracy"), pct(r["student"], "accuracy"),
                 pct(r["reference"], "macro_f1"), pct(r["student"], "macro_f1")] for r in compared["runs"]]
        out.append((_("Optimizers compared on {dataset}, {epochs} epochs from the same weights").format(
            dataset=compared.get("dataset"), epochs=compared.get("epochs")),
            [_("run"), _("test accuracy (reference)"), _("test accuracy (yours)"), _("macro F1 (reference)"),
             _("macro F1 (yours)")], rows))
        for r in compared["runs"]:
            matrix = (r.get("student") or {}).get("confusion")
            if matrix:
                out.append((_("Confusion matrix of your {run} run (rows: true class, columns: predicted)").format(
                    run=r["run"]), [""] + [str(k) for k in range(len(matrix))],
                    [[str(i)] + [str(v) for v in row] for i, row in enumerate(matrix)]))
    timing = extra.get("timing") or {}
    if timing.get("backends"):
        rows = [[b["backend"], b["device"], b["dtype"], "—" if b.get("threads") is None else str(b["threads"]),
                 _ms(b.get("min_s")), _ms(b.get("median_s")), _ms(b.get("max_s")),
                 b["note"] if b["status"] != "ok" else (b.get("note") or "")] for b in timing["backends"]]
        w = timing.get("workload", {})
        out.append((f"Time per train step, ms ({w.get('data', '')}; hidden {w.get('hidden')}, batch {w.get('batch')}, "
                    f"{w.get('warmup')} warm-up + {w.get('runs')} timed rounds of {w.get('steps')} steps, backends taking turns)",
                    ["backend", "device", "dtype", "threads", "min", "median", "max", "note"], rows))
    sweep = timing.get("sweep")
    if sweep and sweep.get("points"):
        devices = list(sweep.get("devices", {}))
        rows = [[p["axis"], str(p["hidden"]), str(p["batch"])] + [_ms(p.get(d)) for d in devices]
                for p in sweep["points"]]
        title = f"Scaling sweep, ms per step ({sweep.get('dtype')}, {sweep.get('threads')} CPU threads). " + \
            " ".join(f"{axis}: {text}." for axis, text in sweep.get("crossover", {}).items())
        out.append((title, ["varies", "hidden", "batch"] + [f"PyTorch {d}" for d in devices], rows))
    env = timing.get("environment")
    if env:
        out.append(("Reproducibility", ["what", "value"], [[k, "—" if v is None else str(v)] for k, v in env.items()]))
    return out
