"""The grading side of the sandbox: start the student's process, send calls, enforce limits, restart.

The child (child.py) imports the student's modules and executes calls; this side only sends inputs and
receives plain values (grader.sandbox.wire). While a reply is awaited, one poll() loop watches the
response pipe and the capture pipe (the child's stdout+stderr) and, every TICK, the child's CPU time, the
wall clock and whether the child is still alive. Draining the capture pipe in that same loop means a
flood of output can never block the child, memory stays bounded (output beyond the cap is counted, not
kept), and output is attributed exactly to the call that printed it (the child flushes before replying).

Nothing here raises because of what the student's code did: every failure becomes an ErrorInfo.
A Sandbox is not thread-safe; use one per thread.
"""
from __future__ import annotations

import dataclasses
import math
import os
import select
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from ..i18n import N_, _
from . import launch
from . import limits as _limits
from . import wire
from ..policy import FRAMEWORKS, Violation
from ..sources import module_name
from .confinement import Confinement, Isolation  # noqa: F401 - Isolation is re-exported for callers
from .wire import Handle, Opaque, ProtocolError  # noqa: F401 - re-exported for callers
from .workdir import WorkingCopy

TICK = 0.02  # seconds between CPU/liveness checks while waiting; bounds the CPU overshoot of a limit
WATCH_EVERY = 0.1  # seconds between framework-library scans during a long call
SCAN_EVERY = 0.2  # seconds between framework-library scans after quick exchanges
WALK_EVERY = 1.0  # ... and between walks over /proc for the child's descendants, when it has no cgroup
PIPE_SIZE = 1 << 20  # larger pipes move big arrays in fewer wake-ups (Linux; ignored elsewhere)
READ_AHEAD = 1 << 16  # bytes of the reply pipe read at once (a whole small reply); larger reads go straight in
SIGNAL_MEANINGS = {  # translated where used
    "SIGSEGV": N_("a segmentation fault"),
    "SIGBUS": N_("a bus error"),
    "SIGFPE": N_("a floating-point exception"),
    "SIGABRT": N_("an abort"),
    "SIGILL": N_("an illegal instruction"),
    "SIGKILL": N_("a kill, often for using too much memory"),
}


@dataclass
class Limits:
    cpu_s_per_call: float = 10.0  # CPU seconds per call; verdict-deciding limits are CPU time, not wall time
    wall_s_per_call: float | None = None  # default: 3 * cpu + 5 (catches sleep/blocking)
    import_cpu_s: float = 10.0
    memory_bytes: int = 4 * 2**30  # RLIMIT_AS; below ~2 GiB `import torch` fails, keep >= 4 GiB default
    output_bytes: int = 64 * 1024  # captured stdout+stderr kept per call; the rest is counted and dropped
    total_cpu_s: float = 120.0  # whole-submission budget across restarts
    max_elements: int = 50_000_000
    file_size_bytes: int = 64 * 2**20
    disk_bytes: int = 256 * 2**20  # the tmpfs of the child's working copy, home and /tmp ([limits] disk_mb)
    open_files: int = 256
    extra_processes: int = 16  # processes (tasks) the submission may add: RLIMIT_NPROC and the cgroup's pids.max

    def wall(self, cpu_s: float) -> float:
        return self.wall_s_per_call if self.wall_s_per_call is not None else 3 * cpu_s + 5


@dataclass
class ErrorInfo:
    kind: str  # exception | timeout | crash | exit | memory | protocol | skipped | budget | import | policy
    message: str  # plain sentence for a student, e.g. "forward() did not return within 10 s of CPU time"
    type: str | None = None
    traceback: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass
class Outcome:
    ok: bool
    value: Any = None  # decoded: numpy arrays, python scalars, lists, tuples, dicts, None, Opaque, Handle
    args_after: list = field(default_factory=list)
    kwargs_after: dict = field(default_factory=dict)
    handle: int | None = None
    error: ErrorInfo | None = None
    output: str = ""  # what the student printed during this call (truncated, with a note of how much was dropped)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    times: list = field(default_factory=list)  # call(repeat=n): each call's duration measured in the child
    heap: str = ""  # call(repeat=n): the child's heap policy while timed (heap.py), as the child reports it
    at: int | None = None  # call(each=...) that failed: which call raised, as the child reports it
    attrs: dict = field(default_factory=dict)  # call(read_after=...): the attributes, as getattrs gives them


@dataclass(frozen=True)
class Missing:
    """getattrs() value for an attribute that could not be read."""

    type: str
    message: str


class _Stop(Exception):
    """The wait for a reply ended without one: kind is timeout | budget | dead | protocol."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


class _Capture:
    def __init__(self, limit: int):
        self.limit, self.data, self.dropped = limit, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.limit - len(self.data))
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        text = self.data.decode("utf-8", "replace")
        return text + (f"\n... [{self.dropped} more bytes of output not shown]" if self.dropped else "")


class _Child:
    """One live child process, its pipes, and the waiting logic for one exchange at a time."""

    def __init__(self, proc: subprocess.Popen, req: int, resp: int, cap: int):
        self.proc, self.req, self.resp, self.cap = proc, req, resp, cap
        self._ahead, self._pending = bytearray(READ_AHEAD), memoryview(b"")  # bytes read, not yet consumed
        self.clock = _limits.CpuClock(proc.pid)
        self.started = time.monotonic()
        self.last_cpu = 0.0
        self.watch = None  # called on every liveness check; may raise _Stop (the framework policy)
        # Set per exchange by Sandbox._exchange:
        self.deadline = self.cpu_deadline = math.inf
        self.capture = _Capture(0)
        self.last_check = 0.0

    def cpu(self) -> float:
        if self.proc.returncode is not None:  # reaped: its pid may already belong to someone else
            return self.last_cpu
        v = self.clock.seconds()
        if v is None:  # no /proc: wall time is the conservative stand-in
            v = time.monotonic() - self.started
        self.last_cpu = max(self.last_cpu, v)
        return self.last_cpu

    def drain(self) -> bool:
        """Read what the capture pipe holds now; False once it is closed or empty."""
        if self.cap < 0:
            return False
        try:
            chunk = os.read(self.cap, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            os.close(self.cap)
            self.cap = -1
            return False
        self.capture.add(chunk)
        return True

    def drain_rest(self, max_s: float = 0.2) -> None:
        # Output printed before the reply is already in the pipe; a student thread printing forever
        # must not keep us here, hence the time box.
        end = time.monotonic() + max_s
        while self.drain() and time.monotonic() < end:
            pass

    def check(self) -> None:
        now = time.monotonic()
        self.last_check = now
        if now >= self.deadline:
            raise _Stop("wall")
        if self.cpu() >= self.cpu_deadline:
            raise _Stop("cpu")
        if self.proc.poll() is not None:
            raise _Stop("dead")
        if self.watch is not None:
            self.watch()

    def wait(self, fd: int, write: bool = False) -> None:
        """Block until fd is ready (or the child dies, or a limit passes), draining output meanwhile."""
        # poll, not select: select fails on fd numbers above 1024, which a busy grader can reach.
        want = select.POLLOUT if write else select.POLLIN
        while True:
            poller = select.poll()
            poller.register(fd, want)
            if self.cap >= 0:
                poller.register(self.cap, select.POLLIN)
            timeout = max(0.0, min(TICK, self.deadline - time.monotonic()))
            ready = dict(poller.poll(timeout * 1000))
            if self.cap in ready:
                self.drain()
            if fd in ready:  # data, room, or a hang-up that the read/write itself will report
                return
            if time.monotonic() - self.last_check >= TICK or not ready:
                try:
                    self.check()
                except _Stop as stop:  # a dead child may still have left its last words in the pipe
                    poller = select.poll()
                    poller.register(fd, want)
                    if stop.kind == "dead" and poller.poll(0):
                        return
                    raise

    def readinto(self, view: memoryview) -> int:  # the reader interface of wire.read_message
        """Up to len(view) bytes of the reply stream. Small reads are served from one read ahead: a reply's
        prefix, header and arrays (a dozen reads) then cost one wait and one system call."""
        if not self._pending:
            self.wait(self.resp)
            if len(view) >= READ_AHEAD:  # a large array goes straight where it belongs
                return os.readv(self.resp, [view])
            self._pending = memoryview(self._ahead)[:os.readv(self.resp, [self._ahead])]
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def send(self, buffers: list) -> None:
        try:
            wire.write_all(self.req, buffers, when_full=lambda: self.wait(self.req, write=True))
        except OSError:  # EPIPE: the child is gone
            raise _Stop("dead") from None

    def close_fds(self) -> None:
        for fd in (self.req, self.resp, self.cap):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.req = self.resp = self.cap = -1
        self.clock.close()


def _kill_group(proc: subprocess.Popen) -> None:
    try:  # the child leads its own session, so its pid is the group id; this also reaches grandchildren
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # unkillable (D state): leave it, never hang the grader
        pass


def _cleanup(res: dict) -> None:
    child, confinement = res.pop("child", None), res.get("confinement")
    if child is not None:
        if confinement is not None:  # every process of the sandbox, not only the child's group
            confinement.end(child.proc)
        else:
            _kill_group(child.proc)
        child.close_fds()
    if confinement is not None:
        confinement.close()
    res["copy"].remove()


def _module_name(m: str) -> str:
    """A module given as a name or a file path, as the child imports it (the loader's rule)."""
    return module_name(m) or m


def _module_file(m: str) -> str:
    return m.replace(".", "/") + ".py"


def _fmt_s(s: float) -> str:
    return f"{s:g}"


def _text(x: Any, n: int) -> str | None:
    return None if x is None else str(x)[:n]


def child_environment(home: str, temp: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The student's process's environment, built from nothing: no secrets or PYTHON* settings leak from
    the grader. One thread per BLAS library: the grader decides how many processes run side by side."""
    return {
        "PATH": os.defpath,
        "HOME": home,
        "TMPDIR": temp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONSAFEPATH": "1",
        "PYTHONIOENCODING": "utf-8",
        "MPLBACKEND": "Agg",
        **{v: "1" for v in _limits.BLAS_THREAD_VARIABLES},
        **(extra or {}),
    }


class Sandbox:
    """Run one submission's code in a child process. See the module docstring and docs/architecture.md."""

    def __init__(
        self,
        root: Path,
        modules: dict[str, str] | list[str],
        limits: Limits | None = None,
        env_extra: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        search_path: list[Path | str] | None = None,
        isolation: Isolation | None = None,
        policy: Any = None,
        hide: list[Path | str] = (),
        adapter: bool = False,
        allow: tuple[str, ...] | list[str] = (),
        on_spawn=None,
        imports: frozenset[str] = frozenset(),
    ):
        """root: the submission folder (copied; the copy is what runs). modules: dotted module names or file
        paths to import, or graded name -> module (then call() finds a name's module itself).
        `files`: generated sources (converted notebooks) to write into the copy, relative path -> text.
        search_path: folders of the submission put on the child's sys.path after the root (absolute within
        root, or relative to it), so sibling imports work inside nested folders.
        isolation: which confinement to attempt (default: all the platform allows; see confinement.py).
        policy: a grader.policy.FrameworkPolicy (frameworks the child may not load), or None.
        hide: more files or folders the child must not see (the assignment's folder, say).
        adapter: load the grader's PyTorch actions (torch_ops.py) into the child, for call(adapter=...).
        allow: distributions or modules the child's view shows beyond NumPy, SciPy and matplotlib (and what
        they require), e.g. ("torch",); the frameworks `policy` allows are shown too (grader/sandbox/view.py).
        on_spawn: called each time a child process has been started, before its greeting: the grader can
        begin its own slow work (importing PyTorch) while the child boots on the other core.
        imports: the modules the submission's import statements name (LoadPlan.imports): in a batch worker, a
        child may start with those of them a zygote has loaded already, and with nothing else (launch.py)."""
        self.on_spawn = on_spawn
        self.imports = frozenset(imports)
        self.adapter = adapter
        self.limits = limits or Limits()
        if isinstance(modules, dict):  # graded name -> module defining it (from the loader)
            self.defined_in = {name: _module_name(m) for name, m in modules.items()}
            names = list(self.defined_in.values())
        else:
            self.defined_in, names = {}, [_module_name(m) for m in modules]
        self.modules = list(dict.fromkeys(names))
        self._copy = WorkingCopy(Path(root), files)
        self.notes = list(self._copy.notes)  # what the copy left out (links, special files, over the caps)
        self._res: dict[str, Any] = {"copy": self._copy}
        self._finalizer = weakref.finalize(self, _cleanup, self._res)
        self.cwd = str(self._copy.root)  # where the child runs, for messages: never opened by the grader
        self.search_path: list[str] = []
        for folder in search_path or []:
            folder = Path(folder)
            rel = folder.resolve().relative_to(Path(root).resolve()) if folder.is_absolute() else folder
            if rel.as_posix() != "." and rel.as_posix() not in self.search_path:
                self.search_path.append(rel.as_posix())
        self.env = child_environment(str(self._copy.home), str(self._copy.temp), env_extra)
        self.wire_limits = wire.WireLimits(max_elements=self.limits.max_elements)
        self.protections = _limits.platform_protections()
        self.policy = policy
        self._violations: list[Violation] = []
        self._flagged: set[int] = set()  # pids already found with a framework loaded
        options = isolation or Isolation(scratch_bytes=self.limits.disk_bytes)
        allow = [*allow, *(getattr(policy, "allowed", ()) or ())]
        allow = [m for a in allow for m in (FRAMEWORKS[a][0] if a in FRAMEWORKS else (a,))]  # torch: torchvision...
        if allow:
            options = dataclasses.replace(options, allow=tuple(dict.fromkeys([*options.allow, *allow])))
        self._confinement = Confinement(options, self._copy, Path(root), hide,
                                        pids_max=self.limits.extra_processes + 4,
                                        memory_max=self.limits.memory_bytes)
        self._res["confinement"] = self._confinement
        self.protections.update(self._confinement.protections,
                                framework_import_block=bool(policy is not None and policy.blocked),
                                framework_maps_check=policy is not None and os.path.exists("/proc/self/maps"))
        self._importing: str | None = None  # the module being imported by the current exchange
        self._exchange: tuple[str, str | None] = ("", None)  # (label, module) of the current exchange
        self._last_watch = self._last_walk = self._last_scan = 0.0
        self.import_errors: dict[str, ErrorInfo | None] = {}
        self.import_output: dict[str, str] = {}
        self.start_times: list[float] = []  # seconds from spawn to the child's hello, per child started
        self.restarts = 0
        self._spawns = 0
        self._child: _Child | None = None
        self._broken: ErrorInfo | None = None  # the child cannot even start: every call fails with this
        self._cpu_spent = 0.0  # CPU of children that have ended
        self._wall_charged = 0.0  # idle seconds of wall-clock timeouts, charged to the budget too
        self._next_handle = 1
        self._handles: dict[int, str] = {}  # live handle -> type name of the object
        self._stale: dict[int, str] = {}  # handles of children that have ended -> type name
        self._timed_out: dict[str, str] = {}
        self._refused: dict[str, ErrorInfo] = {}  # qual -> its framework-policy error: not run again
        self._seq = 0  # request number, echoed in the reply; the greeting is 0

    # ------------------------------------------------------------------ public API

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._child is not None:
            self._end_child()
        self._finalizer()

    @property
    def cpu_used(self) -> float:
        """CPU seconds the submission has used so far, over all its processes."""
        return self._cpu_spent + (self._child.cpu() if self._child is not None else 0.0)

    @property
    def budget_used(self) -> float:
        """What counts against total_cpu_s: CPU time, plus the wall time of calls stopped by the wall clock
        (so a submission whose every function sleeps also runs out, instead of costing 35 s per function)."""
        return self.cpu_used + self._wall_charged

    def start(self) -> dict[str, ErrorInfo | None]:
        """Import every module (once); returns module -> None or the ErrorInfo of its failed import."""
        for m in self.modules:
            if m not in self.import_errors:
                err = self._ensure_child()
                self.import_errors[m] = err or self._import(m)
        return dict(self.import_errors)

    def call(
        self,
        target: str,
        *args: Any,
        obj: int | Handle | None = None,
        kwargs: dict | None = None,
        keep: bool = False,
        module: str | None = None,
        label: str | None = None,
        return_args: bool = True,
        repeat: int | None = None,
        adapter: str | None = None,
        each: list | None = None,
        collect: bool = False,
        read_after: list[str] | None = None,
    ) -> Outcome:
        """Call a student function (or, with obj, a method of a kept object) and return what happened.

        Args may contain Handle(k) to pass kept objects back. keep=True keeps the result in the child and
        returns its handle. return_args=False skips sending the arguments back (saves time on big inputs).
        repeat=n (timing) calls n times with the same arguments within one request (one CPU limit for all);
        Outcome.times holds each call's duration as the child measured it, value the last result.
        adapter="name": run the grader's action of that name (torch_ops.py) on the student's target (which
        may be None: target=""), with these arguments; the label names the student's target.
        each=[args, ...] (instead of args): call once per argument list, in order, within one request (whose
        CPU limit is that of as many calls); value is the last result (collect=True: the list of every
        result, also when a call failed: the results before it), and Outcome.at says which call failed.
        read_after=[names]: after a successful call, read these attributes of the object (Outcome.attrs,
        as getattrs gives them) in the same request.
        """
        if adapter is not None and not target and obj is None:
            target, module = None, None
        if obj is not None:
            obj = obj.id if isinstance(obj, Handle) else int(obj)
            cls = self._handles.get(obj) or self._stale.get(obj) or "object"
            qual = f"{cls.rpartition('.')[2]}.{target or adapter}"
        else:
            module = _module_name(module) if module else self.defined_in.get(target)
            qual = target or adapter
        label = label or f"{qual}()"
        blocked = self._blocked(qual, module, obj, label)
        if blocked:
            return Outcome(ok=False, error=blocked)
        header = {"op": "call", "target": target, "obj": obj, "module": module, "keep": keep,
                  "return_args": return_args}
        if repeat is not None:
            header["repeat"] = int(repeat)
        if adapter is not None:
            header["adapter"] = adapter
        if read_after:
            header["read_after"] = list(read_after)
        sent = {"args": list(args), "kwargs": dict(kwargs or {})}
        if each is not None:
            header["each"], sent["each"] = True, [list(a) for a in each]
            header["collect"] = bool(collect)
        cpu_s = self.limits.cpu_s_per_call * (max(1, len(each)) if each is not None else 1)
        outcome, reply, values = self._run(header, sent, cpu_s, label, qual)
        if not outcome.ok and each is not None:
            at = reply.get("at")
            outcome.at = at if type(at) is int and 0 <= at < len(each) else None
            if collect and outcome.at is not None and isinstance(values.get("value"), list):
                outcome.value = values["value"][:outcome.at]  # the results before the failing call
        if outcome.ok and read_after:
            outcome.attrs = self._attributes(reply, values)
        if outcome.ok:
            outcome.value = values.get("value")
            outcome.args_after = list(values.get("args_after") or [])
            outcome.kwargs_after = dict(values.get("kwargs_after") or {})
            if repeat is not None and isinstance(reply.get("times"), list):
                outcome.times = [float(t) for t in reply["times"][:int(repeat)] if type(t) in (int, float)]
                outcome.heap = _text(reply.get("heap"), 200) or ""
            if keep:
                h = reply.get("handle")
                if type(h) is not int:
                    return self._protocol_failure(outcome, label, "a kept object came back without a handle")
                outcome.handle = h
                self._handles[h] = _text(reply.get("handle_type"), 200) or "object"
                self._next_handle = max(self._next_handle, h + 1)
        return outcome

    def new(self, class_name: str, *args: Any, **kwargs: Any) -> Outcome:
        """Construct a student class and keep the instance; Outcome.handle refers to it."""
        return self.call(class_name, *args, kwargs=kwargs, keep=True)

    def describe(self, name: str, module: str | None = None, n_args: int | None = None,
                 obj: int | Handle | None = None) -> Outcome:
        """Inspect a name without calling it. Outcome.value: {"callable": bool, "kind": "function" | "class" |
        "other", "type": "module.Class", "params": ["x", "eps=1e-05", ...] or None, "accepts": whether it can
        be called with n_args positional arguments (None when unknown)}."""
        h = obj.id if isinstance(obj, Handle) else obj
        module = None if h is not None else (_module_name(module) if module else self.defined_in.get(name))
        label = f"inspecting {name}"
        blocked = self._blocked(None, module, h, label)
        if blocked:
            return Outcome(ok=False, error=blocked)
        header = {"op": "describe", "target": name, "obj": h, "module": module, "n_args": n_args}
        outcome, _, values = self._run(header, None, self.limits.cpu_s_per_call, label, None)
        if outcome.ok:
            outcome.value = values.get("info") if isinstance(values.get("info"), dict) else None
            outcome.ok = outcome.value is not None
        return outcome

    def getattrs(self, handle: int | Handle | None, names: list[str], module: str | None = None) -> Outcome:
        """Read attributes (dotted paths allowed) of a kept object, or of a module when handle is None.

        Outcome.value maps each name to its value, or to Missing(type, message) if it could not be read.
        """
        h = handle.id if isinstance(handle, Handle) else handle
        label = f"reading {', '.join(names)}"
        blocked = self._blocked(None, _module_name(module) if module else None, h, label)
        if blocked:
            return Outcome(ok=False, error=blocked)
        header = {"op": "getattr", "obj": h, "module": _module_name(module) if module else None,
                  "names": list(names)}
        outcome, reply, values = self._run(header, None, self.limits.cpu_s_per_call, label, None)
        if outcome.ok:
            outcome.value = self._attributes(reply, values)
        return outcome

    @staticmethod
    def _attributes(reply: dict, values: dict) -> dict:
        """The attributes a reply carries: name -> value, or Missing where reading it raised."""
        found = values.get("attrs") if isinstance(values.get("attrs"), dict) else {}
        missing = reply.get("missing") if isinstance(reply.get("missing"), dict) else {}
        for name, info in missing.items():
            info = info if isinstance(info, dict) else {}
            found[str(name)] = Missing(_text(info.get("type"), 100) or "Error", _text(info.get("message"), 500) or "")
        return found

    def setattrs(self, handle: int | Handle | None, values: dict[str, Any], module: str | None = None) -> Outcome:
        h = handle.id if isinstance(handle, Handle) else handle
        label = f"setting {', '.join(values)}"
        blocked = self._blocked(None, _module_name(module) if module else None, h, label)
        if blocked:
            return Outcome(ok=False, error=blocked)
        header = {"op": "setattr", "obj": h, "module": _module_name(module) if module else None}
        return self._run(header, {"values": dict(values)}, self.limits.cpu_s_per_call, label, None)[0]

    def files(self, *actions: tuple, label: str = "file operations") -> Outcome:
        """File operations inside the child's working folder, done by the child as the sandbox's user under
        the per-call time limit: the grader never opens a path there. Each action is ("remove", path),
        ("is_file", path), ("copy", src, dst) or ("read", path), with paths relative to the working folder;
        Outcome.value lists their results (bools; for "read" a uint8 array, None for a non-regular file)."""
        blocked = self._blocked(None, None, None, label)
        if blocked:
            return Outcome(ok=False, error=blocked)
        header = {"op": "files", "actions": [[str(part) for part in action] for action in actions]}
        outcome, _, values = self._run(header, None, self.limits.cpu_s_per_call, label, None)
        if outcome.ok:
            results = values.get("results")
            if not isinstance(results, list) or len(results) != len(actions):
                return self._protocol_failure(outcome, label, "file operations came back incomplete")
            outcome.value = results
        return outcome

    def drop(self, *handles: int | Handle) -> None:
        """Let the child free kept objects (best effort; nothing happens if the child is gone)."""
        ids = [h.id if isinstance(h, Handle) else int(h) for h in handles]
        live = [h for h in ids if self._handles.pop(h, None) is not None]
        if live and self._child is not None and self._child.proc.poll() is None:
            self._call_child(self._encode({"op": "drop", "ids": live}), self.limits.cpu_s_per_call, "drop", None)

    def ping(self) -> Outcome:
        return self._run({"op": "ping"}, None, 5.0, "ping", None)[0]

    # ------------------------------------------------------------------ internals

    def _blocked(self, qual: str | None, module: str | None, obj: int | None, label: str) -> ErrorInfo | None:
        """A reason to answer at once without running anything, or None."""
        if self._broken:
            return self._broken
        if self.budget_used >= self.limits.total_cpu_s:
            return self._budget_error(_("{label} was not run").format(label=label))
        if qual is not None and qual in self._refused:
            return self._refused[qual]
        if qual is not None and qual in self._timed_out:
            return ErrorInfo("skipped", _("{label} was not run again: {reason} earlier").format(
                label=label, reason=self._timed_out[qual]))
        if not self.import_errors and self.modules:
            self.start()
            if self._broken:
                return self._broken
        err = self.import_errors.get(module) if module else None
        if err is not None:
            return ErrorInfo("import", _("{label} could not run because {file} failed to import: {error}").format(
                label=label, file=_module_file(module), error=err.message), err.type, err.traceback, err.file, err.line)
        if obj is not None and obj not in self._handles:
            why = (_("{label} was not run: the object it needs was lost when the student's process restarted after "
                     "an earlier error") if obj in self._stale
                   else _("{label} was not run: the object it needs is unknown (never created, or dropped)"))
            return ErrorInfo("skipped", why.format(label=label))
        return None

    def _ensure_child(self) -> ErrorInfo | None:
        """Have a live child with every module imported that imported fine before."""
        if self._child is not None and self._child.proc.poll() is None:
            return None
        if self._child is not None:
            self._end_child()
        for _attempt in range(len(self.modules) + 1):
            err = self._spawn()
            if err:
                return err
            for m in [m for m, e in self.import_errors.items() if e is None]:
                e = self._import(m)
                if e is not None:  # imported fine before but not now: mark it, and restart if it killed us
                    self.import_errors[m] = e
                    if self._child is None:
                        break
            else:
                return None
        return ErrorInfo("crash", "the student's process could not be restarted")

    def _spawn(self) -> ErrorInfo | None:
        if self._broken:
            return self._broken
        lim = self.limits
        remaining = lim.total_cpu_s - self.budget_used
        if remaining <= 0:
            return self._budget_error("the student's process was not started again")
        rlimits = {"as": lim.memory_bytes, "cpu": math.ceil(remaining) + 2,  # backstop if our watch fails
                   "fsize": lim.file_size_bytes, "nofile": lim.open_files, "core": 0}
        nproc = self._confinement.nproc(lim.extra_processes)
        if nproc is not None:
            rlimits["nproc"] = nproc
        cfg = {"root": self.cwd, "path": self.search_path, "rlimits": rlimits,
               "first_handle": self._next_handle, "isolation": self._confinement.child_config(),
               "block": self.policy.child_config() if self.policy is not None else [],
               "standin": self.policy.standin_config() if self.policy is not None else [],
               "adapter": self.adapter,
               "wire": {"max_elements": lim.max_elements, "max_header_bytes": self.wire_limits.max_header_bytes}}
        t0 = time.monotonic()
        self.restarts += bool(self._spawns)
        self._spawns += 1
        for attempt in range(2):  # again on new pipes if a zygote lost mid-request may hold these (launch.py)
            req_r, req_w = os.pipe()
            resp_r, resp_w = os.pipe()
            cap_r, cap_w = os.pipe()
            for fd in (req_w, resp_r):
                try:
                    fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
                except (OSError, AttributeError):
                    pass
            try:
                proc = launch.start(dict(cfg, req=req_r, resp=resp_w), cwd=self.cwd, env=self.env, output=cap_w,
                                    fds=(req_r, resp_w), imports=self.imports)
                break
            except (launch.ZygoteLost, OSError) as e:
                for fd in (req_r, req_w, resp_r, resp_w, cap_r, cap_w):
                    os.close(fd)
                if isinstance(e, launch.ZygoteLost) and attempt == 0:
                    continue  # that zygote is closed: a fresh interpreter now
                self._broken = ErrorInfo("crash", f"the grader could not start Python for the submission: {e}")
                return self._broken
        for fd in (req_r, resp_w, cap_w):  # the child's ends: closing ours lets EOF tell us it died
            os.close(fd)
        if self.on_spawn is not None:
            self.on_spawn()
        os.set_blocking(req_w, False)
        os.set_blocking(cap_r, False)
        self._child = _Child(proc, req_w, resp_r, cap_r)
        self._res["child"] = self._child
        outcome, hello, _rest = self._call_child(None, lim.import_cpu_s, "starting Python", None)
        if outcome.error and outcome.error.kind == "budget":
            return outcome.error
        if not outcome.ok or not hello.get("hello"):
            # The grader's setup is at fault (numpy missing, memory limit too low): say so, keep the details.
            lines = outcome.output.strip().splitlines()
            detail = lines[-1] if lines else (outcome.error.message if outcome.error else "no greeting")
            self._broken = ErrorInfo("crash", f"the grader could not start Python for the submission: {detail}",
                                     traceback=outcome.output[-4000:] or None)
            return self._broken
        self.start_times.append(time.monotonic() - t0)
        rl = hello.get("rlimits") if isinstance(hello.get("rlimits"), dict) else {}
        for name in _limits.RLIMITS:
            self.protections[f"rlimit_{name}"] = rl.get(name) is True
        self.protections.update(self._confinement.verify(proc.pid, hello.get("confined")))
        return None

    def _import(self, m: str) -> ErrorInfo | None:
        label = f"importing {_module_file(m)}"
        buffers = self._encode({"op": "import", "module": m})
        self._importing = m
        try:
            outcome, _header, _values = self._call_child(buffers, self.limits.import_cpu_s, label, None)
        finally:
            self._importing = None
        self.import_output[m] = outcome.output
        return outcome.error

    def _end_child(self) -> None:
        if self.policy is not None and self._child.proc.poll() is None:
            try:  # the last look before the evidence goes
                self._police({}, force=True)
            except _Stop:
                pass
        child, self._child = self._child, None
        self._res.pop("child", None)
        if child.proc.returncode is None:
            child.cpu()
        self._confinement.end(child.proc)  # and every other process the submission started
        child.close_fds()
        self._cpu_spent += child.last_cpu
        self._stale.update(self._handles)
        self._handles.clear()

    def _run(self, header, values, cpu_s, label, qual) -> tuple[Outcome, dict, dict]:
        """An exchange with a live child, starting a fresh one (and re-importing) if the last one died."""
        err = self._ensure_child()
        if err:
            return Outcome(ok=False, error=err), {}, {}
        # A value that cannot travel is the grader's bug: wire raises TypeError here, before the call runs.
        return self._call_child(self._encode(header, values), cpu_s, label, qual)

    def _encode(self, header: dict, values: dict | None = None) -> list:
        self._seq += 1
        return wire.encode({**header, "seq": self._seq}, values, limits=self.wire_limits, strict=True)

    def _call_child(self, buffers, cpu_s, label, qual) -> tuple[Outcome, dict, dict]:
        """Send buffers (None: only read, e.g. the greeting) and read the reply; failures become Outcomes."""
        c = self._child
        left = self.limits.total_cpu_s - self.budget_used  # also refreshes c.last_cpu
        wall_s = self.limits.wall(cpu_s)
        cpu_cap, wall_cap = min(cpu_s, left), min(wall_s, left)  # the budget can cut a call short
        c.capture = _Capture(self.limits.output_bytes)
        t0, cpu0 = time.monotonic(), c.last_cpu
        c.deadline, c.cpu_deadline = t0 + wall_cap, cpu0 + cpu_cap
        c.last_check = t0
        self._exchange = (label, self._importing)
        c.watch = self._watch if self.policy is not None else None
        try:
            if buffers is not None:
                c.send(buffers)
            reply, decoded = wire.read_message(c, self.wire_limits)
            c.drain_rest()
            if not isinstance(reply.get("ok"), bool):
                raise ProtocolError("reply without 'ok'")
            if reply.get("seq") != (self._seq if buffers is not None else None):
                raise ProtocolError("reply out of sequence")
            if self.policy is not None:
                self._police(reply, force=self._importing is not None)  # an import: know which module did it
        except (_Stop, ProtocolError) as e:
            c.drain_rest()
            kind = e.kind if isinstance(e, _Stop) else "protocol"
            if kind == "protocol" or (kind == "dead" and c.proc.poll() is None):
                try:  # a broken stream from a child that is dying anyway is a crash, not garbage
                    c.proc.wait(timeout=0.2)
                    kind = "dead"
                except subprocess.TimeoutExpired:
                    kind = "protocol"
            cpu, wall = c.cpu() - cpu0, time.monotonic() - t0
            rc = c.proc.returncode
            self._end_child()
            if kind == "wall":
                self._wall_charged += max(0.0, wall - cpu)
            if ((kind == "cpu" and cpu_cap < cpu_s) or (kind == "wall" and wall_cap < wall_s)
                    or (kind == "dead" and rc == -getattr(signal, "SIGXCPU", 999))):  # or the rlimit backstop
                error = self._budget_error(_("{label} was stopped").format(label=label))
            else:
                error = self._stop_error(kind, rc, label, cpu_s, wall_s,
                                         str(e) if kind == "protocol" else e.detail if kind == "policy" else "")
            if error.kind == "timeout" and qual:
                self._timed_out[qual] = error.message.replace(f"{label} ", "", 1)
            if error.kind == "policy" and qual:
                self._refused[qual] = error
            return Outcome(ok=False, error=error, output=c.capture.text(), cpu_s=round(cpu, 3), wall_s=wall), {}, {}
        outcome = Outcome(ok=reply["ok"], output=c.capture.text(), cpu_s=round(c.cpu() - cpu0, 3),
                          wall_s=time.monotonic() - t0)
        if not outcome.ok:
            outcome.error = self._reply_error(reply.get("error"), label)
        return outcome, reply, decoded

    def _watch(self) -> None:
        """During a long exchange: look for framework libraries now and then (a helper process that loads
        one and exits before the reply would otherwise go unseen)."""
        now = time.monotonic()
        if now - self._last_watch >= WATCH_EVERY:
            walk = now - self._last_walk >= WALK_EVERY
            self._last_watch, self._last_walk = now, now if walk else self._last_walk
            self._police({}, walk=walk, force=True)

    def _police(self, reply: dict, walk: bool = False, force: bool = False) -> None:
        """Record a framework-policy violation; raise _Stop when a framework is loaded (the process must go).

        What the child says can only add a violation (an import its own code tried); whether a framework is
        loaded is read from /proc/<pid>/maps (about a millisecond) of the sandbox's processes: those of its
        cgroup, else the main one and, with `walk`, its descendants. Unless forced, at most every SCAN_EVERY:
        a library once loaded stays, and `violations` looks again before anyone reads them."""
        label, module = self._exchange
        attempts = reply.get("policy")
        if isinstance(attempts, list):
            names = tuple(sorted({str(a)[:60] for a in attempts if self.policy.family(str(a))}))
            if names:
                self._violations.append(Violation(label, names, module, "import"))
        used = reply.get("policy_use")
        if isinstance(used, list):  # torch touched through its stand-in while a graded call ran (standin.py)
            names = tuple(sorted({str(a)[:60] for a in used if self.policy.family(str(a))}))
            if names:
                self._violations.append(Violation(label, names, module, "use"))
        now = time.monotonic()
        if not force and now - self._last_scan < SCAN_EVERY:
            return
        self._last_scan = now
        pid = self._child.proc.pid
        found, unreadable = self.policy.scan(self._confinement.processes(pid, walk=walk))
        if found or unreadable:
            violation = Violation(label, tuple(sorted(found)), module, "native" if found else "unverifiable")
            if pid not in self._flagged:
                self._flagged.add(pid)
                self._violations.append(violation)
            raise _Stop("policy", violation.message())

    @property
    def timed_out(self) -> list[str]:
        """The callables a time limit stopped; their later calls are skipped."""
        return sorted(self._timed_out)

    @property
    def violations(self) -> list:
        """Framework-policy violations (grader.policy.Violation), in the order they were found. Reading them
        looks at the student's processes first, so everything up to now is counted (the engine reads them
        before and after each exercise); a child found with a framework loaded is replaced."""
        if self.policy is not None and self._child is not None and self._child.proc.poll() is None:
            try:
                self._police({}, force=True)
            except _Stop:
                self._end_child()
        return self._violations

    def _protocol_failure(self, outcome: Outcome, label: str, detail: str) -> Outcome:
        if self._child is not None:
            self._end_child()
        outcome.ok, outcome.value = False, None
        outcome.error = ErrorInfo("protocol", _("{label} broke the grader's connection to the student's process "
                                                "({detail})").format(label=label, detail=detail))
        return outcome

    def _budget_error(self, what: str) -> ErrorInfo:
        return ErrorInfo("budget", _("{what}: the submission used up its total time budget of {s} s of CPU "
                                     "time").format(what=what, s=_fmt_s(self.limits.total_cpu_s)))

    def _stop_error(self, kind: str, rc: int | None, label: str, cpu_s: float, wall_s: float,
                    detail: str) -> ErrorInfo:
        if kind == "policy":
            return ErrorInfo("policy", detail)
        if kind == "cpu":
            return ErrorInfo("timeout", _("{label} did not return within {s} s of CPU time").format(
                label=label, s=_fmt_s(cpu_s)))
        if kind == "wall":
            return ErrorInfo("timeout", _("{label} did not return within {s} s (wall clock; it may be sleeping or "
                                          "waiting for input)").format(label=label, s=_fmt_s(wall_s)))
        if kind == "protocol" or rc == 70:  # 70: the child itself found the request stream out of step
            return ErrorInfo("protocol", _("{label} broke the grader's connection to the student's process (it may "
                                           "write to file descriptors it does not own): {detail}").format(
                label=label, detail=detail[:200]))
        if rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            meaning = SIGNAL_MEANINGS.get(name)
            return ErrorInfo("crash", _("the Python process crashed during {label}: killed by {signal}").format(
                label=label, signal=name) + (f" ({_(meaning)})" if meaning else ""))
        return ErrorInfo("exit", _("the Python process ended during {label} with exit code {code} (os._exit, or a "
                                   "library that exits the process)").format(label=label, code=rc))

    def _reply_error(self, err: Any, label: str) -> ErrorInfo:
        err = err if isinstance(err, dict) else {}
        typ = _text(err.get("type"), 100) or "Exception"
        msg = _text(err.get("message"), 2000) or ""
        line = err.get("line") if type(err.get("line")) is int else None
        category = err.get("category") if isinstance(err.get("category"), str) else None  # a list is unhashable
        if category == "stale":
            return ErrorInfo("skipped", _("{label} was not run: an object it needs was lost when the student's "
                                          "process restarted after an earlier error").format(label=label))
        if category == "transfer":  # the call worked, but its result was too big or too odd to send
            return ErrorInfo("exception", _("{label} returned a result the grader could not receive: {error}").format(
                label=label, error=msg), typ)
        kind = {"memory": "memory", "exit": "exit"}.get(category, "exception")
        text = {"memory": _("{label} ran out of memory ({type}: {error})"),
                "exit": _("{label} tried to end the program: {error}")}.get(kind)
        text = text or (_("{label} raised {type}: {error}") if msg else _("{label} raised {type}"))
        return ErrorInfo(kind, text.format(label=label, type=typ, error=msg),
                         typ, _text(err.get("traceback"), 8000), _text(err.get("file"), 500), line)
