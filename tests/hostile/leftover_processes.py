"""Processes meant to outlive grading: a plain child, a double fork with setsid, a process that ignores
SIGTERM and SIGHUP, one that respawns its child when it dies, one that exec'd another program.
report.json (in the submission copy) lists (pid, start time) of each, for the test to check."""
import json
import os
import sys
import signal
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _start_time(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2:].split()[19])


def _note(pid):
    with open(os.path.join(HERE, "report.json"), "a") as f:
        f.write(json.dumps([pid, _start_time(pid)]) + "\n")


def _forever():
    while True:
        time.sleep(0.05)


def _spawn(body, detach=False):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        if detach:  # double fork with setsid: the classic daemon, re-parented away from us
            os.setsid()
            if os.fork():
                os._exit(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _note(os.getpid())
        os.write(w, b"x")
        os.close(w)
        body()
        os._exit(0)
    os.close(w)
    os.read(r, 1)  # the process has noted itself
    os.close(r)
    return pid


def _respawner():
    while True:
        child = os.fork()
        if child == 0:
            _forever()
        _note(child)
        os.waitpid(child, 0)


def _exec_sleep():  # the interpreter: in the allow-list view, /bin is not there
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])


def launch():
    _spawn(_forever)
    _spawn(_forever, detach=True)
    _spawn(_respawner, detach=True)
    _spawn(lambda: (os.setpgid(0, 0), _forever()))
    pid = os.fork()
    if pid == 0:
        _exec_sleep()
    _note(pid)
    time.sleep(0.2)  # let sleep exec, so the test sees the exec'd program too
    return "launched"
