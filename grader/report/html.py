"""One self-contained HTML report: inline CSS, no external resources, pictures as data: URIs."""
from __future__ import annotations

import base64
import functools
import io

import jinja2
from markupsafe import Markup

from grader import cache, i18n
from grader import report as common
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED, SKIPPED

_SYMBOLS = {PASSED: "✓", FAILED: "✗", ERROR: "!", SKIPPED: "–", NOT_ATTEMPTED: "·"}
MAX_CASES = 5  # failed cases shown per check; the rest are counted
MAX_FIX = 5  # checks told in full under "What to fix first"; the rest are listed folded


def _finalize(value):
    # Every {{ }} passes through here before autoescaping: strip control characters and escape
    # sequences from whatever the student produced. Markup (our own translated strings) is kept.
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return common.sanitize(value)
    return value


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader.templates", ""),
        autoescape=True,  # student text is everywhere: names, messages, output
        extensions=["jinja2.ext.i18n"],
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=cache.template_bytecode(__file__),
    )
    # Wrappers, not the functions themselves, so a catalogue activated later is still used.
    env.install_gettext_callables(
        lambda s: i18n._(s), lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    env.globals.update(
        points=common.fmt_points,
        num=common.fmt_num,
        fmt_percent=common.fmt_percent,
        decimal=lambda x, digits=1: f"{float(x):.{digits}f}".replace(".", common._decimal_symbol()),
        index=common.fmt_index,
        status_label=common.status_label,
        exercise_status=common.exercise_status,
        comparison_items=common.comparison_items,
        case_messages=common.case_messages,
        summary_line=common.summary_line,
        symbols=_SYMBOLS,
        heatmap=heatmap_data_uri,
        extra_tables=_extra("tables"),
        extra_figures=_extra("figures"),
        MAX_CASES=MAX_CASES,
        MAX_FIX=MAX_FIX,
    )
    return env


def _extra(name: str):
    """training_figures' tables/figures of a check's extra data (training curves, timings), imported only
    for checks that have such data (the pictures need matplotlib)."""
    def render(check):
        extra = getattr(check, "extra", None) or {}
        if not (extra.get("curves") or extra.get("timing")):
            return []
        from . import training_figures
        return getattr(training_figures, name)(check)
    return render


MAX_CELLS = 128  # heat map resolution per axis


def _max_pool(data, limit: int):
    """Shrink a large map by block maxima (NaN wins), so that one wrong element out of a million is
    still visible; plain resampling would average or drop it."""
    import numpy as np

    fr, fc = -(-data.shape[0] // limit), -(-data.shape[1] // limit)
    if fr == fc == 1:
        return data
    rows, cols = -(-data.shape[0] // fr) * fr, -(-data.shape[1] // fc) * fc
    padded = np.zeros((rows, cols))
    padded[: data.shape[0], : data.shape[1]] = data
    return padded.reshape(rows // fr, fr, cols // fc, fc).max(axis=(1, 3))


def heatmap_data_uri(comparison) -> str | None:
    """PNG heat map of a 2-D absolute error map as a data: URI, or None.

    The picture is a nicety: without matplotlib, or if drawing fails for any reason, the report is
    still written without it rather than lost.
    """
    error_map = getattr(comparison, "error_map", None)
    if error_map is None:
        return None
    try:
        import matplotlib
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    try:
        data = np.asarray(error_map, dtype=float)
        if data.ndim != 2 or data.size == 0:
            return None
        rows, cols = data.shape
        data = np.ma.masked_invalid(_max_pool(data, MAX_CELLS))
        # The object-oriented API with the Agg canvas: no pyplot, no global backend switch.
        fig = Figure(figsize=(min(6.0, max(3.5, 2.0 + cols / 8)), min(4.5, max(2.5, 1.5 + rows / 8))), dpi=96)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d62728")
        # extent keeps the axes in the original element indices even after pooling.
        image = ax.imshow(data, cmap=cmap, aspect="auto", interpolation="nearest",
                          extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
        fig.colorbar(image, ax=ax, label=i18n._("absolute error"))
        if comparison.worst_index is not None and len(comparison.worst_index) == 2:
            r, c = comparison.worst_index
            ax.plot([c], [r], marker="s", markersize=9, markerfacecolor="none", markeredgecolor="#ff7f0e",
                    markeredgewidth=2)
        ax.set_xlabel(i18n._("column"))
        ax.set_ylabel(i18n._("row"))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    except Exception:  # noqa: BLE001 - see docstring
        return None
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(result) -> str:
    checks = list(result.checks())
    anchors = {id(c): f"check-{n}" for n, c in enumerate(checks, 1)}
    return environment().get_template("report.html.j2").render(
        result=result,
        fix_first=common.fix_first(result),
        seed_note=common.seed_note(result.seed_kind),
        anchor=lambda check: anchors[id(check)],
        percent=(100 * result.score / result.max_score) if result.max_score else 0.0,
        percent_text=common.fmt_percent(result.score / result.max_score if result.max_score else 0.0),
        counts={s: sum(c.status == s for c in checks) for s in _SYMBOLS},
    )


def write_html(result, path):
    return common.atomic_write_text(path, render_html(result))
