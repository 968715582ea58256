"""Student processes forked from a batch worker's zygote (grader/sandbox/launch.py) are what a fresh
interpreter would be: the same confinement, environment, descriptors and parent, and nothing of the
zygote's state or of an earlier submission; the zygote is out of the student's reach, ends with its
worker, and a dead one costs nothing but speed. test_security.py and test_allow_list.py replay every
attack with student processes from a zygote as well."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox import launch
from grader.sandbox.session import Limits, Sandbox, child_environment

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="the zygote is Linux's (fork, SCM_RIGHTS)")]

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(cpu_s_per_call=2, wall_s_per_call=8, import_cpu_s=5, total_cpu_s=60, memory_bytes=2**30)
ROOT = os.geteuid() == 0


@pytest.fixture
def zygote():
    """The worker's NumPy-only zygote (the one a sandbox without `imports` forks from)."""
    z = launch.keep_zygotes(child_environment("", ""))[()]
    yield z
    launch.stop_zygotes()


def _submission(tmp_path: Path, name: str = "reach_the_zygote") -> Path:
    sub = tmp_path / "sub"
    sub.mkdir(parents=True, exist_ok=True)
    shutil.copy(HOSTILE / f"{name}.py", sub / f"{name}.py")
    return sub


def _describe(tmp_path: Path, imports=frozenset()) -> tuple[dict, dict]:
    with Sandbox(_submission(tmp_path), ["reach_the_zygote"], LIMITS, imports=imports) as sb:
        out = sb.call("describe")
        assert out.ok, out.error
        return out.value, dict(sb.protections)


def test_a_forked_student_process_is_what_a_fresh_one_is(tmp_path, zygote):
    forked, forked_protections = _describe(tmp_path / "forked")
    assert zygote.spawned == 1
    launch.stop_zygotes()
    fresh, fresh_protections = _describe(tmp_path / "fresh")
    assert forked_protections == fresh_protections
    assert forked_protections.get("seccomp_filter") == fresh_protections.get("seccomp_filter")
    for facts in (forked, fresh):
        assert facts["ppid"] == os.getpid()  # the grader's own child, reaped and killed like one
        assert facts["sid"] == facts["pid"]  # leads its own session
        assert facts["fds"] == fresh["fds"]  # 0, 1, 2, the two pipes, and the listing's own
        assert facts["stdin"] == "/dev/null"
        assert facts["blas_threads"] == 1
    for key in ("uid", "argv0", "umask", "scipy_special"):
        assert forked[key] == fresh[key], key
    assert forked["env"].keys() == fresh["env"].keys()
    for key in forked["env"]:
        if key not in ("HOME", "TMPDIR"):  # each sandbox's own folders
            assert forked["env"][key] == fresh["env"][key], key
    assert forked["env"]["HOME"].startswith(os.path.dirname(forked["cwd"]))  # its own sandbox's, not the zygote's


def test_forked_processes_do_not_share_the_zygotes_random_state(tmp_path, zygote):
    draws = [_describe(tmp_path / str(i))[0]["random"] for i in range(3)]
    assert zygote.spawned == 3
    assert len(set(draws)) == 3


def test_a_dead_zygote_costs_only_speed(tmp_path, zygote):
    os.kill(zygote.proc.pid, signal.SIGKILL)
    zygote.proc.wait()
    facts, protections = _describe(tmp_path / "after")  # a fresh interpreter instead
    assert facts["ppid"] == os.getpid() and zygote.spawned == 0 and not zygote.alive
    again = launch.keep_zygotes(child_environment("", ""))[()]  # the worker's next warm-up starts another
    assert again is not zygote and again.alive
    _describe(tmp_path / "again")
    assert again.spawned == 1


def test_a_sandbox_with_another_environment_starts_fresh(tmp_path, zygote):
    with Sandbox(_submission(tmp_path), ["reach_the_zygote"], LIMITS, env_extra={"OMP_NUM_THREADS": "2"}) as sb:
        out = sb.call("describe")
    assert out.ok and out.value["env"]["OMP_NUM_THREADS"] == "2"
    assert zygote.spawned == 0  # NumPy loaded with one thread in the zygote: not what this sandbox asked for


def test_crashes_exits_and_time_limits_cost_the_call_only(tmp_path, zygote):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.py").write_text("import os, time\n"
                              "def add(a, b):\n    return a + b\n"
                              "def leave():\n    os._exit(3)\n"
                              "def spin():\n    while True:\n        pass\n")
    with Sandbox(sub, ["m"], Limits(cpu_s_per_call=0.5, wall_s_per_call=3, import_cpu_s=5, total_cpu_s=30)) as sb:
        assert sb.call("add", 1, 2).value == 3
        left = sb.call("leave")
        assert left.error.kind == "exit" and "exit code 3" in left.error.message
        assert sb.call("add", 2, 2).value == 4  # restarted, from the zygote again
        spun = sb.call("spin")
        assert spun.error.kind == "timeout"
        assert sb.call("add", 3, 3).value == 6
    assert zygote.spawned == 3


@pytest.mark.skipif(not ROOT, reason="as an ordinary user the student's process may signal that user's processes "
                                     "(docs/security.md, residual risks)")
def test_the_zygote_is_out_of_reach_of_student_code(tmp_path, zygote):
    with Sandbox(_submission(tmp_path), ["reach_the_zygote"], LIMITS) as sb:
        got = sb.call("attack")
        assert got.ok, got.error
        assert sb.protections["proc_hidepid"] and sb.protections["unprivileged_user"]
    assert zygote.proc.pid not in got.value["seen"] + got.value["killed"]
    assert not [r for r in got.value["read"] if r.startswith(f"{zygote.proc.pid}/")]
    assert zygote.alive
    _describe(tmp_path / "next")
    assert zygote.spawned == 2


def test_the_zygote_ends_with_its_worker(tmp_path):
    script = ("import sys, time\n"
              "from grader.sandbox import launch\n"
              "from grader.sandbox.session import child_environment\n"
              "zygotes = launch.keep_zygotes(child_environment('', ''))\n"
              "print(*[z.proc.pid for z in zygotes.values()], flush=True)\n"
              "time.sleep(60)\n")
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(pid) for pid in worker.stdout.readline().split()]
        assert len(pids) == len(launch.PRELOADS) and all(_alive(pid) for pid in pids)
        worker.kill()  # SIGKILL: nothing of the worker's Python runs
        worker.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.05)
        assert not [pid for pid in pids if _alive(pid)], "a zygote outlived its worker"
    finally:
        worker.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_request_out_of_step_ends_the_zygote_not_the_worker(tmp_path, zygote):
    """Only the worker talks to the zygote; garbage on the socket ends it, and the next process is fresh."""
    zygote._sock.sendall((2**31).to_bytes(4, "big") + b"{")
    zygote._sock.shutdown(__import__("socket").SHUT_WR)
    zygote.proc.wait(timeout=10)
    facts, _ = _describe(tmp_path)
    assert facts["ppid"] == os.getpid() and zygote.spawned == 0


class _LateReplies:
    """The worker's end of a zygote's socket, whose replies never come in time: the zygote has forked."""

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def recv(self, n):
        time.sleep(0.5)  # the fork is made, re-parented to us and confining itself meanwhile
        raise TimeoutError("timed out")


def test_a_zygote_lost_mid_request_leaves_nothing_on_the_pipes(tmp_path):
    """The zygote forks but its reply is too late: that fork holds the request's pipes, so the student's
    process starts fresh on new ones, its calls are answered by it alone, and the fork is gone at the end."""
    from grader.sandbox import reaper
    zygote = launch.keep_zygotes(child_environment("", ""))[()]
    zygote._sock = _LateReplies(zygote._sock)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.py").write_text("import os\ndef who(x):\n    return [x, os.getpid()]\n")
    try:
        with Sandbox(sub, ["m"], LIMITS) as sb:
            answers = [sb.call("who", i) for i in range(30)]
            started = sb._child.proc.pid
    finally:
        launch.stop_zygotes()
    assert not zygote.alive and zygote.spawned == 0
    assert all(a.ok for a in answers), [a.error for a in answers if not a.ok]
    assert [a.value[0] for a in answers] == list(range(30))
    assert {a.value[1] for a in answers} == {started}  # the process the sandbox started, and no other
    deadline = time.monotonic() + 5
    while True:
        table = reaper.process_table()
        left = [p for p in reaper.adopted_orphans(table) if table[p].state not in "ZX"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, "the zygote's fork outlived the sandbox"


def test_the_batch_worker_keeps_a_zygote(tmp_path):
    from grader.batch import worker
    try:
        worker._warm = False
        worker.warm_up()
        for preload in launch.PRELOADS:
            z = launch.current_zygote(preload)
            assert z is not None and z.alive
            assert json.loads(z.proc.args[-1])["preload"] == list(preload)
    finally:
        launch.stop_zygotes()


def test_a_process_starts_with_what_its_submission_imports_and_nothing_more(tmp_path):
    zygotes = launch.keep_zygotes(child_environment("", ""))
    try:
        plain, _ = _describe(tmp_path / "plain", frozenset({"numpy", "os"}))
        special, _ = _describe(tmp_path / "special", frozenset({"numpy", "scipy.special", "scipy.special.erf"}))
    finally:
        launch.stop_zygotes()
    assert not plain["scipy_special"] and special["scipy_special"]
    assert zygotes[()].spawned == 1 and zygotes[("scipy.special",)].spawned == 1


@pytest.mark.parametrize("imports, preload", [
    ((), ()), (("numpy",), ()), (("scipy",), ()),  # `import scipy` alone does not load scipy.special
    (("scipy.special",), ("scipy.special",)), (("scipy", "scipy.special", "scipy.special.erf"), ("scipy.special",)),
    (("scipy.special_functions",), ()), (("myscipy.special",), ()),
])
def test_the_zygote_is_chosen_by_the_submissions_imports(imports, preload):
    assert launch.preload_for(frozenset(imports)) == preload
