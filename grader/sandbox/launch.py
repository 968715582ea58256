"""Starting the student's process: a fresh interpreter, or a fork of this worker's zygote.

A fresh `python child.py CFG` pays for the interpreter and NumPy each time (about 0.25 s of CPU, and
SciPy's special functions, which the course's notebooks import, as much again). A batch worker grades
one submission after another, so it keeps zygotes: `child.py --zygote`, an interpreter that has
imported NumPy (and, for one of them, the modules of a PRELOADS entry) and then only forks. A student
process starts from the zygote that has loaded the most of what the submission's own import
statements name, and nothing more, so its memory map is what a fresh interpreter's would become. A
zygote never runs student code and hears only from its worker. For each student process it forks twice: the middle process exits at once, so the
student's process is re-parented to the worker, which is a child subreaper while any sandbox is open.
From then on it is the worker's own child, reaped and killed like one started with subprocess, and it
does exactly what a fresh child does from confine() on: its cgroup, namespaces, view, uid, limits and
filter are all applied in the fork, before any student code.

What a fork carries over from the zygote, and why that is safe:
  - the zygote's memory: NumPy, its preloads and the grader's helper files, and the bytes of earlier
    requests (paths and limits of other sandboxes, never a seed, an input or a reference);
  - nothing else: the fork closes every descriptor but its pipes, takes the sandbox's environment
    (the C one too), working folder and session, reseeds NumPy's global generator and is dumpable
    again, as after exec.
The zygote itself is not dumpable, so no process of the worker's user can read or trace it. It exits
when its worker closes the socket, killed or not. Any failure to fork through it falls back to a fresh
interpreter for that process, on new pipes where the zygote may have forked already (ZygoteLost).

The difference a student could see: a module the submission imports only inside a function that is
never called is loaded all the same (it counts towards the address-space limit: `scipy.special`, about
90 MB), and a preloaded module's pages are shared with the zygote, so the sandbox's memory cgroup is
not charged for them.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import reaper

CHILD = Path(__file__).with_name("child.py")
PYTHON_FLAGS = ("-s", "-B", *(("-P",) if sys.version_info >= (3, 11) else ()))
# The zygotes a worker keeps, by the modules each loads beyond NumPy. The course's notebooks import
# scipy.special (erf, expit, softmax), and SciPy is always in the student's view.
PRELOADS: tuple[tuple[str, ...], ...] = ((), ("scipy.special",))
PER_SANDBOX = ("HOME", "TMPDIR")  # environment variables the zygote's fork sets for its sandbox
REPLY_TIMEOUT_S = 10.0


def command(*args: str) -> list[str]:
    return [sys.executable, *PYTHON_FLAGS, str(CHILD), *args]


class AdoptedProcess:
    """The part of subprocess.Popen the sandbox uses, for a student process forked by the zygote and
    re-parented to this process: it is our child, so waitpid reaps it and keeps its exit status."""

    def __init__(self, pid: int):
        self.pid = pid
        self.args = ["zygote", str(pid)]
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: as subprocess.Popen, the status is lost
                self.returncode = 0
            else:
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(delay)
            delay = min(0.02, delay * 2)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # not reaped, so the pid is still this process's
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def named(module: str, imports: frozenset[str]) -> bool:
    """Whether importing what `imports` names loads `module` (a.b is loaded by importing a.b or a.b.c)."""
    return any(name == module or name.startswith(module + ".") for name in imports)


def preload_for(imports: frozenset[str]) -> tuple[str, ...]:
    """The largest of PRELOADS whose every module the submission's import statements name."""
    fitting = [p for p in PRELOADS if all(named(m, imports) for m in p)]
    return max(fitting, key=len)


class ZygoteLost(Exception):
    """A zygote failed after it was sent a request: it may have forked a process that holds the request's
    pipes, so the caller starts the student's process again on new ones (a fresh interpreter, since that
    zygote is closed). The orphan reads end of file on them and exits, or dies with the sandbox."""


class Zygote:
    def __init__(self, env: dict[str, str], preload: tuple[str, ...] = ()):
        """env: the environment of the sandboxes it will serve (child_environment), less PER_SANDBOX."""
        self.env = {k: v for k, v in env.items() if k not in PER_SANDBOX}
        self._lock = threading.Lock()  # a Dask worker grades in threads: one request at a time
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                command("--zygote", json.dumps({"socket": theirs.fileno(), "preload": list(preload)})),
                env=self.env, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), close_fds=True)
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        self._sock.settimeout(REPLY_TIMEOUT_S)
        self.spawned = 0  # student processes it has given

    @property
    def alive(self) -> bool:
        return self._sock is not None and self.proc.poll() is None

    def serves(self, env: dict[str, str]) -> bool:
        """Whether a sandbox with this environment can start from this zygote: only its own folders differ
        (NumPy and the BLAS libraries read the rest when they load)."""
        return self.alive and {k: v for k, v in env.items() if k not in PER_SANDBOX} == self.env

    def spawn(self, cfg: dict, cwd: str, env: dict[str, str], fds: tuple[int, int, int]) -> AdoptedProcess | None:
        """A student process running child.py with cfg (its "req"/"resp" replaced by the fds it gets):
        fds = (request read end, response write end, output write end). Call with reaper.spawning() held.
        None if it forked nothing (the caller starts the process fresh on the same pipes); ZygoteLost if it
        may have."""
        body = json.dumps({"cfg": cfg, "cwd": cwd, "env": env}).encode()
        with self._lock:
            if not self.alive:
                return None
            try:
                socket.send_fds(self._sock, [len(body).to_bytes(4, "big")], list(fds))
            except OSError:
                self.close()  # dead: never trusted again
                return None
            try:
                self._sock.sendall(body)
                reply = b""
                while len(reply) < 4:
                    chunk = self._sock.recv(4 - len(reply))
                    if not chunk:
                        raise ConnectionError("the zygote closed its socket")
                    reply += chunk
            except OSError as error:
                self.close()  # out of step, too slow or dead: never trusted again
                raise ZygoteLost(error) from error
        pid = int.from_bytes(reply, "big")
        if pid <= 0:  # the zygote forked nothing
            return None
        me = reaper.read_proc(pid)
        if me is None or me.ppid != os.getpid():  # not re-parented to us (no subreaper): not ours to run
            if me is not None:
                reaper.kill(me)
            self.close()
            raise ZygoteLost(f"process {pid} was not re-parented to the grader")
        self.spawned += 1
        return AdoptedProcess(pid)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()  # the zygote reads end of file and exits
            self._sock = None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_zygotes: dict[tuple[str, ...], Zygote] = {}  # this process's, once keep_zygotes() has started them
_zygote_lock = threading.Lock()


def keep_zygotes(env: dict[str, str]) -> dict[tuple[str, ...], Zygote]:
    """Start this process's zygotes, one per PRELOADS entry (batch workers, once; again for any that died):
    later student processes fork from them."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "send_fds"):
        return {}
    with _zygote_lock:
        for preload in PRELOADS:
            if preload not in _zygotes or not _zygotes[preload].alive:
                _zygotes[preload] = Zygote(env, preload)
        return dict(_zygotes)


def current_zygote(preload: tuple[str, ...] = ()) -> Zygote | None:
    return _zygotes.get(tuple(preload))


def stop_zygotes() -> None:
    with _zygote_lock:
        while _zygotes:
            _zygotes.popitem()[1].close()


def start(cfg: dict, *, cwd: str, env: dict[str, str], output: int, fds: tuple[int, int],
          imports: frozenset[str] = frozenset()):
    """The student's process, as a subprocess.Popen or an AdoptedProcess, registered as a sandbox main
    process before any close() could take it for an orphan. fds: the request read end and the response
    write end, whose numbers cfg names; imports: what the submission's import statements name.
    Raises ZygoteLost when these pipes may be held by a process it forked: call again with new ones."""
    zygote = _zygotes.get(preload_for(imports))
    with reaper.spawning():
        proc = None
        if zygote is not None and zygote.serves(env):
            proc = zygote.spawn(cfg, cwd, env, (*fds, output))
        if proc is None:
            proc = subprocess.Popen(command(json.dumps(cfg)), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=output, stderr=subprocess.STDOUT, pass_fds=fds,
                                    start_new_session=True, close_fds=True)
        reaper.register(proc.pid)
    return proc
