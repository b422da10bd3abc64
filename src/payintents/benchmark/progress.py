"""A one-line progress bar on stderr, redrawn at most ten times a second."""

from __future__ import annotations

import sys
import time

BAR_WIDTH = 30
REDRAW_INTERVAL_S = 0.1


class ProgressBar:
    def __init__(self, label: str, total: int) -> None:
        self._label = label
        self._total = max(total, 1)
        self._done = 0
        self._started = time.perf_counter()
        self._drawn_at = 0.0

    def advance(self, count: int = 1) -> None:
        self._done += count
        now = time.perf_counter()
        if now - self._drawn_at >= REDRAW_INTERVAL_S:
            self._drawn_at = now
            self._draw(now)

    def finish(self) -> None:
        self._draw(time.perf_counter())
        sys.stderr.write("\n")
        sys.stderr.flush()

    def _draw(self, now: float) -> None:
        filled = BAR_WIDTH * min(self._done, self._total) // self._total
        rate = self._done / max(now - self._started, 1e-9)
        sys.stderr.write(
            f"\r{self._label:<28} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{self._done}/{self._total} {rate:,.0f}/s"
        )
        sys.stderr.flush()
