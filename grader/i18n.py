"""Translations of everything a student reads: gettext catalogs, English built in.

Mark a message with `_()` where it is built, so it is translated into the language active then; a
table filled at import time marks its texts with `N_()` and translates them where they are used.
Catalogs are `grader/locale/<lang>/LC_MESSAGES/grader.po` (committed, edited by translators, see
docs/translating.md); the compiled `.mo` is a cache made with Babel the first time a language is
used, or again when the `.po` is newer. A read-only install without the cache compiles in memory.

The language is chosen by `grade --lang`, else the assignment's `language = "es"`, else the locale
(LANGUAGE, LC_ALL, LC_MESSAGES, LANG); importing this module never changes it (English).
"""
from __future__ import annotations

import contextlib
import functools
import gettext
import io
import os
from pathlib import Path

DOMAIN = "grader"
DEFAULT = "en"
LANGUAGES = ("en", "es")  # English is the source language: it needs no catalog
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENV_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order of precedence

_state = {"language": DEFAULT, "catalog": gettext.NullTranslations()}


def _(message: str) -> str:
    return _state["catalog"].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _state["catalog"].ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (tables built at import time)."""
    return message


def current_language() -> str:
    return _state["language"]


def normalize(language) -> str | None:
    """"es", "es_ES.UTF-8", "es-MX" -> "es"; None when the language has no catalog here."""
    if not language:
        return None
    code = str(language).strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def _known(language) -> str:
    code = normalize(language)
    if code is None:
        raise ValueError(_("unknown language {language!r}; available: {available}.").format(
            language=language, available=", ".join(LANGUAGES)))
    return code


def set_language(language: str) -> str:
    """Make `language` the one every later message is translated into; returns its code."""
    code = _known(language)
    _state["catalog"] = catalog(code)
    _state["language"] = code
    return code


@contextlib.contextmanager
def using(language: str):
    """Translate into `language` inside the block (rendering a stored result in its own language)."""
    saved = dict(_state)
    try:
        set_language(language)
        yield
    finally:
        _state.update(saved)


def locale_language(environ=None) -> str:
    """The language the environment asks for, as gettext reads it; English when none is available.

    The first variable that is set decides: LANGUAGE may list several ("fr:es"), the others name one
    locale ("es_ES.UTF-8"). "C" and "POSIX" mean English.
    """
    environ = os.environ if environ is None else environ
    for var in ENV_VARS:
        value = environ.get(var, "")
        if not value:
            continue
        for candidate in value.split(":"):
            code = normalize(candidate)
            if code:
                return code
        return DEFAULT
    return DEFAULT


def resolve_language(requested=None, assignment=None, environ=None) -> str:
    """--lang, else the assignment's `language`, else the locale. An unknown explicit choice is an
    error (a typo should not silently give English); an unknown locale is not."""
    for choice in (requested, assignment):
        if choice:
            return _known(choice)
    return locale_language(environ)


def catalog_paths(language: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


@functools.lru_cache(maxsize=None)
def catalog(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    po, mo = catalog_paths(language)
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    if not po.is_file():
        return gettext.NullTranslations()
    data = compile_po(po, language)
    tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    try:  # written whole, then renamed: a process reading it meanwhile never sees half a catalog
        tmp.write_bytes(data)
        os.replace(tmp, mo)
    except OSError:  # a read-only install keeps the compiled catalog in memory
        with contextlib.suppress(OSError):
            tmp.unlink()
    return gettext.GNUTranslations(io.BytesIO(data))


def compile_po(po: Path, language: str) -> bytes:
    """The .mo bytes of a .po catalog (Babel's compiler; fuzzy and empty entries are left out, so
    they fall back to English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        messages = read_po(f, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, messages)
    return buf.getvalue()
