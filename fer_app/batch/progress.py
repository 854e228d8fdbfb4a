"""A one-line progress bar on stderr for the batch: files done / total, errors, media seconds per wall second, time left."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class BatchProgress:
    def __init__(self, total: int, stream=None, width: int = 24, every_s: float = 0.2):
        self.total, self.stream, self.width, self.every_s = total, stream or sys.stderr, width, every_s
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def line(self, done: int, errors: int, media_seconds: float, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        share = done / self.total if self.total else 1.0
        bar = "#" * int(share * self.width)
        left = f"{_clock(elapsed / done * (self.total - done))} left" if 0 < done < self.total else ""
        return (f"[{bar:<{self.width}}] {done}/{self.total} files, {errors} error{'s' if errors != 1 else ''}, "
                f"{media_seconds / elapsed:.2f} media s/s {left}").rstrip()

    def update(self, done: int, errors: int, media_seconds: float) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s and done < self.total:
            return
        self._last = now
        self.stream.write("\r" + self.line(done, errors, media_seconds, now) + "\033[K")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
