"""The child sees an allow-list of the machine, its own IPC namespace and disk, and cannot make
namespaces or mounts of its own (docs/security.md). Each attack is in tests/hostile/look_around.py."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import random
import shutil
import sys
from pathlib import Path

import pytest

import grader
from grader.engine import limits_from
from grader.policy import FrameworkPolicy
from grader.sandbox.session import Isolation, Limits, Sandbox

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="namespaces are Linux's"),
              pytest.mark.usefixtures("student_processes")]  # every test with each way of starting the child

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(cpu_s_per_call=5, wall_s_per_call=20, import_cpu_s=5, total_cpu_s=60, memory_bytes=2**30)
OFF = Isolation(unprivileged_user=False, network=True, hide_files=False, cgroup=False)


def look_around(tmp_path: Path, **attack) -> Path:
    sub = tmp_path / "sub"
    sub.mkdir(parents=True)
    shutil.copy(HOSTILE / "look_around.py", sub / "look_around.py")
    (sub / "attack.json").write_text(json.dumps({"paths": [], **attack}))
    return sub


def need(sb: Sandbox, protection: str) -> None:
    sb.start()  # the protections are known once the child runs
    if not sb.protections.get(protection):
        pytest.skip(f"{protection} is not available here (docs/security.md)")


def test_nothing_outside_the_allow_list_is_visible(tmp_path):
    course = tmp_path / "instructor" / "course"  # world-readable, as an instructor's checkout often is
    course.mkdir(parents=True)
    (course / "solution.py").write_text("MODEL SOLUTION\n")
    for folder in (course, *list(course.parents)[:4]):
        folder.chmod(0o755)
    torch_dir = Path(importlib.util.find_spec("torch").origin).parent
    grader_dir = Path(grader.__file__).parent
    paths = [str(course / "solution.py"), str(torch_dir / "__init__.py"), str(grader_dir / "engine.py"), "/home",
             "/work", "/etc/shadow", "/etc/passwd", "/usr/bin", "/root"]
    sub = look_around(tmp_path, paths=paths, modules=["torch", "sklearn", "scipy.special", "matplotlib.pyplot"])
    with Sandbox(sub, ["look_around"], LIMITS, policy=FrameworkPolicy()) as sb:
        need(sb, "allow_list_view")
        seen = sb.call("read_paths").value
        imported = sb.call("imports").value
        backend = sb.call("plot").value
    assert all(seen[p].startswith("error") for p in paths[:3] + ["/home", "/etc/shadow", "/usr/bin"]), seen
    users = [line.split(":")[0] for line in seen["/etc/passwd"][len("read: "):].splitlines()]
    assert set(users) <= {"root", "nobody", "student"}
    for folder in ("/work", "/root"):  # only the empty folders on the way to the interpreter, if any
        if seen[folder].startswith("listed"):
            assert "main" not in seen[folder] and "wt-sandbox" not in seen[folder] and ".ssh" not in seen[folder]
    assert imported["scipy.special"] == imported["matplotlib.pyplot"] == "imported" and backend.lower() == "agg"
    assert imported["torch"].startswith("ModuleNotFoundError") and imported["sklearn"].startswith("ModuleNotFound")


def test_an_allowed_framework_is_in_the_view(tmp_path):
    sub = look_around(tmp_path, modules=["torch"])
    torch_limits = dataclasses.replace(LIMITS, import_cpu_s=30, cpu_s_per_call=30, wall_s_per_call=90,
                                       memory_bytes=4 * 2**30)
    with Sandbox(sub, ["look_around"], torch_limits,
                 policy=FrameworkPolicy(allowed=["torch"])) as sb:
        need(sb, "allow_list_view")
        assert sb.call("imports").value == {"torch": "imported"}


def test_writing_more_than_the_disk_size_fails_for_the_student_only(tmp_path):
    sub = look_around(tmp_path)
    with Sandbox(sub, ["look_around"], dataclasses.replace(LIMITS, disk_bytes=8 * 2**20)) as sb:
        need(sb, "allow_list_view")
        out = sb.call("fill_disk", 32 * 2**20).value
        for path in ("big.bin", "/tmp/big.bin"):
            written, error = out[path]
            assert written <= 8 * 2**20 and error == "No space left on device"
        assert sb.ping().ok and sb.call("read_paths").ok  # the sandbox goes on
    assert limits_from(dataclasses.replace(_assignment(), limits={"disk_mb": 3})).disk_bytes == 3 * 2**20


def _assignment():
    from grader.assignment import load_assignment
    return load_assignment(None)


def test_ipc_objects_do_not_outlive_grading_or_reach_the_next_submission(tmp_path):
    key = random.randrange(2**20, 2**30)
    sub = look_around(tmp_path, key=key)
    with Sandbox(sub, ["look_around"], LIMITS) as sb:
        need(sb, "ipc_namespace")
        made = sb.call("make_ipc").value
        assert all(v >= 0 for v in made.values()), made  # the attack works inside its own namespace
        host = Path("/proc/sysvipc/shm").read_text() + Path("/proc/sysvipc/msg").read_text()
        assert f" {key} " not in host  # the grader's namespace never had them
    with Sandbox(sub, ["look_around"], LIMITS) as sb:
        assert sb.call("find_ipc").value == {"shm": -1, "msg": -1, "sem": -1, "mq": -1}


def test_ipc_objects_are_shared_without_the_namespace(tmp_path):
    """Control: the same attack between two processes that share an IPC namespace finds its objects."""
    key = random.randrange(2**20, 2**30)
    sub = look_around(tmp_path, key=key)
    with Sandbox(sub, ["look_around"], LIMITS, isolation=OFF) as sb:
        if sb.protections.get("ipc_namespace"):
            pytest.skip("the IPC namespace cannot be turned off here")
        made = sb.call("make_ipc").value
        found = sb.call("find_ipc").value
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for name, remove in (("shm", lambda i: libc.shmctl(i, 0, None)), ("msg", lambda i: libc.msgctl(i, 0, None)),
                         ("sem", lambda i: libc.semctl(i, 0, 0))):
        if made[name] >= 0:
            remove(made[name])
    assert found["shm"] >= 0


def test_student_code_cannot_make_namespaces_or_mounts(tmp_path):
    sub = look_around(tmp_path)
    with Sandbox(sub, ["look_around"], LIMITS) as sb:
        need(sb, "seccomp_filter")
        tried = sb.call("escape").value
    assert tried["unshare user"] == tried["unshare mount"] == tried["mount tmpfs"] == tried["setns"] == "EPERM"
    assert tried["chroot"] == "EPERM"
