"""Whether the running request may wait, or must give way instead of waiting.

The server runs its quick API operations straight on the event loop (no thread hop): a request
there must never sleep or queue for a lock, because the whole worker would wait with it. Code that
would wait (a sandbox "slow" failure, the SQLite write gate, a PostgreSQL row lock) asks
``may_wait()`` first and, when it may not, raises ``WouldWaitError`` before anything was committed.
The server then runs the same request again on a worker thread, where waiting is fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Each request runs in its own asyncio task, with its own copy of the context: setting this for
# one request never leaks into another, nor into a thread that request hands work to later.
_ON_EVENT_LOOP: ContextVar[bool] = ContextVar("payintents_on_event_loop", default=False)


class WouldWaitError(Exception):
    """The request would have had to wait here; nothing it did was committed. Run it again where
    waiting is allowed (a worker thread)."""


def may_wait() -> bool:
    return not _ON_EVENT_LOOP.get()


@contextmanager
def without_waiting() -> Iterator[None]:
    """Run the block as event-loop work: anything that would wait raises WouldWaitError."""
    token = _ON_EVENT_LOOP.set(True)
    try:
        yield
    finally:
        _ON_EVENT_LOOP.reset(token)


def wait(seconds: float, sleep: Callable[[float], None]) -> None:
    """Sleep with ``sleep``, or give way at once on the event loop."""
    if not may_wait():
        raise WouldWaitError(f"would sleep {seconds:.3f} s")
    sleep(seconds)
