"""One function per resource a submission could exhaust. Each reports how far it got."""
import os
import socket
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def memory():
    return np.ones(2**40)  # 8 TiB


def memory_in_many_processes(n=4, mb=120):
    """Each process stays under the per-process limit; together they exceed the sandbox's memory."""
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            block = np.ones(mb * 2**20 // 8)  # touched: resident, not just reserved
            time.sleep(1)
            os._exit(0 if block.sum() > 0 else 1)
        pids.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    return {"completed": sum(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in statuses),
            "killed": sum(os.WIFSIGNALED(s) for s in statuses)}


def spin():
    while True:
        pass


def fork_bomb(n=500):
    started, error = 0, ""
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError as e:
            error = e.strerror
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        started += 1
    return {"started": started, "error": error}


def big_file(nbytes):
    written, error = 0, ""
    block = b"\0" * 2**20
    try:
        with open(os.path.join(HERE, "big.bin"), "wb") as f:
            while written < nbytes:
                f.write(block)
                f.flush()
                written += len(block)
    except OSError as e:
        error = e.strerror
    return {"size": os.path.getsize(os.path.join(HERE, "big.bin")), "error": error}


def scratch_space(nbytes):
    """Fill /tmp (not our own folder) with small files."""
    written, error = 0, ""
    try:
        for k in range(nbytes // 2**20 + 1):
            with open(f"/tmp/fill-{os.getpid()}-{k}", "wb") as f:
                f.write(b"\0" * 2**20)
            written += 2**20
    except OSError as e:
        error = e.strerror
    return {"written": written, "error": error}


def open_files(n=10_000):
    files, error = [], ""
    try:
        for _ in range(n):
            files.append(open(__file__, "rb"))
    except OSError as e:
        error = e.strerror
    count = len(files)
    for f in files:
        f.close()
    return {"opened": count, "error": error}


def flood(nbytes=16 * 2**20):
    line = "y" * 1023
    for _ in range(nbytes // 1024):
        print(line)
    return "done"


def network():
    out = {}
    for name, addr in (("internet", ("1.1.1.1", 53)), ("dns", ("8.8.8.8", 53))):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(addr)
            out[name] = "connected"
        except OSError as e:
            out[name] = e.strerror or type(e).__name__
        finally:
            s.close()
    try:
        out["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    except OSError:
        out["interfaces"] = []
    return out
