"""Running student code in a child process: values, state, imports, and everything that can go wrong."""
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.session import Limits, Missing, Sandbox
from grader.sandbox.wire import Handle, Opaque

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's limits are tested on Linux")]

SUB = Path(__file__).parent / "fixtures" / "sandbox" / "sub"
FAST = Limits(cpu_s_per_call=1, wall_s_per_call=2, import_cpu_s=5, total_cpu_s=60, memory_bytes=2**30)


def sandbox(modules=("layers", "model", "hostile"), limits=FAST, **kw):
    return Sandbox(SUB, list(modules) if not isinstance(modules, dict) else modules, limits, **kw)


@pytest.fixture(scope="module")
def good():
    """A sandbox only ever given well-behaved calls, shared to keep the file fast."""
    with sandbox() as sb:
        assert sb.start() == {"layers": None, "model": None, "hostile": None}
        yield sb


@pytest.fixture
def sb():
    with sandbox() as s:
        yield s


# ------------------------------------------------------------------------------ values and state


def test_start_imports_only_listed_modules(good):
    # experiment.py would os._exit(9) and the student's wire.py raises on import: neither ran.
    assert good.restarts == 0 and good.ping().ok
    assert good.cwd != str(SUB) and good.files(("is_file", "experiment.py")).value == [True]
    assert good.protections["rlimit_as"] and good.protections["rlimit_cpu"] and good.protections["process_group"]
    assert good.start_times and good.start_times[0] < 5


def test_function_values_and_args_after(good):
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    out = good.call("relu_forward", x)
    assert out.ok and out.error is None and out.output == ""
    np.testing.assert_array_equal(out.value, np.maximum(x, 0))
    np.testing.assert_array_equal(out.args_after[0], x)
    assert out.value.flags.writeable and out.wall_s < 1


def test_replies_of_every_size_in_a_row_arrive_whole(good):
    """Small replies are read ahead in one piece, large arrays straight into place: a run of both, in
    every order, comes back exactly, each reply with its own call."""
    rng = np.random.default_rng(5)
    for n in (1, 3, 40_000, 2, 9_000, 70_000, 1, 16_384, 8_191, 5):  # float64: around the 64 KiB read-ahead
        x = rng.standard_normal(n)
        out = good.call("echo", x, [x[:2], {"k": x[-1:]}], return_args=False)
        assert out.ok
        (back, (head, tail)), _kwargs = out.value
        np.testing.assert_array_equal(back, x)
        np.testing.assert_array_equal(head, x[:2])
        np.testing.assert_array_equal(tail["k"], x[-1:])


def test_many_value_kinds(good):
    v = good.call("many_kinds").value
    assert v["t"] == (1, 2.5, None) and v["s"] == "text"
    assert v[3][0] is True and type(v[3][1]) is np.float32
    assert v["nd"].dtype == np.int16
    assert isinstance(good.call("make_function").value, Opaque)
    out = good.call("echo", 1, "a", kwargs={"k": np.float32(2)})
    assert out.value[0] == (1, "a") and type(out.value[1]["k"]) is np.float32


def test_inplace_modification_is_visible_in_args_after(good):
    x = np.zeros(3)
    out = good.call("add_one_inplace", x)
    assert out.ok and out.value is None
    np.testing.assert_array_equal(out.args_after[0], np.ones(3))
    np.testing.assert_array_equal(x, np.zeros(3))  # the grader's copy is untouched
    assert good.call("add_one_inplace", x, return_args=False).args_after == []


def test_stateful_object(good):
    made = good.new("Linear", 3, 2, seed=1)
    assert made.ok and isinstance(made.handle, int) and made.value == Handle(made.handle)
    h = made.handle
    assert good.setattrs(h, {"W": np.ones((3, 2)), "b": np.arange(2.0)}).ok
    out = good.call("forward", np.ones((1, 3)), obj=h)
    assert out.ok
    np.testing.assert_array_equal(out.value, [[3.0, 4.0]])
    attrs = good.getattrs(h, ["calls", "W", "nope", "broken"]).value
    assert attrs["calls"] == 1 and attrs["W"].shape == (3, 2)
    assert isinstance(attrs["nope"], Missing) and attrs["nope"].type == "AttributeError"
    assert attrs["broken"] == Missing("RuntimeError", "no such thing")
    assert good.call("me", obj=Handle(h)).value == Handle(h)
    assert good.call("is_linear", Handle(h)).value is True  # a kept object passed back in
    assert good.getattrs(None, ["SCALE"], module="layers").value == {"SCALE": 2.0}
    assert good.setattrs(None, {"SCALE": 3.0}).ok  # module-level names, found in whichever module has them
    assert good.getattrs(None, ["SCALE", "Linear.forward.__name__"]).value == {"SCALE": 3.0,
                                                                              "Linear.forward.__name__": "forward"}
    good.drop(h)
    assert good.call("forward", np.ones((1, 3)), obj=h).error.kind == "skipped"


def test_relative_and_sibling_imports_share_one_module(good):
    assert good.call("same_module").value is True
    assert good.call("two_layer", np.ones((2, 3))).value.shape == (2, 2)


def test_names_map_to_modules():
    with sandbox({"relu_forward": "layers.py", "two_layer": "model.py"}) as sb:
        assert sb.modules == ["layers", "model"]
        assert sb.call("relu_forward", np.array([-1.0])).value[0] == 0  # starts on first call


def test_generated_files_search_path_and_describe():
    gen = {"_nb_gen.py": "def gen(a, b=2):\n    return a + b\n"}
    with Sandbox(SUB, ["layers", "nested.deep", "_nb_gen"], FAST, files=gen, search_path=[SUB / "nested"]) as sb:
        assert all(e is None for e in sb.start().values()) and not (SUB / "_nb_gen.py").exists()
        assert sb.call("gen", 1, module="_nb_gen").value == 3
        assert sb.call("deep_value", module="nested.deep").value == 42
        d = sb.describe("gen", module="_nb_gen", n_args=1).value
        assert d == {"callable": True, "kind": "function", "params": ["a", "b=2"], "accepts": True,
                     "type": "builtins.function"}
        assert sb.describe("gen", module="_nb_gen", n_args=3).value["accepts"] is False
        assert sb.describe("SCALE", module="layers").value["callable"] is False
        assert sb.describe("Linear", module="layers", n_args=2).value["kind"] == "class"
        assert sb.describe("nope", module="layers").error.kind == "exception"


def test_print_is_captured_per_call(good):
    assert good.call("talk", 5).output == "hello from the student 5\n"
    assert good.call("talk", 6, label="talk(6)").output.endswith("6\n")
    assert good.call("relu_forward", np.ones(1)).output == ""


def test_exception_has_type_location_and_clean_traceback(good):
    out = good.call("raises", np.ones(2))
    e = out.error
    assert not out.ok and e.kind == "exception" and e.type == "ValueError"
    assert e.file == "hostile.py" and e.line == 12
    assert e.message == "raises() raised ValueError: shapes do not match"
    assert "child.py" not in e.traceback and good.cwd not in e.traceback and "hostile.py" in e.traceback


def test_caught_base_exceptions_do_not_kill_the_child(good):
    before = good.restarts
    e = good.call("soft_exit").error
    assert (e.kind, e.type) == ("exit", "SystemExit") and "sys.exit(3)" in e.message
    assert good.call("interrupt").error.type == "KeyboardInterrupt"
    assert good.call("recurse").error.type == "RecursionError"
    assert good.call("raise_memory_limit").error.kind == "exception"  # soft = hard: cannot be raised
    assert good.restarts == before and good.call("ok").value == "fine"


def test_child_environment_is_minimal(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    with sandbox(["hostile"], env_extra={"EXTRA": "1"}) as sb:
        env, cwd = sb.call("environ").value
        assert "GRADER_SECRET_TOKEN" not in env and env["EXTRA"] == "1"
        assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1" and env["PYTHONHASHSEED"] == "0"
        assert cwd == sb.cwd and sb.files(("is_file", "hostile.py")).value == [True]


def test_unsendable_argument_is_the_graders_error(good):
    with pytest.raises(TypeError):
        good.call("echo", object())


# ------------------------------------------------------------------------------ failures


def test_infinite_loop_times_out_then_is_skipped():
    # The wall limit is far above the CPU limit, so on a loaded machine (where the child gets a fraction
    # of a core) it is still the CPU limit that stops the loop; the child's CPU time, not the wall clock,
    # is what is asserted.
    with sandbox(limits=Limits(cpu_s_per_call=1, wall_s_per_call=60, import_cpu_s=5, total_cpu_s=60,
                               memory_bytes=2**30)) as sb:
        h = sb.new("Linear", 2, 2).handle
        out = sb.call("spin")
        assert out.error.kind == "timeout" and out.error.message == "spin() did not return within 1 s of CPU time"
        assert 0.9 <= out.cpu_s < 3, out.cpu_s  # the parent polls the child's CPU time; a loaded host polls late
        again = sb.call("spin")
        assert again.error.kind == "skipped" and "did not return" in again.error.message
        assert sb.call("ok").value == "fine" and sb.restarts == 1  # fresh child, modules re-imported
        stale = sb.call("forward", np.ones((1, 2)), obj=h).error
        assert stale.kind == "skipped" and "restarted" in stale.message and "Linear.forward()" in stale.message
        assert sb.call("is_linear", Handle(h)).error.kind == "skipped"  # stale handle inside the arguments


def test_sleep_hits_the_wall_clock():
    with sandbox(["hostile"], Limits(cpu_s_per_call=1, wall_s_per_call=30)) as sb:
        assert sb.start() == {"hostile": None}  # start-up under a generous wall limit: a loaded host is slow
        sb.limits.wall_s_per_call = 0.5
        t = time.monotonic()
        out = sb.call("nap")
        assert out.error.kind == "timeout" and out.error.message.startswith("nap() did not return within 0.5 s")
        # The child's CPU time shows it slept; the elapsed time only that the wall limit stopped it (with a
        # margin for a loaded host, where the parent polls late).
        assert time.monotonic() - t < 10 and out.cpu_s < 0.3
        sb.limits.wall_s_per_call = 30  # the restart, too, may be slow on a loaded host
        assert sb.call("ok").ok


def test_os_exit_in_call_restarts_transparently(sb):
    e = sb.call("hard_exit").error
    assert e.kind == "exit" and "exit code 1" in e.message
    assert sb.call("ok").value == "fine" and sb.restarts == 1
    assert sb.call("hard_exit").error.kind == "exit"  # crashes are not skipped, only timeouts


def test_segfault_is_a_crash(sb):
    out = sb.call("segfault")
    assert out.error.kind == "crash" and "SIGSEGV" in out.error.message
    assert "Fatal Python error" in out.output  # faulthandler's report was captured
    assert sb.call("ok").ok


def test_garbage_on_the_response_pipe_is_a_protocol_error(sb):
    out = sb.call("garbage")
    assert out.error.kind == "protocol"
    assert sb.call("ok").value == "fine"


def test_forged_reply_is_a_protocol_error(sb):
    out = sb.call("forge_reply")
    assert out.error.kind == "protocol" and out.value is None
    assert sb.call("ok").value == "fine"


def test_output_flood_is_truncated_and_the_call_returns(sb):
    t = time.monotonic()
    out = sb.call("flood")
    assert out.ok and out.value == "done" and time.monotonic() - t < 5
    assert len(out.output) < FAST.output_bytes + 200 and "more bytes of output not shown" in out.output
    assert sb.call("talk", 1).output == "hello from the student 1\n"


def test_memory_blowups_fail_the_call_and_the_next_call_works():
    with sandbox(["hostile"], Limits(cpu_s_per_call=5, wall_s_per_call=10, memory_bytes=2**30)) as sb:
        for target in ("huge_array", "growing_list"):
            e = sb.call(target).error
            assert e.kind == "memory" and e.type == "MemoryError", e
            assert sb.call("ok").value == "fine"
        assert sb.restarts == 0


def test_too_large_result_is_reported_not_sent(good):
    e = good.call("long_floats").error
    assert e.kind == "exception" and e.type == "TransferError" and "could not receive" in e.message
    assert good.call("ok").value == "fine"


def test_syntax_error_at_import_points_at_the_line():
    with sandbox(["syntax_error"]) as sb:
        e = sb.start()["syntax_error"]
        assert (e.kind, e.type, e.file, e.line) == ("exception", "SyntaxError", "syntax_error.py", 1)


def test_sys_exit_at_import_fails_that_module_only():
    with sandbox({"foo": "exits_at_import", "relu_forward": "layers"}) as sb:
        errors = sb.start()
        assert errors["layers"] is None
        e = errors["exits_at_import"]
        assert e.kind == "exit" and e.file == "exits_at_import.py" and "sys.exit(3)" in e.message
        out = sb.call("foo")
        assert out.error.kind == "import" and "exits_at_import.py failed to import" in out.error.message
        assert sb.call("relu_forward", np.ones(1)).ok


def test_os_exit_at_import_is_not_retried():
    with sandbox({"bar": "dies_at_import", "relu_forward": "layers", "hard_exit": "hostile"}) as sb:
        errors = sb.start()
        assert errors["dies_at_import"].kind == "exit" and "exit code 4" in errors["dies_at_import"].message
        assert errors["layers"] is None and errors["hostile"] is None
        assert sb.call("hard_exit").error.kind == "exit"  # forces another restart
        assert sb.call("relu_forward", np.ones(1)).ok  # re-imported layers, not dies_at_import
        assert sb.call("bar").error.kind == "import"


def test_total_budget_stops_spinning_and_sleeping_code():
    limits = Limits(cpu_s_per_call=1, wall_s_per_call=1.5, total_cpu_s=2)
    with sandbox(["hostile"], limits) as sb:
        assert sb.call("spin").error.kind == "timeout"  # ~1.1 s of the budget used, with start-up
        t = time.monotonic()
        out = sb.call("nap")  # sleeping is charged too: cut short when the budget runs out
        assert out.error.kind == "budget" and time.monotonic() - t < 1.2, out.error
        assert sb.budget_used >= 2
        t = time.monotonic()
        assert sb.call("ok").error.kind == "budget" and sb.getattrs(None, ["x"], "hostile").error.kind == "budget"
        assert time.monotonic() - t < 0.1


def test_unstartable_child_fails_every_call_quickly():
    with sandbox(["layers"], Limits(memory_bytes=50 * 2**20)) as sb:  # too little memory to import numpy
        e = sb.start()["layers"]
        assert e.kind == "crash" and e.message.startswith("the grader could not start Python") and e.traceback
        assert sb.call("relu_forward", 1.0).error is e


def test_close_kills_the_child_and_removes_the_copy():
    sb = sandbox(["layers"])
    sb.start()
    pid, tmp = sb._child.proc.pid, Path(sb.cwd).parent
    sb.close()
    assert not tmp.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    sb.close()  # idempotent


def test_start_and_round_trip_are_fast(good):
    a = np.ones((10, 10))
    times = []
    for _ in range(100):
        t = time.perf_counter()
        good.call("relu_forward", a)
        times.append(time.perf_counter() - t)
    rt = statistics.median(times)
    print(f"child start {good.start_times[0] * 1e3:.0f} ms, call round trip {rt * 1e6:.0f} us")
    assert rt < 0.005 and good.start_times[0] < 2


# ------------------------------------------------------------------------------ several calls in one request


def test_each_calls_once_per_argument_list_in_one_request_and_names_the_call_that_failed(sb):
    handle = sb.call("Linear", 2, 3, keep=True).handle
    seq = sb._seq
    xs = [np.ones((1, 2)), np.full((4, 2), 2.0), np.zeros((2, 2))]
    out = sb.call("forward", obj=handle, each=[(x,) for x in xs], return_args=False, read_after=["calls", "W"])
    assert out.ok and sb._seq == seq + 1  # three calls and the read: one exchange
    assert out.value.shape == (2, 3) and out.attrs["calls"] == 3 and out.attrs["W"].shape == (2, 3)
    bad = sb.call("forward", obj=handle, each=[(xs[0],), (np.ones((1, 5)),), (xs[0],)], read_after=["calls"])
    assert not bad.ok and bad.at == 1 and "ValueError" in bad.error.message and bad.attrs == {}
    assert sb.getattrs(handle, ["calls"]).value == {"calls": 5}  # 3, then 2 (the second raised): no third


def test_read_after_gives_what_getattrs_gives_raising_properties_included(sb):
    handle = sb.call("Linear", 2, 3, keep=True).handle
    out = sb.call("forward", np.ones((1, 2)), obj=handle, read_after=["calls", "broken"])
    assert out.ok and out.attrs["calls"] == 1
    assert isinstance(out.attrs["broken"], Missing) and "no such thing" in out.attrs["broken"].message
    assert out.attrs.keys() == sb.getattrs(handle, ["calls", "broken"]).value.keys()


def test_each_collects_every_result_and_those_before_a_failure(sb):
    handle = sb.call("Linear", 2, 3, keep=True).handle
    xs = [np.ones((1, 2)), np.full((2, 2), 2.0), np.ones((1, 7)), np.ones((1, 2))]
    out = sb.call("forward", obj=handle, each=[(x,) for x in xs[:2]], collect=True, return_args=False)
    assert out.ok and [v.shape for v in out.value] == [(1, 3), (2, 3)]
    bad = sb.call("forward", obj=handle, each=[(x,) for x in xs], collect=True, return_args=False)
    assert not bad.ok and bad.at == 2 and [v.shape for v in bad.value] == [(1, 3), (2, 3)]


def test_on_spawn_is_called_as_each_child_starts_before_its_greeting():
    seen = []
    with sandbox(on_spawn=lambda: seen.append(list(box.start_times))) as box:
        assert box.call("ok").value == "fine" and seen == [[]]  # called before the first greeting arrived
        assert not box.call("hard_exit").ok
        assert box.call("ok").value == "fine" and box.restarts == 1 and len(seen) == 2


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_the_cpu_clock_follows_its_process_and_not_its_pid_once_reaped():
    import subprocess
    from grader.sandbox.limits import CpuClock
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                             "while time.process_time() < end: pass\ninput()"], stdin=subprocess.PIPE)
    clock = CpuClock(busy.pid)
    try:
        deadline = time.monotonic() + 30
        while (clock.seconds() or 0.0) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0.4 <= clock.seconds() < 30
        busy.communicate(b"\n", timeout=30)  # exits and is reaped
        assert clock.seconds() is None  # not whoever gets the pid next
    finally:
        busy.kill()
        clock.close()
    assert clock.seconds() is None  # closed
