"""Reporters render a hand-built GradeResult: what a student sees, escaped and self-contained."""
from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from grader.report import write_reports
from grader.report.gradescope import to_gradescope, write_results_json
from grader.report.html import render_html
from grader.report.junit import render_junit
from grader.report.markdown import render_markdown
from grader.report.terminal import render_terminal
from grader.results import (
    CaseResult,
    CheckResult,
    Comparison,
    ExerciseResult,
    GradeResult,
    Hint,
    Location,
)

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
ANSI = re.compile(r"\x1b\[")
HOSTILE = "before <script>alert(1)</script> \x00nul \x1b[31mred\x1b[0m after"
HINT = "Your gradient has the opposite sign: check the order of the subtraction."


def make_result(penalty: float = 0.0) -> GradeResult:
    error_map = np.zeros((4, 7))
    error_map[0, 3] = 2.0
    error_map[2, 1] = np.nan
    comparison = Comparison(
        passed=False, reason="values", message="values differ at [0, 3]: expected 1, got -1 (atol 1e-07)",
        expected_shape=(4, 7), actual_shape=(4, 7), actual_dtype="float64", rtol=1e-7, atol=1e-7,
        max_abs_error=2.0, max_rel_error=2.0, worst_index=(0, 3), expected_at_worst=1.0, actual_at_worst=-1.0,
        n_mismatched=3, n_total=28, worst_rows=[((0, 3), 1.0, -1.0, 2.0), ((1, 5), 0.5, -0.5, 1.0)],
        error_map=error_map,
    )
    shape_cmp = Comparison(passed=False, reason="shape", message="shape (7, 4) != (4, 7)",
                           expected_shape=(4, 7), actual_shape=(7, 4))
    passing = ExerciseResult("layers", "Layers: ReLU", checks=[
        CheckResult("layers", "relu_forward", "forward", 2.0, 2.0, "passed", "all 4 cases passed",
                    cases=[CaseResult("case 1: x (2, 3)", True)]),
    ])
    failing = ExerciseResult("network", "A two-layer network", notes=["loaded from network.ipynb"], checks=[
        CheckResult(
            "network", "NeuralNetwork.backward", "backward", 4.0, 1.0, "failed", "dW1 is wrong in 3 of 4 cases",
            cases=[
                CaseResult("case 1: x (4, 7)", True),
                CaseResult("case 2: x (4, 7)", False, comparison.message,
                           call="NeuralNetwork.backward(x: (4, 7) float64, y: (4,) int64)", output="dW1",
                           comparison=comparison, hint=Hint("sign_flip", HINT)),
                CaseResult("case 3: x (4, 7)", False, shape_cmp.message, call="NeuralNetwork.backward(x: (4, 7))",
                           output="dW1", comparison=shape_cmp),
            ],
            hint=Hint("sign_flip", HINT),
            location=Location("network.ipynb", 12, cell=3, cell_id="abc", cell_line=5),
            stdout="debug print <b>bold</b>\n",
        ),
        CheckResult("network", "NeuralNetwork.forward", "forward", 2.0, 0.0, "error",
                    "Traceback (most recent call last):\n  File \"network.py\", line 9\nZeroDivisionError: division by zero",
                    location=Location("network.py", 9), stdout=HOSTILE),
        CheckResult("network", "NeuralNetwork.update", "update", 1.0, 0.0, "not_attempted",
                    "NeuralNetwork.update is not implemented"),
        CheckResult("network", "a_function_with_an_extremely_long_name_that_cannot_possibly_fit_in_a_row",
                    "gradcheck", 1.0, 0.0, "skipped", "skipped: forward failed"),
    ])
    return GradeResult(
        submission="submissions/alice", exercises=[passing, failing], seed_kind="practice",
        grader_version="0.1.0", assignment="HW2", protections={"network blocked": True, "memory limit": False},
        notes=["NeuralNetwork defined in network.ipynb"], duration_s=3.25, penalty=penalty,
    )


# --- HTML ------------------------------------------------------------------------------------


def test_html_shows_what_failed_and_how_to_fix_it():
    page = render_html(make_result())
    assert "NeuralNetwork.backward(x: (4, 7) float64, y: (4,) int64)" in page
    assert "[0, 3]" in page and "rtol=1e-07, atol=1e-07" in page
    assert "3 of 28" in page
    assert "opposite sign" in page
    assert "network.ipynb, cell 3 (id abc), line 5" in page
    assert "ZeroDivisionError: division by zero" in page
    assert "What to fix first" in page
    assert page.count('<details class="exercise"') == 2
    # Protections and the load list: one folded section, closed.
    assert page.count('<details class="how">') == 1
    # the failing exercise is open, the passing one closed
    assert re.search(r'<details class="exercise" id="exercise-2" open>', page)
    assert not re.search(r'<details class="exercise" id="exercise-1" open>', page)
    assert "network blocked" in page and "NeuralNetwork defined in network.ipynb" in page
    assert "practice inputs" in page


def test_html_escapes_student_text_and_strips_controls():
    page = render_html(make_result())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>bold</b>" not in page
    assert "\x00" not in page and "\x1b" not in page
    assert "before &lt;script&gt;alert(1)&lt;/script&gt; nul red after" in page


def test_html_is_self_contained():
    page = render_html(make_result())
    refs = re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]+)', page, flags=re.I)
    assert refs, "expected at least the in-page links"
    assert all(r.startswith(("#", "data:")) for r in refs), refs
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<style>" in page


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib not installed")
def test_html_heat_map_is_an_embedded_png():
    page = render_html(make_result())
    assert re.search(r'<img class="heatmap" src="data:image/png;base64,[A-Za-z0-9+/=]+"', page)


def test_html_without_error_map_has_no_picture():
    result = make_result()
    for check in result.checks():
        for case in check.cases:
            if case.comparison:
                case.comparison.error_map = None
    assert "data:image/png" not in render_html(result)


# --- terminal --------------------------------------------------------------------------------


def test_terminal_fits_80_columns_and_lists_fixes(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = render_terminal(make_result(), color=False, report_path="grade-report/report.html")
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [l for l in lines if len(l) > 80]
    assert not ANSI.search(text)
    assert any("NeuralNetwork.backward" in l and l.rstrip().endswith("1.0/4.0") for l in lines)
    assert any(l.startswith("Total") and l.endswith("3.0/10.0") for l in lines)
    assert "Fix first:" in text and "opposite sign" in text
    assert "ZeroDivisionError: division by zero" in text  # the traceback's last line
    assert lines[-1] == "Full report: grade-report/report.html"
    assert any("…" in l for l in lines)  # the long check name was truncated


def test_terminal_colour_rules(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = render_terminal(make_result(), color=True)
    assert ANSI.search(coloured)
    visible = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", coloured))
    assert all(len(line) <= 80 for line in visible.splitlines())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(render_terminal(make_result(), color=True))
    assert not ANSI.search(render_terminal(make_result()))


def test_terminal_strips_student_escapes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    result = make_result()
    result.exercises[1].title = "\x1b[2J evil title"
    assert "\x1b" not in render_terminal(result)


def test_terminal_shows_penalty():
    text = render_terminal(make_result(penalty=1.0), color=False)
    assert "Penalty" in text and "2.0/10.0" in text


# --- results.json ----------------------------------------------------------------------------


def test_gradescope_tests_tags_and_scores():
    data = to_gradescope(make_result())
    tests = data["tests"]
    assert len(tests) == 5
    assert len({t["name"] for t in tests}) == 5
    backward = next(t for t in tests if t["name"] == "network: NeuralNetwork.backward [backward]")
    assert backward["tags"][:2] == ["network", "backward"]
    assert (backward["score"], backward["max_score"], backward["status"]) == (1.0, 4.0, "failed")
    assert "NeuralNetwork.backward(x: (4, 7) float64" in backward["output"]
    assert "expected 1, got -1" in backward["output"] and "rtol=1e-07" in backward["output"]
    assert "opposite sign" in backward["output"]
    assert tests[0]["status"] == "passed"
    assert "score" not in data  # no penalty: Gradescope sums the tests
    assert data["extra_data"]["seed_kind"] == "practice"
    assert data["extra_data"]["protections"] == {"network blocked": True, "memory limit": False}
    assert data["execution_time"] == 3.25
    error = next(t for t in tests if t["tags"][1] == "forward" and t["tags"][0] == "network")
    assert "\x00" not in error["output"] and "\x1b" not in error["output"]


def test_gradescope_top_level_score_only_with_penalty(tmp_path):
    data = to_gradescope(make_result(penalty=1.0))
    assert data["score"] == 2.0
    assert data["score"] != sum(t["score"] for t in data["tests"])
    path = write_results_json(make_result(penalty=1.0), tmp_path / "results.json")
    assert json.loads(path.read_text(encoding="utf-8"))["score"] == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left behind


def test_gradescope_duplicate_names_made_unique():
    result = make_result()
    result.exercises[0].checks.append(CheckResult("layers", "relu_forward", "forward", 1.0, 1.0, "passed"))
    names = [t["name"] for t in to_gradescope(result)["tests"]]
    assert len(names) == len(set(names))


# --- JUnit -----------------------------------------------------------------------------------


def test_junit_parses_and_counts_match():
    result = make_result()
    result.exercises[0].checks.append(CheckResult("layers", "relu_forward", "forward", 1.0, 1.0, "passed"))
    xml = render_junit(result)
    root = ET.fromstring(xml.encode("utf-8"))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == 6
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == 2  # failed + not attempted
    assert int(suite.get("errors")) == len(suite.findall("testcase/error")) == 1
    assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped")) == 1
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(set(names)) == len(names)
    assert ("network", "NeuralNetwork.backward.backward") in names
    failure = suite.find("testcase[@name='NeuralNetwork.backward.backward']/failure")
    assert "opposite sign" in failure.text and failure.get("message")
    assert "\x00" not in xml and "\x1b" not in xml
    out = suite.find("testcase[@name='NeuralNetwork.forward.forward']/system-out")
    assert "<script>" in out.text  # escaped in the XML, plain once parsed


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_has_tables_and_hints():
    md = render_markdown(make_result())
    assert "| Check | Status | Points | Feedback |" in md
    assert "`relu_forward.forward`" in md
    assert "opposite sign" in md
    assert "\x00" not in md and "\x1b" not in md
    # student output is shown only inside a fenced block, where Markdown renders no HTML
    outside_fences = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", md)
    assert "<script>" in md and "<script>" not in outside_fences and "<b>" not in outside_fences
    assert "| [0, 3] | 1 | -1 | 2 |" in md
    assert "**3.0 / 10.0**" in md


# --- write_reports ---------------------------------------------------------------------------


def test_write_reports_writes_each_format(tmp_path):
    paths = write_reports(make_result(), tmp_path / "out", junit_path=tmp_path / "junit.xml")
    assert set(paths) == {"html", "json", "md", "junit"}
    assert paths["html"].name == "report.html" and paths["json"].name == "results.json"
    for path in paths.values():
        assert path.stat().st_size > 0
    ET.parse(paths["junit"])
    with pytest.raises(ValueError):
        write_reports(make_result(), tmp_path, formats=("pdf",))


def test_round_trip_through_dict_still_renders():
    # results.json producers may store to_dict(); reporters must accept from_dict() results.
    result = GradeResult.from_dict(make_result().to_dict())
    assert "[0, 3]" in render_html(result)
    assert render_junit(result) and render_markdown(result)


def test_submission_that_did_not_load_still_gets_every_report(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    result = GradeResult(submission="s", errors=["network.py line 3: SyntaxError: invalid syntax\n  def f(:"])
    result.exercises.append(ExerciseResult("layers", "Layers", checks=[
        CheckResult("layers", "relu", "forward", 0.0, 0.0, "skipped", stdout="bad \udcff surrogate")]))
    paths = write_reports(result, tmp_path, formats=("html", "json", "md", "junit"))
    assert "SyntaxError" in paths["html"].read_text(encoding="utf-8")
    assert "SyntaxError" in render_terminal(result)
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["tests"][0]["score"] == 0.0
    ET.parse(paths["junit"])


def test_html_without_matplotlib_skips_the_picture(monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    page = render_html(make_result())
    assert "data:image/png" not in page and "[0, 3]" in page


def test_numbers_and_headers_follow_the_language():
    """Babel's locale data: Spanish writes a decimal comma and "50 %"; report.md's table is all Spanish."""
    from grader import i18n
    from grader.report import fmt_num, fmt_percent, fmt_points
    from grader.report.markdown import render_markdown
    with i18n.using("en"):
        assert (fmt_points(2.5), fmt_num(1.25e-7), fmt_percent(0.5), fmt_percent(2 / 3, 1)) == (
            "2.5", "1.25e-07", "50%", "66.7%")
    with i18n.using("es"):
        assert (fmt_points(2.5), fmt_num(1.25e-7), fmt_percent(0.5), fmt_percent(2 / 3, 1)) == (
            "2,5", "1,25e-07", "50\xa0%", "66,7\xa0%")
        text = render_markdown(make_result())
    assert "| Comprobación | Estado | Puntos | Comentarios |" in text, text[:2000]
    assert "Feedback" not in text


def test_the_html_report_is_the_same_from_compiled_templates_kept_in_the_users_cache(tmp_path):
    """The second process reads the report's templates compiled by the first (jinja2's bytecode cache,
    in a folder named by the module that sets up the environment) and renders the same page."""
    import os
    import subprocess
    import sys
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from test_reports import make_result;"
              "from grader.report.html import render_html; print(render_html(make_result()))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    tests = os.path.dirname(__file__)
    pages = [subprocess.run([sys.executable, "-c", script, tests], env=env, capture_output=True, text=True,
                            check=True).stdout for _ in range(2)]
    kept = list((tmp_path / "nn-autograder" / "templates").glob("*/__jinja2_*.cache"))
    assert len(kept) == 2  # the report and its stylesheet
    assert pages[0] == pages[1] and "<html" in pages[0]
