"""Go after the other processes of the machine, the batch worker's zygote among them: every process this
one can see is sent SIGKILL, and its environment, memory and open descriptors are tried. What it got is
returned, so the test can show the zygote was never reachable and still serves the next submission."""
import os
import signal


def attack():
    me = os.getpid()
    seen, killed, read = [], [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        seen.append(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass
        for name in ("environ", "mem", "maps"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    f.read(16)
                read.append(f"{pid}/{name}")
            except OSError:
                pass
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                read.append(f"{pid}/fd/{fd} -> {os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:
            pass
    return {"seen": seen, "killed": killed, "read": read}


def describe():
    """What a student's process looks like from inside: the facts a fresh interpreter and a fork must share."""
    import sys

    import numpy as np
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    return {"pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "uid": os.getuid(), "cwd": os.getcwd(),
            "env": dict(os.environ), "fds": len(fds), "argv0": os.path.basename(sys.argv[0]),
            "umask": os.umask(0o022), "random": float(np.random.rand()),
            "stdin": os.readlink("/proc/self/fd/0"), "blas_threads": len(os.listdir("/proc/self/task")),
            "scipy_special": "scipy.special" in sys.modules}
