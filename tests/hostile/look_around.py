"""Look for what the allow-list view must not show, make IPC objects that would outlive grading, and try
to leave the sandbox's namespaces. attack.json: "paths" to try to read, "key" for the IPC objects."""
import ctypes
import errno
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "attack.json")) as f:
    ATTACK = json.load(f)
LIBC = ctypes.CDLL(None, use_errno=True)


def read_paths():
    """What reading each path gave: its first bytes, or the error."""
    out = {}
    for path in ATTACK["paths"]:
        try:
            if os.path.isdir(path):
                out[path] = "listed: " + ",".join(sorted(os.listdir(path)))
            else:
                with open(path, "rb") as f:
                    out[path] = "read: " + f.read(200).decode("utf-8", "replace")
        except OSError as e:
            out[path] = f"error: {e.strerror}"
    return out


def imports():
    out = {}
    for name in ATTACK.get("modules", []):
        try:
            __import__(name)
            out[name] = "imported"
        except BaseException as e:  # noqa: BLE001
            out[name] = f"{type(e).__name__}: {e}"
    return out


def plot():
    import matplotlib.pyplot as plt
    fig = plt.figure()
    plt.plot([1, 2, 3])
    fig.savefig("plot.png")
    return plt.get_backend()


def fill_disk(n_bytes):
    """Write n_bytes to the working folder and to /tmp; returns what each write got to, and the error."""
    out = {}
    for path in ("big.bin", "/tmp/big.bin"):
        written, error = 0, ""
        try:
            with open(path, "wb") as f:
                block = b"x" * 2**20
                while written < n_bytes:
                    f.write(block)
                    written += len(block)
                f.flush()
        except OSError as e:
            error = e.strerror
        out[path] = (written, error)
        try:
            os.unlink(path)
        except OSError:
            pass
    return out


def make_ipc():
    """A SysV shared memory segment, message queue and semaphore set, and a POSIX message queue."""
    key = ATTACK["key"]
    made = {"shm": LIBC.shmget(key, 4096, 0o1666), "msg": LIBC.msgget(key, 0o1666), "sem": LIBC.semget(key, 1, 0o1666)}
    rt = ctypes.CDLL("librt.so.1", use_errno=True) if not hasattr(LIBC, "mq_open") else LIBC
    made["mq"] = rt.mq_open(f"/grader-{key}".encode(), os.O_CREAT | os.O_RDWR, 0o666, None)
    return made


def find_ipc():
    """Whether objects with the attack's key exist here (-1: no)."""
    key = ATTACK["key"]
    rt = ctypes.CDLL("librt.so.1", use_errno=True) if not hasattr(LIBC, "mq_open") else LIBC
    return {"shm": LIBC.shmget(key, 0, 0), "msg": LIBC.msgget(key, 0), "sem": LIBC.semget(key, 0, 0),
            "mq": rt.mq_open(f"/grader-{key}".encode(), os.O_RDWR, 0, None)}


def escape():
    """Each way out of the sandbox's namespaces: the errno it got (0: it worked)."""
    out = {}

    def attempt(name, result):
        out[name] = 0 if result == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    attempt("unshare user", LIBC.unshare(0x10000000))
    attempt("unshare mount", LIBC.unshare(0x00020000))
    attempt("mount tmpfs", LIBC.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    attempt("setns", LIBC.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
    attempt("chroot", LIBC.chroot(b"/tmp"))
    return out
