"""A framework's native library loaded by hand (ctypes), with no Python import at all."""
import ctypes
import json
import os


def load():
    with open(os.path.join(os.path.dirname(__file__), "attack.json")) as f:
        ctypes.CDLL(json.load(f)["library"])
    return "loaded"
