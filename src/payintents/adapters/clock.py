"""The real clock: timezone-aware UTC from the operating system.

A sandbox account's moved clock is not the clock's business: a request carries its offset in its
``RequestContext`` and its use case asks ``ctx.now(deps.clock)``.
"""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
