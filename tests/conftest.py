from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FAST_LIMITS

from grader.assignment import load_assignment
from grader.sandbox.session import Limits
from grader.seeds import Seed


@pytest.fixture(scope="session")
def assignment():
    return load_assignment()


@pytest.fixture
def grade_it(assignment):
    """Grade a path with the practice seed and short limits; returns the GradeResult."""
    from grader.engine import grade

    def run(path, exercises=None, limits=None, seed=None, spec=None):
        return grade(Path(path), spec or assignment, seed or Seed(assignment.practice_seed, "practice"),
                     exercise_ids=exercises, limits=Limits(**{**FAST_LIMITS, **(limits or {})}))
    return run


@pytest.fixture(scope="module", params=["fresh interpreter", "zygote"])
def student_processes(request):
    """A module's tests twice: student processes started as a fresh interpreter, then forked from a batch
    worker's zygote (grader/sandbox/launch.py), which must make no difference to any of them."""
    from grader.sandbox import launch
    from grader.sandbox.session import child_environment

    if request.param == "fresh interpreter":
        yield request.param
        return
    zygotes = launch.keep_zygotes(child_environment("", ""))
    try:
        yield request.param
        assert sum(z.spawned for z in zygotes.values()) > 0, "no student process of this module came from a zygote"
    finally:
        launch.stop_zygotes()
