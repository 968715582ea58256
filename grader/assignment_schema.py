"""The assignment file's schema (JSON Schema, draft 7) and the plain messages for what breaks it.

Two parts. The static schema knows every section and key the grader reads, with its type and a
description (docs/instructors.md's reference is generated from it: scripts/assignment_reference.py).
The exercise schema knows what only the exercises know: the check kinds of each exercise ([points],
[visibility]), the functions it grades ([names]) and the options it declares (momentum_convention):
it is built from the loaded exercise files, so a new exercise or check kind is known without an edit
here. Exercise files are loaded only when grading needs them, so the exercise schema is checked as
they load (grader/assignment.py).

A valid file is checked by fastjsonschema (compiled, a few milliseconds: every command loads the
assignment); an invalid one is explained by jsonschema, which lists every error with its place.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import marshal
import sys
from datetime import date, datetime, time
from typing import Any

from . import cache
from .i18n import LANGUAGES, _
from .layout import LAYOUTS

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's four
NOTEBOOK_MODES = ("defs", "tagged", "all")
DATASETS = ("digits", "mnist", "cifar10")
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

NUMBER = {"type": "number"}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}
COUNT = {"type": "integer", "minimum": 1}
TEXT = {"type": "string"}
FLAG = {"type": "boolean"}


def _described(schema: dict, text: str, **extra) -> dict:
    return {**schema, "description": text, **extra}


# [limits]: the sandbox's Limits fields (grader/sandbox/session.py), plus memory_mb and disk_mb for the bytes.
LIMIT_TEXTS = {
    "cpu_s_per_call": "CPU seconds one call of a student's function may use",
    "wall_s_per_call": "wall-clock seconds one call may take; default: 3 x cpu_s_per_call + 5",
    "import_cpu_s": "CPU seconds for importing the submission",
    "memory_mb": "memory of the student's process, in MiB",
    "memory_bytes": "memory of the student's process, in bytes; memory_mb is easier to read",
    "output_bytes": "bytes of printed output kept per call; the rest is counted and dropped",
    "total_cpu_s": "CPU seconds for the whole submission",
    "max_elements": "array elements a call may return",
    "file_size_bytes": "largest file the student's code may write",
    "open_files": "files the student's code may hold open",
    "extra_processes": "processes the student's code may start",
    "disk_mb": "MiB of disk (a private tmpfs) for the student's working copy and /tmp",
    "disk_bytes": "bytes of disk (a private tmpfs) for the working copy and /tmp; disk_mb is easier to read",
}

TRAINING_TEXTS = {
    "dataset": ("data set: digits (bundled), mnist or cifar10 (from data_dir)", {"enum": list(DATASETS)}),
    "data_dir": ("folder holding MNIST or CIFAR-10; nothing is downloaded", TEXT),
    "hidden": ("hidden units of the network trained", COUNT),
    "learning_rate": ("learning rate of the training run", POSITIVE),
    "full_batch_steps": ("full-batch gradient steps", COUNT),
    "batch_size": ("minibatch size", COUNT),
    "minibatch_steps": ("minibatch steps", COUNT),
    "train_size": ("training examples used; default: all", COUNT),
    "test_size": ("test examples used; default: all", COUNT),
    "accuracy_margin": ("the student's test accuracy must reach the reference's minus this", NUMBER),
    "divergence_factor": ("a loss this many times the reference's is divergence", POSITIVE),
    "every": ("full-batch steps per call into the student's process", COUNT),
    "tolerance": ("per dtype, [rtol, atol] of the loss and weights: {float32 = [1e-4, 1e-5]}",
                  {"type": "object", "additionalProperties": False, "properties": {
                      d: {"type": "array", "items": POSITIVE, "minItems": 2, "maxItems": 2}
                      for d in ("float32", "float64")}}),
}

SCIPY_TEXTS = {
    "blocks": ("the parameter blocks, in the order the flat vector holds them", {"type": "array", "items": TEXT}),
    "order": ("the flat vector's reshape order", {"enum": ["C", "F"]}),
    "hidden": ("hidden units", COUNT),
    "lambda_": ("L2 regularization strength", {"type": "number", "minimum": 0}),
    "max_iterations": ("L-BFGS-B iterations of the training run", COUNT),
    "min_accuracy": ("test accuracy the trained network must reach", {"type": "number", "minimum": 0, "maximum": 1}),
}

TIMING_TEXTS = {
    "threads": ("BLAS threads of both sides; default: the sandbox's", COUNT),
    "steps": ("training steps timed", COUNT),
    "runs": ("timed runs per backend", COUNT),
    "warmup": ("untimed runs first", {"type": "integer", "minimum": 0}),
    "devices": ("PyTorch devices timed", {"type": "array", "items": {"enum": ["cpu", "cuda"]}}),
    "time_budget_s": ("seconds the timing may take", POSITIVE),
    "sweep": ("also time PyTorch over widths and batch sizes", FLAG),
    "widths": ("hidden widths of the sweep", {"type": "array", "items": COUNT}),
    "batches": ("batch sizes of the sweep", {"type": "array", "items": COUNT}),
    "base_width": ("the sweep's width while batch sizes vary", COUNT),
    "base_batch": ("the sweep's batch size while widths vary", COUNT),
    "budget_s": ("seconds the sweep may take", POSITIVE),
}


def _table(texts: dict[str, tuple[str, dict]], description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": {k: _described(schema, text) for k, (text, schema) in texts.items()}}


def _limits() -> dict:
    from .sandbox.session import Limits
    properties = {}
    for f in dataclasses.fields(Limits):
        kind = {"int": "integer"}.get(str(f.type).split(" |")[0], "number")
        properties[f.name] = _described({"type": kind, "exclusiveMinimum": 0}, LIMIT_TEXTS.get(f.name, f.name))
    for name in ("memory_mb", "disk_mb"):
        properties[name] = _described({"type": "number", "exclusiveMinimum": 0}, LIMIT_TEXTS[name])
    return {"type": "object", "description": "the sandbox's limits for the student's code", "properties": properties,
            "additionalProperties": False}


def _tolerance_table(description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": {k: _described(POSITIVE, f"multiplies the default {k} of the student's dtype")
                           for k in ("rtol", "atol")}}


@functools.cache
def static_schema() -> dict:
    """Every section and key the grader itself reads. Keys an exercise declares are added by exercise_schema."""
    late = {
        "due": ("due date and time, e.g. 2025-02-02T23:59:00Z; a bare date is the end of that day",
                TEXT),
        "grace_minutes": ("minutes after `due` still on time", {"type": "number", "minimum": 0}),
        "percent_per_day": ("percent of the points lost per started day late", {"type": "number", "minimum": 0}),
        "max_percent": ("most percent lost to lateness", {"type": "number", "minimum": 0, "maximum": 100}),
        "max_days": ("days late after which nothing is accepted", {"type": "number", "minimum": 0}),
        "of": ("the percent is of the points `earned` or of the `total`", {"enum": ["earned", "total"]}),
        "extensions": ("per submission: extra days (a number) or its own due date",
                       {"type": "object", "additionalProperties": {"type": ["number", "string"]}}),
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "nn-autograder assignment file",
        "type": "object",
        "required": ["exercises"],
        "properties": {
            "title": _described(TEXT, "title shown in reports and the gradebook; default: the file's name"),
            "grader_version": _described({"type": "string", "pattern": r"^\d+(\.\d+)*"},
                                         "grader version the file was written for; an older grader warns"),
            "exercises": _described({"type": "array", "minItems": 1, "uniqueItems": True, "items": TEXT},
                                    "exercises graded, in the report's order: built-in ids (`grade list`) and "
                                    "your own (an [exercise.<id>] table)"),
            "practice_seed": _described({"type": "integer", "minimum": 0},
                                        "the public seed, default 0: students reproduce these cases"),
            "language": _described({"enum": list(LANGUAGES)}, "language of the feedback; default: the locale"),
            "layout": _described({"enum": list(LAYOUTS)}, "`features_first`: X is (D, N), W is (H, D), b is (H, 1), "
                                 "as in the deeplearning.ai courses"),
            "notebook_mode": _described({"enum": list(NOTEBOOK_MODES)},
                                        "notebooks: grade definitions only, cells tagged `notebook_tag`, or all cells"),
            "notebook_tag": _described(TEXT, "the cell tag of notebook_mode = \"tagged\"; default `grade`"),
            "allow_torch": _described(FLAG, "notebooks may import torch (their cells run with it available)"),
            "allow_modules": _described({"type": "array", "items": TEXT},
                                        "modules students may import beyond NumPy, SciPy and matplotlib"),
            "dataset": _described({"enum": list(DATASETS)}, "data set of the training check and the timing"),
            "data_dir": _described(TEXT, "folder holding MNIST (MNIST/raw/) or CIFAR-10; nothing is downloaded"),
            "plots": _described(FLAG, "draw the training curves in the report"),
            "timing": {**_table(TIMING_TEXTS, "time the training workload: true, or a table of settings"),
                       "type": ["boolean", "object"]},
            "exercise": {"type": "object", "description": "your own exercises: [exercise.<id>] file = \"x.py\"",
                         "additionalProperties": {
                             "type": "object", "additionalProperties": False, "required": ["file"],
                             "properties": {"file": _described(TEXT, "the exercise file, relative to the "
                                                                     "assignment file")}}},
            "limits": _limits(),
            "names": {"type": "object", "description": "`relu_forward = \"rectify\"`: the name your course uses "
                                                       "for a graded function",
                      "additionalProperties": {"type": "string", "pattern": IDENTIFIER}},
            "points": {"type": "object", "description": "`forward = 3`: the points of a check kind in that "
                                                        "exercise (`grade list` shows them)",
                       "additionalProperties": {"type": "object", "additionalProperties": {
                           "type": "number", "minimum": 0}}},
            "visibility": {"type": "object", "description": "`gradcheck = \"hidden\"`: what Gradescope shows of a "
                                                            "check kind, and when",
                           "additionalProperties": {"type": "object", "additionalProperties": {
                               "enum": list(VISIBILITIES)}}},
            "tolerances": {**_tolerance_table("multipliers of the default tolerance of the student's dtype; "
                                              "[tolerances.<id>] for one exercise"),
                           "additionalProperties": _tolerance_table(
                               "besides rtol and atol, only [tolerances.<id>] tables: one exercise's multipliers")},
            "training": _table(TRAINING_TEXTS, "the training check of the network exercise"),
            "scipy_network": _table(SCIPY_TEXTS, "the SciPy-optimized network exercise"),
            "late": {**_table(late, "late work, applied by `grade batch`"), "required": ["due"]},
        },
        "additionalProperties": True,  # keys an exercise declares: exercise_schema says which
    }


def exercise_schema(exercises: dict[str, Any], complete: bool) -> dict:
    """What the loaded exercises add: each one's check kinds ([points.<id>], [visibility.<id>]); with
    `complete` (every exercise of the assignment loaded), the graded function names ([names]) and the
    options exercises declare, and nothing else at the top level."""
    kinds = {i: sorted({k for u in e.units for k in (*u.checks, *(
        k for table in getattr(u, "optional_checks", {}).values() for k in table))} | set(e.visibility))
        for i, e in exercises.items()}
    per_kind = lambda value: {"type": "object", "properties": {  # noqa: E731 (one expression, used twice)
        i: {"type": "object", "additionalProperties": False, "properties": {k: value for k in kinds[i]}}
        for i in exercises}}
    schema: dict = {"type": "object", "properties": {
        "points": per_kind({"type": "number", "minimum": 0}), "visibility": per_kind({"enum": list(VISIBILITIES)})}}
    if complete:
        options = {}
        for exercise in exercises.values():
            for unit in exercise.units:
                if getattr(unit, "convention_option", ""):
                    options[unit.convention_option] = _described(
                        {"enum": [c.name for c in unit.conventions]}, f"the formula {unit.name} is graded with")
        names = sorted({n for e in exercises.values() for n in e.required_names()})
        schema["properties"].update(options)
        schema["properties"]["names"] = {"type": "object", "additionalProperties": False,
                                         "properties": {n: {"type": "string"} for n in names}}
        schema["additionalProperties"] = False
        schema["properties"].update({k: {} for k in static_schema()["properties"] if k not in schema["properties"]})
    return schema


def _jsonable(value: Any) -> Any:
    """TOML's values as JSON's: a date or time becomes its ISO 8601 text (late.py reads both)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


@functools.cache
def _compiled(schema_json: str):
    """fastjsonschema's validator of a schema. Generating and compiling it takes a tenth of a second per
    schema, on every command, so its bytecode is kept in the user's cache (grader/cache.py) under a hash of
    the schema and of the versions that made it."""
    import fastjsonschema
    key = hashlib.sha256(f"{sys.version} {fastjsonschema.VERSION}\n{schema_json}".encode()).hexdigest()[:40]
    path = cache.cache_dir("schemas", f"{key}.marshal")
    data = cache.read(path)
    try:
        code = marshal.loads(data) if data else None
    except (EOFError, ValueError, TypeError):
        code = None
    if code is None:
        source = fastjsonschema.compile_to_code(json.loads(schema_json), use_default=False)
        code = compile(source, f"<validator of schema {key[:12]}>", "exec")
        cache.write(path, marshal.dumps(code))
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - fastjsonschema's own generated validator
    return namespace["validate"]


def problems(data: dict, schema: dict) -> list[tuple[list, str, dict, Any, Any]]:
    """Every violation: (path, validator, sub-schema, validator value, instance); [] when valid."""
    import fastjsonschema
    if not schema:
        return []
    value = _jsonable(data)
    try:
        _compiled(json.dumps(schema, sort_keys=True))(value)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    import jsonschema
    validator = jsonschema.Draft7Validator(schema)
    found = []
    for error in validator.iter_errors(value):
        for leaf in _leaves(error):
            found.append((list(leaf.absolute_path), leaf.validator, leaf.schema, leaf.validator_value, leaf.instance))
    return sorted(found, key=lambda p: [str(x) for x in p[0]])


def _leaves(error):
    """anyOf/oneOf errors: the alternative that got furthest, else the error itself."""
    if error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return [deepest]
    return [error]


def closest(word: str, candidates) -> str | None:
    found = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return found[0] if found else None


def show(value: Any) -> str:
    """A value as it is written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, default=str)


def place(path: list) -> tuple[str, str | None]:
    """("[points.layers]", "forward") for ["points", "layers", "forward"]; top-level keys have no table."""
    keys = [str(p) for p in path if not isinstance(p, int)]
    if not keys:
        return "", None
    if len(keys) == 1:
        return "", keys[0]
    return "[" + ".".join(keys[:-1]) + "]", keys[-1]


def expected_text(schema: dict) -> str:
    """What a key takes, in words, for messages and the reference."""
    if "enum" in schema:
        return _("one of {choices}").format(choices=", ".join(show(c) for c in schema["enum"]))
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    words = {"integer": _("a whole number"), "number": _("a number"), "string": _("text in quotes"),
             "boolean": _("true or false"), "array": _("a list"), "object": _("a table")}
    text = _(" or ").join(words[k] for k in kinds if k in words) or _("a table")
    if kinds == ["array"] and "items" in schema:
        text = _("a list ({items})").format(items=expected_text(schema["items"]))
    if "exclusiveMinimum" in schema:
        text += " " + _("above {n}").format(n=schema["exclusiveMinimum"])
    elif "minimum" in schema and "maximum" in schema:
        text += " " + _("from {low} to {high}").format(low=schema["minimum"], high=schema["maximum"])
    elif "minimum" in schema:
        text += " " + _("of at least {n}").format(n=schema["minimum"])
    return text


def message(path: list, validator: str, schema: dict, expected: Any, instance: Any) -> str:
    """One plain sentence (without the file name) for one violation."""
    table, key = place(path)
    where = f"{table} {key}".strip() if key else table or _("the top level")
    if validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        unknown = sorted(set(instance) - set(known)) if isinstance(instance, dict) else []
        inside = ("[" + ".".join(str(p) for p in path) + "]") if path else _("the top level")
        lines = []
        for word in unknown:
            suggestion = closest(word, known)
            if suggestion:
                lines.append(_("unknown key `{key}` in {table}; did you mean `{suggestion}`?").format(
                    key=word, table=inside, suggestion=suggestion))
            else:
                lines.append(_("unknown key `{key}` in {table}; known keys: {known}.").format(
                    key=word, table=inside, known=", ".join(known) or _("none")))
        return "\n".join(lines)
    if validator == "required":
        inside = ("[" + ".".join(str(p) for p in path) + "]") if path else _("the file")
        return _("{table} needs `{key}`.").format(table=inside, key=", ".join(
            k for k in expected if not isinstance(instance, dict) or k not in instance))
    if validator in ("minItems", "uniqueItems", "maxItems", "pattern"):
        return {"minItems": _("{where} = {value}: give at least {n}."),
                "maxItems": _("{where} = {value}: give at most {n}."),
                "uniqueItems": _("{where} = {value}: an item appears twice."),
                "pattern": _("{where} = {value}: not a valid name or version.")}[validator].format(
            where=where, value=show(instance), n=expected)
    if validator == "enum" and isinstance(instance, str) and closest(instance, expected):
        return _("{where} = {value}: expected {expected}; did you mean {suggestion}?").format(
            where=where, value=show(instance), expected=expected_text(schema),
            suggestion=show(closest(instance, expected)))
    if schema.get("description") and validator != "enum":
        return _("{where} = {value}: expected {expected} ({meaning}).").format(
            where=where, value=show(instance), expected=expected_text(schema), meaning=schema["description"])
    return _("{where} = {value}: expected {expected}.").format(where=where, value=show(instance),
                                                             expected=expected_text(schema))


REFERENCE_START = "<!-- assignment-reference: generated by scripts/assignment_reference.py from grader/assignment_schema.py -->"
REFERENCE_END = "<!-- end of the assignment reference -->"


def reference_rows(schema: dict | None = None, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key as written, what it takes, what it does) for every key of the schema, tables flattened."""
    schema = schema or static_schema()
    rows = []
    for key, sub in schema.get("properties", {}).items():
        types = sub.get("type")
        is_table = types == "object" or (isinstance(types, list) and "object" in types and "properties" in sub)
        name = f"[{prefix}] {key}" if prefix else key
        if not is_table or prefix or (isinstance(types, list) and "boolean" in types):
            rows.append((name, expected_text(sub), sub.get("description", "")))
        if is_table and not prefix:
            table = f"{prefix}.{key}" if prefix else key
            rows.extend(reference_rows(sub, table))
            extra = sub.get("additionalProperties")
            if isinstance(extra, dict):
                placeholder = {"exercise": "<id>", "points": "<id>", "visibility": "<id>", "tolerances": "<id>",
                               "names": "<function>", "extensions": "<submission>"}.get(key, "<key>")
                if extra.get("type") == "object" and "additionalProperties" in extra and "properties" not in extra:
                    inner = extra["additionalProperties"]
                    rows.append((f"[{table}.{placeholder}] <check kind>", expected_text(inner), sub.get("description", "")))
                elif extra.get("type") == "object":
                    rows.extend(reference_rows(extra, f"{table}.{placeholder}"))
                else:
                    rows.append((f"[{table}] {placeholder}", expected_text(extra), sub.get("description", "")))
    return rows


def reference_markdown() -> str:
    """docs/instructors.md's table of every key, between REFERENCE_START and REFERENCE_END."""
    lines = ["| key | takes | what |", "| --- | --- | --- |"]
    lines += [f"| `{k}` | {t} | {d} |".replace(" |  |", " | |") for k, t, d in reference_rows()]
    return "\n".join([REFERENCE_START, "", *lines, "", REFERENCE_END])
