"""Whether the running request may wait, or must give way instead of waiting.

The server runs its quick API operations straight on the event loop (no thread hop): a request
there must never sleep or queue for a lock, because the whole worker would wait with it. Code that
would wait (a sandbox "slow" failure, the SQLite write gate) asks ``may_wait()`` first and, when it
may not, raises ``WouldWaitError`` before anything was committed. (On PostgreSQL such a request runs
in a greenlet whose waits for the database suspend only itself, ADR 0014: it may wait for a row.)
The server then runs the same request again: on a worker thread, where sleeping is fine, or, when
another writer was in the way, on the loop after a short pause.

A sandbox delay (a "slow" failure, the timeout test card) is a pause, not a wait for anything: it
holds no thread either. ``sleep_first`` gives way with ``SleepFirstError``; the request's runner
(``run_awaiting_sleeps``) awaits the pause on the loop and runs the request again, and this time
the pause counts as done. Sixty shoppers on the timeout card are sixty sleeping tasks, not sixty
worker threads (ADR 0021).

Work on the event loop may also end before its commit is durable: on SQLite the writes of every
request of one turn of the loop share one commit (group commit, ADR 0012). Such a request's
``EventLoopWork`` holds the commits it must see succeed before it answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# Each request runs in its own asyncio task, with its own copy of the context: setting this for
# one request never leaks into another, nor into a thread that request hands work to later.
_ON_EVENT_LOOP: ContextVar[EventLoopWork | None] = ContextVar("payintents_on_event_loop", default=None)
# The pauses the running request has already had, when its runner awaits them (None: no such
# runner; a pause then sleeps where it is). A thread the request hands work to gets a copy.
_PAUSES_DONE: ContextVar[tuple[object, ...] | None] = ContextVar("payintents_pauses_done", default=None)


class WouldWaitError(Exception):
    """The request would have had to wait here; nothing it did was committed. Run it again where
    waiting is allowed (a worker thread) or, when ``briefly``, on the event loop again after a
    pause in which the loop serves other requests (another worker's write is about to end)."""

    def __init__(self, detail: str, *, briefly: bool = False) -> None:
        super().__init__(detail)
        self.briefly = briefly


class SleepFirstError(WouldWaitError):
    """The request must pause ``seconds`` before it goes on, and nothing it did was committed: its
    runner awaits the pause, holding no thread, then runs it again with ``reason`` done."""

    def __init__(self, reason: object, seconds: float) -> None:
        super().__init__(f"would sleep {seconds:.3f} s first")
        self.reason = reason
        self.seconds = seconds


@dataclass(slots=True)
class EventLoopWork:
    """One request's work on the event loop, and the shared commits its answer depends on."""

    commits: list[asyncio.Future[None]] = field(default_factory=list)
    # Set by a commit on the loop: from then on the request must not give way and rerun.
    committed: bool = False

    def answer_after(self, commit: asyncio.Future[None]) -> None:
        """Hold the answer until ``commit`` is durable (it raises StoreBusyError if it failed)."""
        if not any(commit is known for known in self.commits):
            self.commits.append(commit)

    async def durable(self) -> None:
        """Wait for every commit this work joined; raises the first one's failure."""
        for commit in self.commits:
            # Shielded: the commit is shared, and cancelling this request must not cancel it.
            await asyncio.shield(commit)


def may_wait() -> bool:
    """False on the event loop's thread, where a wait would stall every request of the worker
    (inside ``without_waiting`` or not: logging an answer runs there too)."""
    if _ON_EVENT_LOOP.get() is not None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def event_loop_work() -> EventLoopWork | None:
    """The running request's event-loop work, or None on a thread."""
    return _ON_EVENT_LOOP.get()


@contextmanager
def without_waiting() -> Iterator[EventLoopWork]:
    """Run the block as event-loop work: anything that would wait raises WouldWaitError."""
    work = EventLoopWork()
    token = _ON_EVENT_LOOP.set(work)
    try:
        yield work
    finally:
        _ON_EVENT_LOOP.reset(token)


def wait(seconds: float, sleep: Callable[[float], None]) -> None:
    """Sleep with ``sleep``, or give way at once on the event loop."""
    if not may_wait():
        raise WouldWaitError(f"would sleep {seconds:.3f} s")
    sleep(seconds)


def sleep_first(reason: object, seconds: float) -> None:
    """Pause ``seconds`` for ``reason`` (equal reasons are one pause), once per request.

    Under ``run_awaiting_sleeps``: raises SleepFirstError until the runner has had the pause, then
    returns at once. Elsewhere (a use case called directly, not through the server): sleeps here,
    or gives way as ``wait`` does on the event loop.
    """
    done = _PAUSES_DONE.get()
    if done is None:
        wait(seconds, time.sleep)
    elif reason not in done:
        raise SleepFirstError(reason, seconds)


async def run_awaiting_sleeps(
    attempt: Callable[[], Awaitable[T]], sleep: Callable[[float], Awaitable[None]]
) -> T:
    """``attempt()`` until it no longer asks for a pause; each pause is awaited with ``sleep``
    (no thread held) and the attempt runs again knowing it was had. The attempt may run on the
    loop or hand its work to a thread: the context, pauses done included, goes with it."""
    done: tuple[object, ...] = ()
    while True:
        token = _PAUSES_DONE.set(done)
        try:
            return await attempt()
        except SleepFirstError as first:
            await sleep(first.seconds)
            done = (*done, first.reason)
        finally:
            _PAUSES_DONE.reset(token)
