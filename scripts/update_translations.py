#!/usr/bin/env python3
"""Extract every message a student reads, update the catalogs, and list what is not translated yet.

    python scripts/update_translations.py          # update grader/locale/messages.pot and every .po
    python scripts/update_translations.py --check  # change nothing; exit 1 if a message lacks a translation

Messages come from `_()`, `N_()` and `ngettext()` calls in grader/ and exercises/, `{{ _() }}` and
`ngettext()` in the Jinja2 templates, and the explanations of catalogued mistakes and conventions
(`Mistake(id, explanation, ...)`, `Convention(name, explanation)`) and titles (`Exercise(title=...)`)
of the built-in exercises, which are plain strings so that an exercise file stays plain data. Babel does the extraction, the merge and the .po writing; docs/translating.md
says how to translate.
"""
from __future__ import annotations

import argparse
import ast
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract, extract_python
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "grader" / "locale"
POT = LOCALE_DIR / "messages.pot"
DOMAIN = "grader"
TARGET_LANGUAGES = ("es",)  # languages with a catalog (English is the source)
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trim_blocks": "true",
                 "lstrip_blocks": "true"}


def extract_exercise(fileobj, keywords, comment_tags, options):
    """Babel extractor for exercise files: the usual `_()` calls plus the texts an exercise declares
    as plain strings (mistake explanations, exercise titles), which the grader translates when it
    shows them."""
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        field = {"Mistake": ("explanation", 1), "Convention": ("explanation", 1), "Exercise": ("title", 1)}.get(name)
        if field is None:
            continue
        keyword, position = field
        values = [k.value for k in node.keywords if k.arg == keyword]
        values += node.args[position:position + 1]
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value.lineno, "_", value.value, [f"{name}.{keyword}"]


def _jinja(fileobj, keywords, comment_tags, options):
    from jinja2.ext import babel_extract
    return babel_extract(fileobj, keywords, comment_tags, options)


# (glob under the repository root, extraction method, options)
SOURCES = (
    ("grader/**/*.py", "python", {}),
    ("exercises/*.py", extract_exercise, {}),
    ("templates/*.j2", _jinja, JINJA_OPTIONS),
)


def extract_messages(root: Path = ROOT) -> Catalog:
    """A template catalog of every message in the source tree, with the files it comes from."""
    template = Catalog(project="nn-autograder", domain=DOMAIN, fuzzy=False, msgid_bugs_address="",
                       header_comment="# Messages a student reads, extracted by scripts/update_translations.py.")
    for pattern, method, options in SOURCES:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            with path.open("rb") as f:
                for lineno, message, comments, context in extract(method, f, KEYWORDS, ("TRANSLATORS:",), options):
                    template.add(message, None, [(rel, lineno)], auto_comments=comments, context=context)
    return template


def untranslated(catalog: Catalog, template: Catalog) -> list:
    """Messages of `template` that `catalog` lacks, leaves empty, or marks fuzzy (needs review)."""
    missing = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (
            (entry.string,) if entry is not None else ("",))
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(message)
    return missing


def read_catalog(language: str) -> Catalog:
    po = po_path(language)
    if not po.is_file():  # a new language: its header, then `update` fills in the messages
        return Catalog(locale=language, domain=DOMAIN, project="nn-autograder", fuzzy=False, msgid_bugs_address="",
                       header_comment=f"# {language} translation of the feedback nn-autograder gives students.\n"
                                      "# Update with `python scripts/update_translations.py`; see docs/translating.md.")
    with po.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _render(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, sort_by_file=False, ignore_obsolete=True)
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write unless only the header dates would change, so a rerun leaves a clean diff."""
    def body(raw: bytes) -> list[bytes]:
        return [line for line in raw.splitlines() if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date'))]
    if path.is_file() and body(path.read_bytes()) == body(data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a message is untranslated")
    args = parser.parse_args(argv)

    template = extract_messages()
    print(f"{len(template)} messages in grader/, exercises/ and templates/")
    if not args.check and _write_if_changed(POT, _render(template)):
        print(f"updated {POT.relative_to(ROOT)}")
    status = 0
    for language in TARGET_LANGUAGES:
        catalog = read_catalog(language)
        if not args.check:
            catalog.update(template, update_header_comment=False)
            if _write_if_changed(po_path(language), _render(catalog)):
                print(f"updated {po_path(language).relative_to(ROOT)}")
        missing = untranslated(catalog, template)
        print(f"{language}: {len(template) - len(missing)} of {len(template)} translated")
        for message in missing:
            where = ", ".join(sorted({f for f, _ in message.locations}))
            text = message.id if isinstance(message.id, str) else message.id[0]
            print(f"  untranslated ({where}): {text[:100]!r}")
        status |= bool(missing)
    return status


if __name__ == "__main__":
    sys.exit(main())
