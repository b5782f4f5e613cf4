"""A progress bar on a terminal (``bpttlab analyze``, ``bpttlab.analyze(progress=True)``):
``progress(words, fraction)`` redraws one line on a terminal; elsewhere (a log, a notebook's
captured stream) it writes a line when the stage's words change, so the output stays short."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, label: str = ""):
        self.stream = stream or sys.stderr
        self.label = label
        self.start = time.monotonic()
        self.words: str | None = None
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, words: str, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        elapsed = time.monotonic() - self.start
        filled = round(WIDTH * fraction)
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"{self.label}[{bar}] {100 * fraction:3.0f}%  {elapsed:6.1f} s  {words}"
        if self.tty:
            self.stream.write("\r" + line.ljust(100)[:100])
            if fraction >= 1.0:
                self.stream.write("\n")
        elif words != self.words:
            self.stream.write(line + "\n")
        self.words = words
        self.stream.flush()
