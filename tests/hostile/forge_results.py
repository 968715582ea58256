"""A detached process that keeps rewriting the grader's results file with a perfect score for a minute.

At import, a double fork with setsid starts the accomplice; attack.json names the file it rewrites. Each
graded call prints "ACCOMPLICE <pid> <start time> <what its first write did>", so the test can find it
in the check's captured output and make sure it is gone when grading returns."""
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "attack.json")) as f:
    TARGET = json.load(f)["target"]
FORGED = json.dumps({"score": 100.0, "tests": [], "output": "forged"})
r, w = os.pipe()


def _start_time(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2:].split()[19])


def _rewrite_for_a_minute():
    first = None
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            os.makedirs(os.path.dirname(TARGET), exist_ok=True)
            with open(TARGET, "w") as f:
                f.write(FORGED)
            result = "wrote"
        except OSError as e:
            result = type(e).__name__
        if first is None:
            first = result
            os.write(w, f"{os.getpid()} {_start_time(os.getpid())} {first}".encode())
            os.close(w)
        time.sleep(0.01)


middle = os.fork()
if middle == 0:  # double fork, new session, and away
    os.setsid()
    if os.fork() == 0:
        _rewrite_for_a_minute()
    os._exit(0)
os.waitpid(middle, 0)
os.close(w)
ACCOMPLICE = os.read(r, 200).decode()


def relu_forward(x):
    print("ACCOMPLICE", ACCOMPLICE)
    return x * (x > 0)  # correct: the forged file is the attack, not wrong answers
