"""report.html in a real browser: headless Chromium (Debian's `chromium`, which .ci/run installs)
renders the report of a correct and of a failing submission at desktop and phone width, with no
console error, no request leaving the page and no horizontal scrolling, and prints it. Screenshots
are kept in test-artifacts/ (and in pytest's tmp_path) to look at.

Chromium is driven over the DevTools protocol on --remote-debugging-pipe: JSON messages ending in a
NUL byte on file descriptors 3 (to the browser) and 4 (from it), so no extra package is needed.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from helpers import FAST_LIMITS, SOLUTION, make_submission, small_assignment

from grader import i18n
from grader.engine import grade
from grader.report.html import render_html
from grader.sandbox.session import Limits
from grader.seeds import Seed

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (Debian: apt-get install chromium; "
                                                     ".ci/run installs it when run as root)")]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WIDTHS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
MAX_SHOT_HEIGHT = 6000  # px of a full-page screenshot; enough for the summary and the first failures
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    # Nothing can leave the machine even if the page asked: every host name fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
]


class Chromium:
    """A headless Chromium and just enough of the DevTools protocol to load a page and watch it."""

    def __init__(self, profile: Path, timeout: float = 30.0):
        self.timeout = timeout
        self.events: list[dict] = []
        self._next_id = 0
        self._buffer = b""
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Copies above 10, so moving them to 3 and 4 in the child cannot overwrite one with the other.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)

        def pipes_on_3_and_4():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.log = open(profile / "chromium.log", "wb")  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, preexec_fn=pipes_on_3_and_4,
                close_fds=False,  # 3 and 4 must survive exec; Python's own descriptors are close-on-exec anyway
            )
        except OSError:
            for fd in (*high, to_browser_w, from_browser_r):
                os.close(fd)
            self.log.close()
            raise
        for fd in high:
            os.close(fd)
        self._write, self._read = to_browser_w, from_browser_r

    def close(self):
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    # -- protocol --------------------------------------------------------------------------------

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            self.events.append(self._message(deadline))

    # -- pages -----------------------------------------------------------------------------------

    def open(self, path: Path, width: int, height: int, mobile: bool) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": mobile}, session)
        page = Page(self, session, path.resolve().as_uri(), width)
        self.call("Page.navigate", {"url": page.url}, session)
        self.wait_for("Page.loadEventFired", session)
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out
        return page


class Page:
    def __init__(self, browser: Chromium, session: str, url: str, width: int):
        self.browser, self.session, self.url, self.width = browser, session, url, width

    def call(self, method, params=None):
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str):
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, CSP violations and every request for anything but the page
        itself and data: URIs (which a self-contained report is made of)."""
        out = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append("console error: " + " ".join(str(a.get("value", a.get("description")))
                                                       for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"log error ({params['entry'].get('source')}): {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url != self.url and not url.startswith("data:"):
                    out.append(f"request: {url}")
            elif method == "Network.loadingFailed" and params.get("blockedReason"):
                out.append(f"blocked request ({params['blockedReason']})")
        return out

    def screenshot(self, path: Path) -> bytes:
        height = self.evaluate("document.documentElement.scrollHeight")
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": min(height, MAX_SHOT_HEIGHT), "scale": 1}})
        data = base64.b64decode(shot["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:  # a new, empty profile
        chromium = None
        try:
            chromium = Chromium(Path(profile))
            chromium.call("Browser.getVersion")
        except Exception as error:  # noqa: BLE001 - a broken install is a skip, with the reason
            if chromium is not None:
                chromium.close()
            pytest.skip(f"Chromium ({CHROMIUM}) did not start: {error}")
        yield chromium
        chromium.close()


# Two small exercises (two collapsible sections), graded for real.
EXERCISES = {"elementwise": ("sigmoid", "tanh"), "affine": ("linear", "cross_entropy")}
# A wrong sigmoid backward (a 2-D output: a heat map; a catalogued mistake) and a missing 1/N
# (a hint), on one page in Spanish, the course's language.
FAILING_EDITS = {"layers.py": [
    ("s = sigmoid_forward(x)\n    return dout * s * (1 - s)", "return dout * x * (1 - x)"),
    ("return probs / len(y)", "return probs"),
]}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """{name: path of report.html}: the model solution in English, a failing submission in Spanish."""
    folder = tmp_path_factory.mktemp("reports")
    assignment = small_assignment(folder / "assignment", EXERCISES)

    def grade_it(path):
        return grade(Path(path), assignment, Seed(assignment.practice_seed, "practice"), limits=Limits(**FAST_LIMITS))

    with i18n.using("en"):
        correct = grade_it(SOLUTION)
        html = {"correct": render_html(correct)}
    assert correct.score == correct.max_score
    with i18n.using("es"):  # graded and rendered in Spanish: every message a student reads
        failing = grade_it(make_submission(folder / "failing", FAILING_EDITS))
        html["failing"] = render_html(failing)
    assert {e.id for e in failing.exercises if e.score < e.max_score} == set(EXERCISES)
    paths = {}
    for name, text in html.items():
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(text, encoding="utf-8")
    return paths


# -- tests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("report", ["correct", "failing"])
def test_report_renders_cleanly(browser, reports, report, width, tmp_path):
    w, h, mobile = WIDTHS[width]
    page = browser.open(reports[report], w, h, mobile)
    for target in (tmp_path, ARTIFACTS):  # tmp_path for this run, test-artifacts/ to look at afterwards
        data = page.screenshot(target / f"report-{report}-{width}.png")
    assert data.startswith(b"\x89PNG")
    assert page.problems() == []
    # Readable at this width: nothing wider than the screen (wide tables scroll inside their box).
    assert page.evaluate("document.documentElement.scrollWidth") <= w
    # The summary (score) comes first, then what to fix, then one collapsible section per exercise.
    order = page.evaluate("""[...document.querySelectorAll('.summary, .fix, details.exercise')]
                             .map(e => e.className.split(' ')[0])""")
    assert order[0] == "summary" and order.count("exercise") == len(EXERCISES)
    assert page.evaluate("[...document.querySelectorAll('details.exercise > summary')].length") == order.count(
        "exercise")
    if report == "correct":
        # Nothing to fix: the exercises start closed; every image that exists has decoded.
        assert "fix" not in order
        assert page.evaluate("document.querySelectorAll('details.exercise[open]').length") == 0
    else:
        assert order[1] == "fix"
        assert page.evaluate("document.querySelectorAll('details.exercise[open]').length") == len(EXERCISES)
        assert page.evaluate("document.documentElement.lang") == "es"
        text = page.evaluate("document.body.innerText")
        assert "Qué corregir primero" in text and "Pista" in text
        assert re.search(r"layers\.py:\d+", text), "each failure names the student's file and line"
        # The comparison table and the heat map of the 2-D error, decoded by the browser.
        # Folded until asked for: open the elements' tables and heat maps as a click would.
        page.evaluate("document.querySelectorAll('details.case[open] details.elements').forEach(d => d.open = true)")
        headers = page.evaluate("[...document.querySelectorAll('details.case[open] table th')]"
                                ".map(t => t.innerText)")
        assert {"Índice", "Esperado", "Obtenido", "Error absoluto"} <= set(headers)
        sizes = page.evaluate("[...document.querySelectorAll('details.case[open] img.heatmap')]"
                              ".map(i => [i.naturalWidth, i.width])")
        assert sizes and all(natural > 0 and 0 < shown <= w for natural, shown in sizes)
        # The comparison tables fit too: the error column is not hidden behind a sideways scroll.
        assert page.evaluate("[...document.querySelectorAll('.case .scroll')].every(e => e.scrollWidth <= e.clientWidth)")


def test_report_prints_with_every_exercise_open(browser, reports, tmp_path):
    """Printed, closed exercises are shown too (a print-out has no clicks) and the PDF is made."""
    page = browser.open(reports["correct"], *WIDTHS["desktop"])
    visible = "document.querySelector('details.exercise:not([open]) .body table').checkVisibility()"
    assert page.evaluate(visible) is False
    page.call("Emulation.setEmulatedMedia", {"media": "print"})
    assert page.evaluate(visible) is True
    pdf = base64.b64decode(page.call("Page.printToPDF", {"printBackground": False})["data"])
    assert pdf.startswith(b"%PDF")
    for target in (tmp_path, ARTIFACTS):
        target.mkdir(parents=True, exist_ok=True)
        (target / "report-correct.pdf").write_bytes(pdf)
    assert page.problems() == []


@pytest.mark.parametrize("tamper", ["external image", "external stylesheet", "script", "no CSP, external image"])
def test_browser_check_catches_a_page_that_reaches_out(browser, reports, tmp_path, tamper):
    """The checks above can fail: a report that loads anything from elsewhere, or runs a script that
    logs an error, is caught (by the page's Content-Security-Policy and by the request log)."""
    html = reports["correct"].read_text(encoding="utf-8")
    extra = {"external image": '<img src="https://example.com/pixel.png" alt="">',
             "external stylesheet": '<link rel="stylesheet" href="https://fonts.example.com/font.css">',
             "script": "<script>console.error('boom')</script>",
             "no CSP, external image": '<img src="http://example.com/pixel.png" alt="">'}[tamper]
    if tamper.startswith("no CSP"):
        html, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
        assert n == 1
    tampered = tmp_path / "tampered.html"
    tampered.write_text(html.replace("</main>", extra + "</main>"), encoding="utf-8")
    page = browser.open(tampered, *WIDTHS["desktop"])
    assert page.problems(), f"{tamper}: not detected"


# -- long reports and the class summary -------------------------------------------------------------

OFF = ("import numpy as np\n\n\ndef _off(value):\n"
       "    if isinstance(value, tuple):\n        return tuple(_off(v) for v in value)\n"
       "    return np.asarray(value) * 1.1 + 0.01\n")


def _everything_off(folder: Path, files=("layers.py", "activations.py")) -> Path:
    """The model solution with every returned value a little off: a failure at nearly every check."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        text = (SOLUTION / name).read_text().replace("import numpy as np\n", "", 1)
        (folder / name).write_text(OFF + re.sub(r"^(\s+)return (.+)$", r"\1return _off(\2)", text, flags=re.M))
    return folder


def test_a_report_with_twenty_failures_stays_short(browser, tmp_path):
    """Each failed check shows its first failing case, the others folded: 20 failures fit in 8,000 px."""
    from grader.assignment import load_assignment
    (tmp_path / "hw.toml").write_text('exercises = ["layers"]\npractice_seed = 7\n')
    assignment = load_assignment(tmp_path / "hw.toml")
    with i18n.using("en"):
        result = grade(_everything_off(tmp_path / "sub", files=("layers.py",)), assignment, Seed(assignment.practice_seed, "practice"),
                       limits=Limits(**FAST_LIMITS))
        failed = [c for c in result.checks() if c.score < c.max_score]
        assert 20 <= len(failed) <= 30, [c.name for c in failed]
        path = tmp_path / "long.html"
        path.write_text(render_html(result), encoding="utf-8")
    page = browser.open(path, *WIDTHS["desktop"])
    for target in (tmp_path, ARTIFACTS):
        page.screenshot(target / "report-twenty-failures-desktop.png")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 8000, f"{len(failed)} failures make a {height} px page"
    # Every failed check with cases opens its first one, and only that one.
    per_check = page.evaluate("""[...document.querySelectorAll('article.check')].map(a =>
        [a.querySelectorAll('details.case').length, a.querySelectorAll('details.case[open]').length,
         a.querySelector('details.case') ? a.querySelector('details.case').open : null])""")
    with_cases = [row for row in per_check if row[0]]
    assert with_cases and all(opened == 1 and first for _n, opened, first in with_cases)
    assert any(n > 1 for n, _o, _f in with_cases)  # folded cases exist
    # Protections and the load list: one folded section.
    assert page.evaluate("document.querySelectorAll('footer details.how').length") == 1
    assert page.evaluate("document.querySelector('footer details.how').open") is False
    assert page.problems() == []


def _class_summary() -> str:
    from grader.batch.summary import render
    long_name = "garcia-fernandez_maria-del-carmen_late_submission_2"
    checks = [{"exercise": "regularization", "check": f"batchnorm_backward.gradcheck_{i}", "passed": 3, "total": 17,
               "rate": 17.6, "mean": 0.25, "max_score": 2.0} for i in range(6)]
    data = {
        "title": "Neural networks from scratch, in NumPy (second assignment of the term)", "count": 40,
        "statuses": {"graded": 37, "error": 2, "timeout": 1}, "mean": 101.25, "median": 120.5, "min": 0.0,
        "max": 176.5, "max_score": 176.5,
        "distribution": [{"label": f"{i * 10}–{(i + 1) * 10}%", "count": i, "share": 2.5 * i} for i in range(10)],
        "checks": checks,
        "hints": [{"code": "missing_mean", "text": "You probably forgot to average over the batch: every gradient "
                   "is N times too large.", "count": 12, "checks": [c["check"] for c in checks[:3]]}],
        "same_wrong_outputs": [[long_name, long_name + "_copy"]],
        "similar_code": [{"members": [long_name, long_name + "_b"], "similarity": 0.93}],
        "slowest": [{"submission": long_name, "duration_s": 88.2, "status": "graded"}],
        "problems": [{"submission": long_name, "status": "error", "message": "No graded function found in "
                      f"{long_name}: expected files that define relu_forward, relu_backward, sigmoid_forward, … "
                      "(56 in all); see `grade starter`."}],
    }
    return render(data)


def test_class_summary_fits_a_phone(browser, tmp_path):
    path = tmp_path / "summary.html"
    with i18n.using("en"):
        path.write_text(_class_summary(), encoding="utf-8")
    for width in ("phone", "desktop"):
        w, h, mobile = WIDTHS[width]
        page = browser.open(path, w, h, mobile)
        for target in (tmp_path, ARTIFACTS):
            page.screenshot(target / f"summary-{width}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= w, width
        # No table scrolls sideways inside its box either: every column is readable.
        assert page.evaluate("[...document.querySelectorAll('.scroll')].every(e => e.scrollWidth <= e.clientWidth)")
        assert page.problems() == []
