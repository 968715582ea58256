"""How the timing measures: backends take turns, a failing one is dropped, slow code gets fewer runs,
and the heap policy that keeps a step's time from depending on where the allocator put the batch.

Nothing here asserts a duration: the schedule is checked with runners that record their calls."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import SOLUTION

from grader import timing
from grader.sandbox import heap


class Recorder:
    def __init__(self, name, log, fail_at=None, seconds=1e-3):
        self.name, self.log, self.fail_at, self.seconds, self.calls = name, log, fail_at, seconds, 0

    def run(self, steps):
        self.calls += 1
        self.log.append(self.name)
        if self.calls == self.fail_at:
            raise timing.BackendFailed(f"{self.name} broke")
        return self.seconds


def rows(*names):
    return [timing.Timing(name, "cpu", "float64") for name in names]


def test_backends_take_turns_after_untimed_warmup_rounds():
    log = []
    a, b = rows("a", "b")
    workload = timing.Workload(4, 4, 2, 8, steps=3, runs=4, warmup=2)
    timing.measure([(a, Recorder("a", log, seconds=0.001)), (b, Recorder("b", log, seconds=0.002))], workload)
    assert log == ["a", "b"] * 6  # 2 warm-up rounds + 4 timed rounds, alternating
    assert a.run_s == [0.001] * 4 and b.run_s == [0.002] * 4


def test_a_failing_backend_is_marked_and_dropped_while_the_others_go_on():
    log = []
    a, b = rows("a", "b")
    workload = timing.Workload(4, 4, 2, 8, steps=3, runs=3, warmup=1)
    timing.measure([(a, Recorder("a", log, fail_at=2)), (b, Recorder("b", log))], workload)
    assert a.status == "failed" and a.note == "a broke" and a.run_s == []
    assert b.status == "ok" and len(b.run_s) == 3
    assert log == ["a", "b", "a", "b", "b", "b"]


def test_a_device_error_fails_only_that_backend():
    class OutOfMemory:
        def run(self, steps):
            raise RuntimeError("CUDA out of memory")

    gpu, cpu = rows("gpu", "cpu")
    timing.measure([(gpu, OutOfMemory()), (cpu, Recorder("cpu", []))], timing.Workload(4, 4, 2, 8, runs=2, warmup=0))
    assert gpu.status == "failed" and "RuntimeError: CUDA out of memory" in gpu.note
    assert cpu.status == "ok" and len(cpu.run_s) == 2


def test_slow_code_gets_fewer_timed_rounds_but_at_least_three():
    class Slow:
        def run(self, steps):
            import time
            time.sleep(0.02)
            return 0.02

    row, = rows("slow")
    workload = timing.Workload(4, 4, 2, 8, steps=1, runs=21, warmup=1)
    timing.measure([(row, Slow())], workload, budget_s=0.001)
    assert workload.runs == 3 and len(row.run_s) == 3
    workload = timing.Workload(4, 4, 2, 8, steps=1, runs=21, warmup=1)
    timing.measure([(row, Recorder("fast", []))], workload, budget_s=10)
    assert workload.runs == 21  # fast code keeps every round


FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    sys.path.insert(0, {here!r})
    import heap
    if sys.argv[1] == "keep":
        print(heap.keep_freed_memory(), file=sys.stderr)
    keep = [np.ones(1000) for _ in range(100)]  # some small blocks, so frees land below the top too
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):  # what a train step does: batch-sized temporaries, allocated and freed
        a = np.ones((1437, 64)); b = a @ np.ones((64, 64)); del a, b
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


@pytest.mark.skipif(heap._mallopt() is None, reason="glibc only")
def test_keeping_freed_memory_stops_the_page_faults_of_repeated_temporaries(tmp_path):
    script = tmp_path / "faults.py"
    script.write_text(FAULTS.format(here=str(heap.__file__).rsplit("/", 1)[0]))

    def faults(mode):
        out = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1]), out.stderr

    default, _ = faults("default")
    kept, said = faults("keep")
    assert said.startswith("glibc keeps freed memory")
    # Fresh pages each time by default (180 per 735 KB array); with the policy, the first loop's only.
    assert default > 50 * 100 and kept < default / 10, (default, kept)


def test_the_child_times_repeated_calls_under_the_same_heap_policy():
    from grader.data import load_digits
    from grader.sandbox.session import Sandbox

    d = load_digits().subset(50)
    with Sandbox(SOLUTION, ["network"]) as sandbox:
        handle = sandbox.call("NeuralNetwork", 64, 8, 10, module="network", keep=True).handle
        once = sandbox.call("train_step", d.X_train, d.Y_train, 0.1, obj=handle, return_args=False)
        assert once.ok and once.heap == ""  # an ordinary call leaves the heap alone
        outcome = sandbox.call("train_step", d.X_train, d.Y_train, 0.1, obj=handle, return_args=False, repeat=2)
        assert outcome.ok and outcome.heap == heap.keep_freed_memory()
        assert np.isfinite(outcome.value)


def test_gpu_work_is_bracketed_by_synchronize(monkeypatch):
    """The CUDA path is the CPU path with another device: here the device is the CPU, and what differs -
    waiting for queued GPU work before the clock starts and before it stops - is recorded instead."""
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("sync", str(device))))
    sync = timing.synchronizer(torch.device("cuda", 0))
    sync()
    assert calls == [("sync", "cuda:0")]

    workload = timing.Workload(features=5, hidden=7, classes=3, batch=6, steps=4)
    runner = timing.TorchRunner(workload, torch.device("cpu"), *timing.synthetic_batch(workload))
    steps = []
    original = runner.train_step
    runner.train_step = lambda *a: (steps.append(len(calls)), original(*a))
    runner.sync = lambda: calls.append("sync")
    calls.clear()
    assert runner.run(4) > 0
    assert calls == ["sync", "sync"] and steps == [1, 1, 1, 1]  # one wait before the first step, one after the last


def test_a_device_that_fails_to_set_up_is_a_failed_row_without_a_runner(monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory while allocating")

    workload = timing.Workload(features=5, hidden=7, classes=3, batch=6)
    monkeypatch.setattr(timing, "TorchRunner", out_of_memory)
    row, runner = timing.torch_backend(workload, "cpu", *timing.synthetic_batch(workload), threads=1)
    assert runner is None and row.status == "failed" and row.note.startswith("RuntimeError: CUDA out of memory")
    assert timing.time_torch(workload, "cpu").status == "failed"
