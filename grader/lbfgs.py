"""scipy.optimize.minimize(jac=True, method="L-BFGS-B") for the SciPy exercise's training check, run in a
process of the grader's own when one was started ahead, else in this one.

Why a process: after PyTorch is loaded, the grading process is the bottleneck of a single grade (its
threads share one interpreter lock), and importing scipy.optimize there costs about 0.6 s of it. Started
as soon as the student's process is up (an ahead hook, grader/ahead.py), the L-BFGS-B process imports it
on the other core while PyTorch loads here. A process that has scipy.optimize loaded already (a batch
worker, which loads it once for every submission) runs it itself.

Both ways give the same numbers: the same L-BFGS-B on the same float64 values, with BLAS on one thread.
If the process cannot start or fails, the run starts again here from x0.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import lbfgs_process
from .ahead import ahead
from .sandbox.limits import BLAS_THREAD_VARIABLES
from .spec import Function

Evaluate = Callable[[np.ndarray, int], tuple]  # (theta, evaluation number from 1) -> (J, grad)


@dataclass
class Result:
    x: np.ndarray
    fun: float
    nit: int
    success: bool
    message: str
    values: list[float] = field(default_factory=list)  # J of every evaluation, in order


class LbfgsProcess:
    """The grader's own process that runs L-BFGS-B; evaluations come back here (lbfgs_process.py)."""

    def __init__(self):
        env = {**os.environ, **{name: "1" for name in BLAS_THREAD_VARIABLES}}
        self.proc = subprocess.Popen([sys.executable, "-I", lbfgs_process.__file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._finalizer = weakref.finalize(self, _end, self.proc)

    def minimize(self, evaluate: Evaluate, x0: np.ndarray, options: dict) -> Result:
        """Raises what `evaluate` raised (the process is ended), or OSError/EOFError when the process
        failed before the first evaluation (nothing was asked of the student yet: the caller may run it
        here instead). A failure after that is a RuntimeError."""
        x0 = np.ascontiguousarray(x0, dtype=np.float64)
        values: list[float] = []
        try:
            lbfgs_process.write_frame(self.proc.stdin, b"M", lbfgs_process.json_and_array(options, x0.tobytes()))
            while True:
                tag, payload = lbfgs_process.read_frame(self.proc.stdout, limit=1 << 30)
                if tag != b"F":
                    break
                theta = np.frombuffer(payload, dtype=np.float64).copy()
                J, grad = _as_float64(*evaluate(theta, len(values) + 1))
                values.append(J)
                lbfgs_process.write_frame(self.proc.stdin, b"V", np.concatenate(([J], grad)).tobytes())
        except (OSError, EOFError) as error:
            self.close()
            if values:
                raise RuntimeError(f"the grader's L-BFGS-B process failed after {len(values)} evaluations") from error
            raise
        except BaseException:
            self.close()  # it waits for an answer that will not come
            raise
        if tag == b"E":
            self.close()
            raise RuntimeError(f"scipy.optimize.minimize failed: {payload.decode(errors='replace')}")
        if tag != b"R":
            self.close()
            raise RuntimeError(f"the grader's L-BFGS-B process answered {tag!r}")
        result, x = lbfgs_process.split_json(payload)
        return Result(x=np.frombuffer(x, dtype=np.float64).copy(), fun=result["fun"], nit=result["nit"],
                      success=result["success"], message=result["message"], values=values)

    def close(self) -> None:
        self._finalizer()


def _end(proc: subprocess.Popen) -> None:
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    proc.kill()  # its only state is the run in progress
    proc.wait()


def _as_float64(J, grad) -> tuple[float, np.ndarray]:
    return float(J), np.asarray(grad, dtype=np.float64).reshape(-1)


def minimize(evaluate: Evaluate, x0: np.ndarray, options: dict, process: LbfgsProcess | None = None) -> Result:
    """L-BFGS-B from x0 with `options` (maxiter, maxfun); `evaluate(theta, k)` returns (J, grad) at the
    k-th evaluation. In `process` when given (which is then used up), else here."""
    if process is not None:
        try:
            return process.minimize(evaluate, x0, options)
        except (OSError, EOFError):
            pass  # it never started: run it here
        finally:
            process.close()
    import scipy.optimize  # only when a check needs it
    values: list[float] = []

    def fun(theta):
        J, grad = _as_float64(*evaluate(theta, len(values) + 1))
        values.append(J)
        return J, grad
    found = scipy.optimize.minimize(fun, np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
                                    options=options)
    return Result(x=np.asarray(found.x, dtype=np.float64), fun=float(found.fun), nit=int(found.nit),
                  success=bool(found.success), message=str(found.message), values=values)


@ahead("cost_training", units=(Function,))
def start_process(ctx, fn: Function) -> LbfgsProcess | None:
    """The check's L-BFGS-B process, started while PyTorch loads; None where this process has
    scipy.optimize already, or the process cannot be started."""
    if "scipy.optimize" in sys.modules:
        return None
    try:
        return LbfgsProcess()
    except OSError:
        return None
