"""The real clock: timezone-aware UTC from the operating system, plus the sandbox account's offset.

The offset is zero except while serving a request of a sandbox account whose clock was moved
forward with ``POST /sandbox/clock/advance`` (see ``service.sandbox.CLOCK_OFFSET``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from payintents.service.sandbox import CLOCK_OFFSET


class SystemClock:
    def now(self) -> datetime:
        return self.real_now() + CLOCK_OFFSET.get()

    def real_now(self) -> datetime:
        return datetime.now(UTC)
