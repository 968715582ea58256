"""Hostile submissions (tests/hostile/, one per attack): each is contained, and nothing of the student's
runs after grading. docs/security.md ties every promise to the test here that shows it.

Where a protection needs root or a Linux feature the platform lacks, the test says so and skips; where
an attack works with the protections off, a control run shows it (so each test can fail)."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers import check, make_submission

import grader
import grader.sandbox.session as session
from grader.assignment import builtin_dir
from grader.policy import FrameworkPolicy
from grader.report import write_reports
from grader.results import PASSED
from grader.sandbox import isolation
from grader.sandbox.integrity import Seals
from grader.sandbox.session import Isolation, Limits, Sandbox

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's protections are Linux's"),
              pytest.mark.usefixtures("student_processes")]  # every test with each way of starting the child

HOSTILE = Path(__file__).parent / "hostile"
ROOT = os.geteuid() == 0
LIMITS = Limits(cpu_s_per_call=2, wall_s_per_call=8, import_cpu_s=5, total_cpu_s=60, memory_bytes=2**30)
OFF = Isolation(unprivileged_user=False, network=True, hide_files=False, cgroup=False)  # subreaper + /proc only
TORCH_LIB = Path(importlib.util.find_spec("torch").origin).parent / "lib"  # found, not imported


def hostile(tmp_path: Path, name: str, **attack) -> Path:
    """A submission folder holding one hostile file and its attack.json."""
    sub = tmp_path / f"sub-{name}"
    sub.mkdir(parents=True)
    shutil.copy(HOSTILE / f"{name}.py", sub / f"{name}.py")
    (sub / "attack.json").write_text(json.dumps(attack))
    return sub


def alive(pid: int, start: int) -> bool:
    """Whether the process (pid, start time) still runs (a zombie has ended)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = data[data.rfind(b")") + 2:].split()
    return int(fields[19]) == start and fields[0] not in (b"Z", b"X")


def noted(sb: Sandbox, rel: str) -> list[tuple[int, int]]:
    """(pid, start) pairs the submission wrote to `rel`, read by the child (the grader never opens its files)."""
    return [tuple(json.loads(line)) for line in bytes(sb.files(("read", rel)).value[0]).decode().splitlines()]


def need(sb: Sandbox, protection: str) -> None:
    if not sb.protections.get(protection):
        pytest.skip(f"{protection} is not available here (see docs/security.md)")


# ----------------------------------------------------------------------------- verdicts stay the parent's

def test_patching_numpy_and_the_grader_in_the_child_gains_nothing(grade_it, tmp_path):
    result = grade_it(hostile(tmp_path, "patch_comparisons"), exercises=["layers"])
    for name in ("relu_forward.forward", "sigmoid_forward.forward"):
        c = check(result, "layers", name)
        assert c.score == 0 and c.status == "failed"
        assert c.cases[0].comparison is not None and c.cases[0].comparison.reason == "values"


def test_objects_that_claim_equality_fail(grade_it, tmp_path):
    result = grade_it(hostile(tmp_path, "lying_objects"), exercises=["layers"])
    relu, sigmoid = (check(result, "layers", f"{n}_forward.forward") for n in ("relu", "sigmoid"))
    assert relu.score == sigmoid.score == 0
    assert relu.cases[0].comparison.reason == "values"  # the raw numbers travelled, not the subclass
    assert sigmoid.cases[0].comparison.reason == "type"  # an object, not numbers: its methods never ran here


# ----------------------------------------------------------------------------------- framework policy

def test_plain_framework_import_scores_zero(grade_it, tmp_path):
    result = grade_it(hostile(tmp_path, "framework_import"), exercises=["layers"])
    layers = result.exercises[0]
    assert layers.score == 0 and result.protections["framework_import_block"]
    assert all("NumPy exercise" in c.message for c in layers.checks)
    # `import torch` gives an inert stand-in (a module may import torch for its PyTorch exercises); using it
    # in a graded NumPy call is what costs the exercise.
    assert any("relu_forward() used torch" in n for n in layers.notes), layers.notes


def test_a_framework_is_not_in_the_view_unless_allowed(grade_it, tmp_path):
    """The allow-list view: torch's files are not there at all, however it is imported."""
    result = grade_it(hostile(tmp_path, "framework_obfuscated"), exercises=["layers"],
                      limits={"cpu_s_per_call": 20, "wall_s_per_call": 60})
    if not result.protections["allow_list_view"]:
        pytest.skip("no allow-list view here (docs/security.md)")
    ran = [c for c in result.exercises[0].checks if c.function.startswith("relu") and c.kind != "interface"]
    assert ran and all(c.score == 0 and "No module named 'torch'" in c.message for c in ran)


def test_obfuscated_framework_use_is_seen_from_outside(grade_it, tmp_path, monkeypatch):
    """The second line: with torch's files in the view but not allowed, the maps check sees it loaded."""
    monkeypatch.setattr(session, "Isolation", lambda **kw: Isolation(allow=("torch",), **kw))
    result = grade_it(hostile(tmp_path, "framework_obfuscated"), exercises=["layers"],
                      limits={"cpu_s_per_call": 20, "wall_s_per_call": 60})
    layers = result.exercises[0]
    assert layers.score == 0 and result.protections["framework_maps_check"]
    assert all("used torch" in c.message for c in layers.checks), [c.message for c in layers.checks]


def test_the_assignment_can_allow_a_framework(grade_it, assignment, tmp_path):
    allowing = dataclasses.replace(assignment, options={**assignment.options, "allow_modules": ["torch"]})
    result = grade_it(hostile(tmp_path, "framework_obfuscated"), exercises=["layers"], spec=allowing,
                      limits={"cpu_s_per_call": 20, "wall_s_per_call": 60})
    for name in ("relu_forward.forward", "relu_backward.backward"):
        assert check(result, "layers", name).status == PASSED


def test_framework_library_loaded_by_hand_is_seen(tmp_path):
    sub = hostile(tmp_path, "framework_native", library=str(TORCH_LIB / "libc10.so"))
    with Sandbox(sub, ["framework_native"], LIMITS, policy=FrameworkPolicy(), allow=("torch",)) as sb:
        out = sb.call("load")  # fails at once, or passes and is caught when the violations are read
        assert [v.how for v in sb.violations] == ["native"] and "used torch" in sb.violations[0].message()
        assert out.ok or out.error.kind == "policy"
    with Sandbox(sub, ["framework_native"], LIMITS, policy=FrameworkPolicy(allowed=["torch"]), allow=("torch",)) as sb:
        assert sb.call("load").value == "loaded" and not sb.violations


def test_a_framework_library_under_another_name_is_recognised_by_identity(tmp_path):
    """A link to torch's library under an innocent name (as a bind mount would give): its path names nothing,
    its device and inode are torch's. Isolation off, so that the link is in the child's reach."""
    alias = tmp_path / "helpers" / "libnumpy_helpers.so"
    alias.parent.mkdir()
    try:
        os.link(TORCH_LIB / "libc10.so", alias)
    except OSError as e:
        pytest.skip(f"cannot link torch's library here: {e}")
    sub = hostile(tmp_path, "framework_native", library=str(alias))
    with Sandbox(sub, ["framework_native"], LIMITS, policy=FrameworkPolicy(), isolation=OFF) as sb:
        out = sb.call("load")
        assert [v.how for v in sb.violations] == ["native"] and "used torch" in sb.violations[0].message()
        assert out.ok or out.error.kind == "policy"


# ------------------------------------------------------------------- nothing outlives grading, no forging

@pytest.mark.parametrize("confinement", ["all protections", "subreaper and /proc only"])
def test_no_student_process_outlives_the_sandbox(tmp_path, confinement):
    sub = hostile(tmp_path, "leftover_processes")
    with Sandbox(sub, ["leftover_processes"], LIMITS, isolation=None if confinement == "all protections" else OFF) \
            as sb:
        assert sb.call("launch").value == "launched"
        procs = noted(sb, "report.json")
        assert len(procs) >= 6 and all(alive(*p) for p in procs)
    assert not [p for p in procs if alive(*p)]


def _accomplice(result) -> tuple[int, int, str]:
    match = re.search(r"ACCOMPLICE (\d+) (\d+) (\w+)", check(result, "layers", "relu_forward.forward").stdout)
    return int(match[1]), int(match[2]), match[3]


def test_detached_rewriter_is_dead_when_grade_returns(grade_it, tmp_path, monkeypatch):
    """With the file in reach (uid and hiding off), the forger does write it, and is killed in time."""
    monkeypatch.setattr(session, "Isolation", lambda **_: OFF)
    target = tmp_path / "out" / "results.json"
    result = grade_it(hostile(tmp_path, "forge_results", target=str(target)), exercises=["layers"])
    pid, start, first_write = _accomplice(result)
    assert first_write == "wrote" and target.exists()  # the attack ran (the file may be mid-rewrite: empty)
    assert not alive(pid, start)
    write_reports(result, target.parent)
    written = target.read_text()
    time.sleep(0.3)
    assert target.read_text() == written and "forged" not in written


def test_results_folder_is_out_of_reach_of_student_code(grade_it, tmp_path):
    target = tmp_path / "out" / "results.json"
    write_reports(grade_it(hostile(tmp_path, "forge_results", target=str(target)), exercises=["layers"]),
                  target.parent)
    seals = Seals()
    seals.seal(target)  # an earlier report, as in a batch, while another submission is graded
    result = grade_it(hostile(tmp_path / "again", "forge_results", target=str(target)), exercises=["layers"])
    pid, start, first_write = _accomplice(result)
    assert not alive(pid, start)
    if result.protections["unprivileged_user"] or result.protections["hidden_paths"]:
        assert seals.changed() == []  # its writes landed in its own private /tmp, or failed
    else:  # the residual risk docs/security.md names (same user, nothing hidden): the seals catch it
        assert first_write == "wrote" and seals.restore() == [target] and seals.changed() == []


def test_seals_catch_a_rewritten_report(tmp_path):
    report = tmp_path / "results.json"
    report.write_text('{"score": 3}')
    seals = Seals()
    seals.seal(report)
    assert seals.changed() == []
    report.write_text('{"score": 100}')
    assert seals.changed() == [report] and seals.restore() == [report]
    assert report.read_text() == '{"score": 3}' and seals.changed() == []


# ------------------------------------------------------------------------------------------ hidden data

def test_secrets_are_out_of_reach(tmp_path, monkeypatch):
    secret = f"SECRET-{uuid.uuid4().hex}"
    monkeypatch.setenv("GRADER_PRIVATE_SEED", secret)  # in the grader's environment and memory
    seed_file = tmp_path / "private" / "seed.txt"
    seed_file.parent.mkdir()
    seed_file.write_text(secret)
    monkeypatch.setenv("GRADER_SEED_FILE", str(seed_file))
    other = tmp_path / "other-student" / "layers.py"  # a sibling submission in a batch folder
    other.parent.mkdir()
    other.write_text(f"# {secret}\n")
    files = {"seed file": str(seed_file), "other submission": str(other),
             "reference": str(Path(grader.__file__).parents[1] / "reference" / "layers.py"),
             "model solution": str(builtin_dir() / "solution" / "layers.py")}
    sub = hostile(tmp_path, "read_secrets", pattern=r"SECRET-[0-9a-f]{32}", files=files)
    with Sandbox(sub, ["read_secrets"], LIMITS, isolation=OFF) as sb:  # control: the attack works unprotected
        stolen = sb.call("steal")
        assert stolen.ok, stolen.error
        found = stolen.value
        assert {k for k, v in found.items() if secret in v["matches"]} >= {"seed file", "other submission"}
        assert found["parent memory"]["read"] > 0 and found["reference"]["read"] > 0  # root reads everything
    with Sandbox(sub, ["read_secrets"], LIMITS) as sb:
        found = sb.call("steal").value
        if not (sb.protections["hidden_paths"] or sb.protections["unprivileged_user"]):
            pytest.skip("neither a mount namespace nor a uid of its own here: files readable by the grader's "
                        "user are readable by student code (docs/security.md)")
        assert not {k for k, v in found.items() if secret in v["matches"]}
        assert "GRADER" not in json.dumps(found["own environ"]) + json.dumps(found["own cmdline"])
        for place in ("reference", "model solution", "other submission", "seed file", "parent memory",
                      "parent environ"):
            assert found[place]["read"] in (0, "FileNotFoundError", "PermissionError"), place
        if sb.protections["proc_hidepid"]:
            assert found["parent environ"]["read"] == "FileNotFoundError"


def test_parent_is_not_dumpable_while_grading(tmp_path):
    before = isolation.is_dumpable()
    with Sandbox(hostile(tmp_path, "read_secrets", pattern="x", files={}), ["read_secrets"], LIMITS) as sb:
        assert sb.protections["grader_not_dumpable"] and isolation.is_dumpable() is False
    assert isolation.is_dumpable() == before


SAME_USER_PROBE = """
import os, sys, importlib.util
spec = importlib.util.spec_from_file_location("isolation", sys.argv[1])
iso = importlib.util.module_from_spec(spec); spec.loader.exec_module(iso)
results = []
for dumpable in (True, False):
    iso.set_dumpable(dumpable)
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            data = open(f"/proc/{os.getppid()}/environ", "rb").read()
            os.write(w, b"read" if os.environ["PROBE_SECRET"].encode() in data else b"empty")
        except OSError as e:
            os.write(w, type(e).__name__.encode())
        os._exit(0)
    os.close(w); results.append(os.read(r, 100).decode()); os.wait()
print(" ".join(results))
"""


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="runs a probe as an ordinary user (needs root "
                                                                    "to set it up, and setpriv)")
def test_not_dumpable_closes_the_parent_to_a_same_user_child(tmp_path):
    """Without root the child runs as the grader's own user: only PR_SET_DUMPABLE 0 keeps it out."""
    how = _as_nobody(tmp_path)
    probe, module = tmp_path / "probe.py", tmp_path / "isolation.py"
    probe.write_text(SAME_USER_PROBE)
    shutil.copy(isolation.__file__, module)
    prefix, python, _site_packages = how
    out = subprocess.run([*prefix, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-I",
                          str(probe), str(module)], capture_output=True, text=True, timeout=60,
                         env={"PROBE_SECRET": uuid.uuid4().hex, "PATH": os.defpath})
    _skip_if_harness_failed(out)
    assert out.stdout.split() == ["read", "PermissionError"], out.stderr


# ------------------------------------------------------------------------------------- network, resources

def test_no_network(tmp_path):
    sub = hostile(tmp_path, "exhaust_resources")
    with Sandbox(sub, ["exhaust_resources"], LIMITS, isolation=OFF) as sb:  # control: the machine has some
        assert sb.call("network").value["interfaces"] != ["lo"]
    with Sandbox(sub, ["exhaust_resources"], LIMITS) as sb:
        got = sb.call("network").value
        need(sb, "network_namespace")
        assert got["interfaces"] == ["lo"]
        assert got["internet"] != "connected" and got["dns"] != "connected"


def _resource(tmp_path, function, limits=LIMITS, isolation=None, args=()):
    with Sandbox(hostile(tmp_path, "exhaust_resources"), ["exhaust_resources"], limits, isolation=isolation) as sb:
        out = sb.call(function, *args)
        again = sb.call("network")  # the sandbox still works after the attempt
        return sb, out, again.ok


def test_memory_per_process(tmp_path):
    sb, out, ok = _resource(tmp_path, "memory")
    assert out.error.kind == "memory" and sb.protections["rlimit_as"] and ok


def test_memory_of_all_processes_together(tmp_path):
    sb, out, ok = _resource(tmp_path, "memory_in_many_processes", limits=dataclasses.replace(
        LIMITS, memory_bytes=640 * 2**20, cpu_s_per_call=10, wall_s_per_call=20), args=(4, 240))
    need(sb, "memory_cgroup")
    assert out.ok and out.value["killed"] >= 1 and out.value["completed"] < 4 and ok


def test_cpu_time(tmp_path):
    sb, out, ok = _resource(tmp_path, "spin", limits=dataclasses.replace(LIMITS, cpu_s_per_call=0.5))
    assert out.error.kind == "timeout" and "CPU time" in out.error.message and ok


def test_number_of_processes(tmp_path):
    limits = dataclasses.replace(LIMITS, extra_processes=8)
    with Sandbox(hostile(tmp_path, "exhaust_resources"), ["exhaust_resources"], limits) as sb:
        out = sb.call("fork_bomb")
        if not (sb.protections["rlimit_nproc"] or sb.protections["pids_cgroup"]):
            pytest.skip("no process limit: root without a pids cgroup or a uid of its own (docs/security.md)")
        assert out.ok and out.value["started"] <= 8 + 4 and out.value["error"]
        members = sb._confinement.processes(sb._child.proc.pid)
        assert len(members) >= out.value["started"]
    assert not [pid for pid in members if Path(f"/proc/{pid}").exists()
                and Path(f"/proc/{pid}/stat").read_bytes().split(b") ")[1][:1] not in b"ZX"]


def test_file_size(tmp_path):
    sb, out, ok = _resource(tmp_path, "big_file", limits=dataclasses.replace(LIMITS, file_size_bytes=4 * 2**20),
                            args=(16 * 2**20,))
    assert out.value["size"] <= 4 * 2**20 and out.value["error"] == "File too large" and ok


def test_scratch_space(tmp_path):
    sb, out, ok = _resource(tmp_path, "scratch_space", isolation=Isolation(scratch_bytes=8 * 2**20),
                            args=(32 * 2**20,))
    need(sb, "hidden_paths")
    assert out.value["written"] <= 8 * 2**20 and out.value["error"] == "No space left on device" and ok


def test_open_files(tmp_path):
    sb, out, ok = _resource(tmp_path, "open_files", limits=dataclasses.replace(LIMITS, open_files=64))
    assert 40 < out.value["opened"] < 64 and out.value["error"] == "Too many open files" and ok


def test_output_volume(tmp_path):
    sb, out, ok = _resource(tmp_path, "flood", limits=dataclasses.replace(LIMITS, output_bytes=4096))
    assert out.ok and len(out.output) < 5000 and "more bytes of output not shown" in out.output and ok


def test_protections_are_reported(grade_it, tmp_path):
    result = grade_it(hostile(tmp_path, "lying_objects"), exercises=["layers"])
    p = result.protections
    assert p["process_tree_kill"] and p["grader_subreaper"] and p["child_subreaper"] and p["no_new_privs"]
    assert p["grader_not_dumpable"] and p["framework_import_block"] and p["rlimit_as"]
    if ROOT and p["unprivileged_user"]:  # RLIMIT_NPROC binds the sandbox's own uid
        assert p["rlimit_nproc"]
    if p["hidden_paths"] or p["network_namespace"]:
        assert p["mount_namespace"] or p["network_namespace"]
    assert all(isinstance(v, bool) for v in p.values())


UNPRIVILEGED_PROBE = """
import json, sys
from pathlib import Path
from grader.sandbox.session import Limits, Sandbox
from grader.policy import FrameworkPolicy
limits = Limits(cpu_s_per_call=5, wall_s_per_call=20, memory_bytes=2**30, extra_processes=8)
with Sandbox(Path(sys.argv[1]), ["exhaust_resources"], limits, policy=FrameworkPolicy(),
             env_extra={"PYTHONPATH": sys.argv[2]}) as sb:
    network, bomb = sb.call("network"), sb.call("fork_bomb", 100)
    report = {"protections": sb.protections, "network": network.value, "bomb": bomb.value,
              "error": str(network.error or bomb.error or "")}
print(json.dumps(report))
"""


def _reachable_python(tmp: Path) -> tuple[list[str], str, str] | None:
    """How to run this interpreter as nobody: (command prefix, python, its site-packages), binding the
    first folder nobody may not search (Python under /root) to `tmp` in a private mount namespace."""
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    prefix = os.path.realpath(sys.base_prefix)
    current, blocked = "/", None
    for part in prefix.split(os.sep)[1:]:
        if not isolation.can_traverse(os.stat(current), 65534, 65534):
            blocked = os.path.join(current, part)
            break
        current = os.path.join(current, part)
    python = os.path.realpath(sys.executable)
    if blocked is None:
        return [], python, site_packages
    if not shutil.which("unshare") or not os.path.realpath(site_packages).startswith(blocked):
        return None
    mount = tmp / "python"
    mount.mkdir()
    moved = lambda p: str(mount) + os.path.realpath(p)[len(blocked):]  # noqa: E731
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{blocked}" "{mount}" && exec "$0" "$@"'], moved(python), \
        moved(site_packages)


def _as_nobody(tmp_path: Path) -> tuple[list[str], str, str]:
    """Make tmp_path and this Python usable by nobody (uid 65534), or skip."""
    for folder in (tmp_path, *list(tmp_path.parents)[:2]):
        folder.chmod(0o755)  # pytest's folders are private to root
    how = _reachable_python(tmp_path)
    if how is None:
        pytest.skip("this Python cannot be made reachable for an ordinary user")
    return how


def _skip_if_harness_failed(out: subprocess.CompletedProcess) -> None:
    """unshare or setpriv refused (a container without CAP_SYS_ADMIN): the setup failed, not the grader."""
    if out.returncode != 0 and re.search(r"^(unshare|setpriv|mount): ", out.stderr, re.M):
        pytest.skip(f"could not run a process as an ordinary user here: {out.stderr.strip()[-200:]}")


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="runs a grader as an ordinary user (needs root "
                                                                    "to set it up, and setpriv)")
def test_a_grader_without_root_still_confines_the_child(tmp_path):
    """The path CI (root) never takes: no uid of its own, namespaces from a user namespace instead."""
    how = _as_nobody(tmp_path)
    sub = hostile(tmp_path, "exhaust_resources")
    probe = tmp_path / "probe.py"
    probe.write_text(UNPRIVILEGED_PROBE)
    prefix, python, site_packages = how
    repo = str(Path(grader.__file__).resolve().parents[1])
    out = subprocess.run([*prefix, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, str(probe),
                          str(sub), site_packages], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={"PATH": os.defpath, "HOME": str(tmp_path), "PYTHONPATH": f"{site_packages}:{repo}"})
    _skip_if_harness_failed(out)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    p = report["protections"]
    assert not report["error"] and not p["unprivileged_user"] and p["grader_not_dumpable"] and p["rlimit_nproc"]
    assert report["bomb"]["error"] and report["bomb"]["started"] <= 8 + 4
    if p["network_namespace"]:  # unprivileged user namespaces are allowed here
        assert report["network"]["interfaces"] == ["lo"] and p["hidden_paths"]


# ------------------------------------------------------------------- what a killed grader left behind

def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_killed_graders_cgroups_are_emptied_and_removed_at_the_next_start():
    from grader.sandbox import cgroups
    probe = cgroups.SandboxCgroup.create(f"{cgroups.PREFIX}{os.getpid()}-probe", 10, 0)
    if probe is None:
        pytest.skip("no cgroup can be made here (docs/security.md)")
    bases = [d.parent for d in probe.dirs]
    probe.remove()
    stale = [b / f"{cgroups.PREFIX}{_dead_pid()}-grader-sandbox-stale" for b in bases]
    live = [b / f"{cgroups.PREFIX}{os.getpid()}-grader-sandbox-live" for b in bases]
    for d in stale + live:
        d.mkdir()
    leftover = subprocess.Popen(["sleep", "60"])
    (stale[0] / "cgroup.procs").write_text(str(leftover.pid))
    try:
        following = cgroups.SandboxCgroup.create(f"{cgroups.PREFIX}{os.getpid()}-next", 10, 0)  # the next start
        following.remove()
        assert leftover.wait(timeout=5) == -signal.SIGKILL
        assert not any(d.exists() for d in stale) and all(d.exists() for d in live)
    finally:
        leftover.kill()
        for d in stale + live:
            if d.exists():
                d.rmdir()


@pytest.mark.skipif(not ROOT, reason="pool uids are root's")
def test_processes_of_an_abandoned_sandbox_uid_are_ended_and_a_held_one_kept():
    from grader.sandbox import confinement, users
    held = users.acquire_user()
    abandoned = users.acquire_user()
    abandoned.release()  # as a killed grader's: the lock went with it, the processes stayed

    def as_uid(uid):
        return subprocess.Popen(["sleep", "60"], preexec_fn=lambda: (os.setgid(uid), os.setuid(uid)))
    stray, kept = as_uid(abandoned.uid), as_uid(held.uid)
    try:
        assert abandoned.uid in confinement.end_abandoned_processes()
        stray.wait(timeout=5)  # (reaped by the grader's reaper: the status is gone with it)
        assert not Path(f"/proc/{stray.pid}").exists() and kept.poll() is None
    finally:
        for p in (stray, kept):
            p.kill()
            p.wait()
        held.release()


def test_framework_use_in_work_done_ahead_costs_its_own_exercise_only(grade_it, tmp_path):
    """The training check runs the student's train_step while the grader is still loading PyTorch, before
    any exercise is graded (grader/ahead.py): a use of torch there zeroes `network`, not `layers`."""
    sub = make_submission(tmp_path, {"network.py": [(
        "        probs = self.forward(X)\n",
        "        if X.shape[0] > 1000:  # the training data only: the other checks use small batches\n"
        "            import torch\n            torch.zeros(1)\n        probs = self.forward(X)\n")]})
    result = grade_it(sub, exercises=["layers", "network"])
    layers, network = result.exercises
    assert layers.score == layers.max_score > 0
    assert network.score == 0 and any("used torch" in note for note in network.notes), network.notes
