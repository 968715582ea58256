"""The batch's progress on stderr: a bar with the count, the rate and an ETA on a terminal, one plain
line per finished submission otherwise (logs, CI)."""
from __future__ import annotations

import shutil
import time

from ..i18n import _


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, stream, clock=time.monotonic):
        self.total, self.done, self.stream, self.clock = total, 0, stream, clock
        self.started = clock()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def rate(self) -> float:
        """Submissions per minute so far."""
        elapsed = self.clock() - self.started
        return 60.0 * self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        eta = 60.0 * (self.total - self.done) / rate if rate else None
        return _("{done}/{total}  {rate:.1f}/min  ETA {eta}").format(
            done=self.done, total=self.total, rate=rate, eta=fmt_duration(eta) if eta is not None else "?")

    def step(self, name: str, status: str) -> None:
        self.done += 1
        if self.tty:
            width = shutil.get_terminal_size((80, 20)).columns
            text = self.line()
            slots = max(10, min(40, width - len(text) - 4))
            filled = round(slots * self.done / max(1, self.total))
            bar = "[" + "#" * filled + "." * (slots - filled) + "] "
            self.stream.write("\r" + (bar + text)[:width - 1].ljust(width - 1))
        else:
            self.stream.write(f"{self.line()}  {name}: {status}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()
