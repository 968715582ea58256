"""Feedback in English and Spanish: every output (terminal, report.html, report.md, JUnit, results.json)
of a real grading in each language, hints and mistake explanations translated when they are built,
the choice of language (--lang, the assignment, the locale), the catalogs themselves, and the check
that fails when a message in the source tree has no Spanish translation."""
from __future__ import annotations

import base64
import fnmatch
import importlib.util
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import FAST_LIMITS, make_submission, small_assignment

from grader import hints, i18n
from grader.cli import main
from grader.engine import grade
from grader.report.gradescope import to_gradescope
from grader.report.html import MAX_CASES, heatmap_data_uri, render_html
from grader.report.junit import render_junit
from grader.report.markdown import render_markdown
from grader.report.terminal import render_terminal, use_color
from grader.results import Comparison
from grader.sandbox.session import Limits
from grader.seeds import Seed

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|\{[^{}]*\}|%%")


def _load_script():
    spec = importlib.util.spec_from_file_location("update_translations", ROOT / "scripts" / "update_translations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


translations = _load_script()


@pytest.fixture(autouse=True)
def english_afterwards():
    """Whatever a test switches to (the CLI sets the language), the next test starts in English."""
    yield
    i18n.set_language("en")


# A wrong sigmoid backward (a catalogued mistake, a 2-D output), a transposed dW (a hint from
# grader/hints.py) and a cross-entropy gradient without 1/N (another catalogued mistake).
BUGS = {"layers.py": [
    ("s = sigmoid_forward(x)\n    return dout * s * (1 - s)", "return dout * x * (1 - x)"),
    ("return dout @ W.T, x.T @ dout, dout.sum(axis=0)", "return dout @ W.T, dout.T @ x, dout.sum(axis=0)"),
    ("return probs / len(y)", "return probs"),
]}
EXERCISES = {"elementwise": ("sigmoid",), "affine": ("linear", "cross_entropy")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """{language: GradeResult} of the same buggy submission, graded in each language."""
    folder = tmp_path_factory.mktemp("i18n")
    assignment = small_assignment(folder / "assignment", EXERCISES)
    submission = make_submission(folder / "submission", BUGS)
    results = {}
    for language in i18n.LANGUAGES:
        with i18n.using(language):
            results[language] = grade(submission, assignment, Seed(assignment.practice_seed, "practice"),
                                      limits=Limits(**FAST_LIMITS))
    return results


def spanish(english: str) -> str:
    text = i18n.catalog("es").gettext(english)
    assert text != english, f"no Spanish for {english!r}"
    return text


# What each output must say, in each language. The Spanish is spelled out here on purpose: these are
# the words a student reads.
SAYS = {
    "en": {"terminal": ["Grading report", "Fix first:", "Hint:", "failed", "Full report: out/report.html"],
           "html": ['<html lang="en">', "What to fix first", "Elements with the largest errors", "Where", "Hint"],
           "md": ["# Grading report", "## What to fix first", "**Hint:**", "| Check | Status | Points |"],
           "junit": ["cases passed", "Hint:", "Where:"],
           "json": ["cases passed", "Hint:"]},
    "es": {"terminal": ["Informe de corrección", "Corrige primero:", "Pista:", "fallida",
                        "Informe completo: out/report.html"],
           "html": ['<html lang="es">', "Qué corregir primero", "Elementos con los mayores errores", "Dónde", "Pista",
                    "Mapa de calor del error absoluto"],
           "md": ["# Informe de corrección", "## Qué corregir primero", "**Pista:**",
                  "| Comprobación | Estado | Puntos |"],
           "junit": ["Casos superados", "Pista:", "Dónde:"],
           "json": ["Casos superados", "Pista:"]},
}


def render(result, output: str) -> str:
    with i18n.using(result.language):  # reporters translate into the active language, as the CLI runs them
        if output == "terminal":
            return render_terminal(result, color=False, report_path="out/report.html")
        if output == "html":
            return render_html(result)
        if output == "md":
            return render_markdown(result)
        if output == "junit":
            root = ET.fromstring(render_junit(result))
            return "\n".join(f"{e.get('message')}\n{e.text}" for e in root.iter("failure"))
        return "\n".join(t.get("output", "") for t in to_gradescope(result)["tests"])


def untranslated_english(text: str) -> list[str]:
    """English sentences of the catalog that appear verbatim in a Spanish output."""
    catalog = i18n.catalog("es")
    found = []
    for message in translations.extract_messages():
        english = message.id if isinstance(message.id, str) else message.id[0]
        if len(english) >= 16 and not PLACEHOLDER.search(english) and catalog.gettext(english) != english:
            if english in text:
                found.append(english)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("output", ["terminal", "html", "md", "junit", "json"])
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_output_speaks_the_language(graded, language, output):
    result = graded[language]
    assert result.language == language
    text = render(result, output)
    for phrase in SAYS[language][output]:
        assert phrase in text, f"{output} ({language}) lacks {phrase!r}"
    other = SAYS["en" if language == "es" else "es"][output]
    assert not [p for p in other if p in text and p not in SAYS[language][output]], "the other language leaks in"
    if language == "es":
        assert untranslated_english(text) == []
        # Messages built while grading (comparison, case label, hint) are Spanish too.
        assert "elementos que no coinciden" in text and "caso 2" in text


@pytest.mark.slow
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_terminal_fits_80_columns_and_honours_no_color(graded, language, monkeypatch):
    result = graded[language]
    monkeypatch.delenv("NO_COLOR", raising=False)
    with i18n.using(language):
        coloured = render_terminal(result, color=True, report_path="out/report.html")
        plain = render_terminal(result, color=False, report_path="out/report.html")
        assert ANSI.search(coloured) and not ANSI.search(plain)
        assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain  # colour adds no columns
        assert all(len(line) <= 80 for line in plain.splitlines()), [l for l in plain.splitlines() if len(l) > 80]
        assert not ANSI.search(render_terminal(result))  # default: only on a terminal (pytest captures stdout)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not ANSI.search(render_terminal(result, color=True))


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Stream(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(None, Stream(True)) and not use_color(None, Stream(False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(None, Stream(True)) and not use_color(True, Stream(True))


@pytest.mark.slow
def test_mistake_explanations_and_hints_are_translated(graded):
    by_language = {}
    for language, result in graded.items():
        by_language[language] = {c.name: c.hint for c in result.checks() if c.hint}
    en, es = by_language["en"], by_language["es"]
    assert set(en) == set(es) and {"sigmoid_backward.backward", "linear_backward.backward",
                                    "softmax_cross_entropy_backward.backward"} <= set(en)
    for name, hint in en.items():
        assert es[name].code == hint.code
        if hint.code.startswith("mistake:"):  # the exercise's own explanation, looked up when shown
            assert es[name].text == spanish(hint.text)
    assert en["linear_backward.backward"].code == "transposed"  # grader/hints.py
    assert "traspuesta" in es["linear_backward.backward"].text


def test_hints_use_the_language_active_when_they_are_built():
    expected = np.arange(12.0).reshape(3, 4)
    texts = {}
    for language in ("en", "es", "en"):
        with i18n.using(language):
            texts.setdefault(language, set()).add(hints.diagnose(expected.T, expected).text)
    assert texts == {"en": {hints.HINTS["transposed"][1]}, "es": {spanish(hints.HINTS["transposed"][1])}}


@pytest.mark.slow
def test_heat_map_shows_where_a_wrong_2d_output_is_wrong(graded):
    """The real failing case of a 2-D output gets a heat map in the report; and the picture is a map:
    moving the wrong element moves the bright spot."""
    check = next(c for c in graded["es"].checks() if c.name == "sigmoid_backward.backward")
    two_d = [c for c in check.failed_cases() if c.comparison.error_map is not None]
    assert two_d and all(min(c.comparison.actual_shape) > 1 for c in two_d)
    shown = [c for ch in graded["es"].checks() for c in ch.failed_cases()[:MAX_CASES]
             if c.comparison and c.comparison.error_map is not None]
    assert render(graded["es"], "html").count('<img class="heatmap" src="data:image/png;base64,') == len(shown)

    def bright_spot(row, col):
        error = np.zeros((6, 9))
        error[row, col] = 5.0
        uri = heatmap_data_uri(Comparison(False, "values", "", worst_index=(row, col), error_map=error))
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        yellow = (pixels[..., 0] > 0.9) & (pixels[..., 1] > 0.8) & (pixels[..., 2] < 0.3)  # viridis' top
        ys, xs = np.nonzero(yellow[:, : int(pixels.shape[1] * 0.75)])  # the map, not the colour bar
        return ys.mean(), xs.mean()

    top_left, right, down = bright_spot(1, 1), bright_spot(1, 7), bright_spot(4, 1)
    assert right[1] > top_left[1] + 20 and abs(right[0] - top_left[0]) < 5
    assert down[0] > top_left[0] + 20 and abs(down[1] - top_left[1]) < 5


# --- choosing the language ---------------------------------------------------------------------------


def test_language_comes_from_the_flag_then_the_assignment_then_the_locale():
    assert i18n.resolve_language("es", "en", {"LANG": "en_US.UTF-8"}) == "es"
    assert i18n.resolve_language(None, "es", {"LANG": "en_US.UTF-8"}) == "es"
    assert i18n.resolve_language(None, None, {"LANG": "es_ES.UTF-8"}) == "es"
    assert i18n.resolve_language(None, None, {"LC_ALL": "es_MX.UTF-8", "LANG": "en_US"}) == "es"
    assert i18n.resolve_language(None, None, {"LANGUAGE": "fr:es", "LANG": "en_US"}) == "es"  # a list
    assert i18n.resolve_language(None, None, {"LANG": "C.UTF-8"}) == "en"
    assert i18n.resolve_language(None, None, {"LANG": "fr_FR.UTF-8"}) == "en"  # no French: English
    assert i18n.resolve_language(None, None, {}) == "en"
    with pytest.raises(ValueError, match="fr"):
        i18n.resolve_language(None, "fr", {})  # a typo in the assignment is an error, not silent English


@pytest.fixture
def one_check(tmp_path):
    """A one-function assignment (fast to grade) and a submission that fails it."""
    assignment = small_assignment(tmp_path / "assignment", {"step": ("sgd",)})
    submission = make_submission(tmp_path / "sub", {"layers.py": [("param -= lr * grad", "param += lr * grad")]})
    return assignment.path, submission


def run_cli(tmp_path, assignment, submission, *args, env=None):
    """`grade` in a C locale with NO_COLOR, unless `env` says otherwise."""
    environ = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "NO_COLOR": "1",
               **(env or {})}
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(submission), "--assignment", str(assignment), "--out", str(out), *args],
                                env=environ, catch_exceptions=False)
    return result, out


@pytest.mark.slow
@pytest.mark.parametrize("how, args, env, language, expected", [
    ("--lang es", ["--lang", "es"], None, None, "es"),
    ("assignment", [], None, "es", "es"),
    ("locale", [], {"LANG": "es_ES.UTF-8"}, None, "es"),
    ("--lang beats the assignment", ["--lang", "en"], None, "es", "en"),
])
def test_cli_chooses_the_language(tmp_path, one_check, how, args, env, language, expected):
    assignment, submission = one_check
    if language:  # the assignment file sets `language`; its exercise file sits beside it
        assignment.write_text(f'language = "{language}"\n' + assignment.read_text())
    result, out = run_cli(tmp_path, assignment, submission, *args, env=env)
    assert result.exit_code == 0, result.output
    words = {"en": ("Grading report", "Fix first:"), "es": ("Informe de corrección", "Corrige primero:")}[expected]
    assert all(w in result.output for w in words), result.output
    assert f'<html lang="{expected}">' in (out / "report.html").read_text()
    results = json.loads((out / "results.json").read_text())
    spanish = ("Casos superados", "solo da puntos")  # a failed check; one that waits for the failed update
    assert results["tests"] and all(any(w in t["output"] for w in spanish) == (expected == "es")
                                    for t in results["tests"] if t["score"] < t["max_score"])
    assert not ANSI.search(result.output)  # NO_COLOR


@pytest.mark.slow
def test_cli_refuses_an_unknown_language(tmp_path, one_check):
    assignment, submission = one_check
    assignment.write_text('language = "klingon"\n' + assignment.read_text())
    result, _ = run_cli(tmp_path, assignment, submission)
    assert result.exit_code == 2 and "klingon" in result.output
    assert CliRunner().invoke(main, [str(submission), "--lang", "fr"]).exit_code == 2


# --- the catalogs ------------------------------------------------------------------------------------


def test_every_message_has_a_spanish_translation():
    template = translations.extract_messages()
    assert len(template) > 100  # the extraction found the source tree
    missing = translations.untranslated(translations.read_catalog("es"), template)
    listed = "\n".join(f"  {sorted({f for f, _ in m.locations})}: {m.id!r}" for m in missing)
    assert not missing, (f"{len(missing)} message(s) without a Spanish translation. Run "
                         f"`python scripts/update_translations.py` and translate them in "
                         f"grader/locale/es/LC_MESSAGES/grader.po (docs/translating.md):\n{listed}")


def test_missing_translation_check_catches_new_messages(tmp_path):
    """The check above fails for a message added anywhere a student can read one: Python code, a
    template, an exercise's mistake explanation; and for a translation marked fuzzy (unreviewed)."""
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "new.py").write_text('from grader.i18n import _\nMESSAGE = _("A message nobody translated")\n')
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html.j2").write_text('<p>{{ _("Another new message") }}</p>\n')
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "new.py").write_text(
        'from grader.spec import Exercise, Mistake\n'
        'M = Mistake("new", "A new " "explanation", lambda x: x)\n'
        'EXERCISE = Exercise(id="new", title="Passed", units=())\n')
    template = translations.extract_messages(tmp_path)
    assert {m.id for m in template if m.id} == {"A message nobody translated", "Another new message", "A new explanation",
                                        "Passed"}
    catalog = translations.read_catalog("es")
    missing = {m.id for m in translations.untranslated(catalog, template)}
    assert missing == {"A message nobody translated", "Another new message", "A new explanation"}
    catalog["Passed"].flags.add("fuzzy")
    assert "Passed" in {m.id for m in translations.untranslated(catalog, template)}


def test_translations_keep_every_placeholder():
    """A translation must use exactly the msgid's {fields} and %(names)s, or formatting it would fail."""
    bad = []
    for message in translations.read_catalog("es"):
        if not message.id or not message.string or message.fuzzy:  # fuzzy ones are not used
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(ids[-1])):
                bad.append((ids[-1], text))
    assert not bad


def test_catalog_is_compiled_on_first_use_and_again_when_the_po_changes(tmp_path, monkeypatch):
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "grader.po"

    def write_po(hello, fuzzy_bye):
        po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                      f'msgid "Hello"\nmsgstr "{hello}"\n\n'
                      + ("#, fuzzy\n" if fuzzy_bye else "") + 'msgid "Bye"\nmsgstr "Adiós"\n', encoding="utf-8")

    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        write_po("Hola", fuzzy_bye=True)
        first = i18n.catalog("es")
        assert first.gettext("Hello") == "Hola" and first.gettext("Bye") == "Bye"  # fuzzy: English
        assert (folder / "grader.mo").is_file()
        write_po("Buenas", fuzzy_bye=False)
        os.utime(po, (po.stat().st_mtime + 10,) * 2)
        i18n.catalog.cache_clear()
        second = i18n.catalog("es")
        assert second.gettext("Hello") == "Buenas" and second.gettext("Bye") == "Adiós"
    finally:
        i18n.catalog.cache_clear()


def test_catalogs_ship_in_the_package():
    """The .po files are package data, so an installed (non-editable) grader translates too."""
    import tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["grader"]
    for language in i18n.LANGUAGES[1:]:
        po, _ = i18n.catalog_paths(language)
        assert po.is_file()
        assert any(fnmatch.fnmatch(po.relative_to(ROOT / "grader").as_posix(), pattern) for pattern in data)
