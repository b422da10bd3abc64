"""Sign-in throttling for the dashboard, in this worker process (ADR 0023).

Two limits on failed sign-ins in a sliding ``WINDOW_S`` window: per user name (a password guessed
for one user) and per client address (many user names, or keys, tried from one place). An attempt
counts as a failure from the moment it is admitted, so a burst of parallel attempts cannot all
pass before the first one fails; a successful sign-in takes its own attempt back, and clears the
user name's failures. Past a limit the sign-in is refused with ``SignInThrottledError`` carrying
the seconds until the oldest counted failure leaves the window, and nothing is checked.

Every password check costs an Argon2id hash (64 MiB, a few hundred milliseconds of CPU).
``HashSlots`` lets only a few run at once in this process, so a storm of sign-ins can never take
the CPU from the API. An attempt waits for a slot on the event loop, holding no thread, for at
most ``hash_wait_s``, then gets ``SignInBusyError`` (503) and its attempt back.

The windows read an injected monotonic clock, so tests need no sleep.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from payintents.web.rate_limit import whole_seconds

WINDOW_S = 60.0
# A table past this many names or addresses drops the expired ones; one still past it after that
# refuses new names (503) instead of growing: a flood of made-up names cannot exhaust memory.
MAX_TRACKED = 100_000
# How often an attempt waiting for a hash slot looks again.
SLOT_POLL_S = 0.02
# Attempts that may wait per slot; more could not start within the wait anyway, so they get 503 at
# once instead of polling.
MAX_WAITING_PER_SLOT = 8


class SignInThrottledError(Exception):
    """Too many failed sign-ins; ``retry_after_s`` whole seconds until the next may be tried."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SignInBusyError(Exception):
    """No password check could start in time, or the throttle's tables are full."""


@dataclass(frozen=True, slots=True)
class SignInLimits:
    failures_per_user: int = 5
    failures_per_address: int = 30
    # Password checks (Argon2id hashes) running at once in one worker process.
    concurrent_checks: int = 1
    # How long an attempt may wait for a check to start before it gets 503.
    check_wait_s: float = 2.0

    def __post_init__(self) -> None:
        if min(self.failures_per_user, self.failures_per_address, self.concurrent_checks) < 1:
            raise ValueError("sign-in limits must be at least 1")


class FailureWindow:
    """Failures per key (a user name or an address) within the last ``WINDOW_S`` seconds."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._failures: dict[str, deque[float]] = {}

    def wait_s(self, key: str, now_s: float) -> float:
        """0.0 if ``key`` may try now, else the seconds until its oldest failure leaves."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now_s - WINDOW_S:
            failures.popleft()
        if len(failures) < self._limit:
            return 0.0
        return failures[0] + WINDOW_S - now_s

    def make_room(self, key: str, now_s: float) -> None:
        """Raise ``SignInBusyError`` if ``key`` is new and the table is full of live keys."""
        if key not in self._failures and len(self._failures) >= MAX_TRACKED:
            self._drop_expired(now_s)
            if len(self._failures) >= MAX_TRACKED:
                raise SignInBusyError("sign-in throttle tables are full")

    def add(self, key: str, now_s: float) -> None:
        self._failures.setdefault(key, deque()).append(now_s)

    def take_back(self, key: str, at_s: float) -> None:
        failures = self._failures.get(key)
        if failures is not None and at_s in failures:
            failures.remove(at_s)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _drop_expired(self, now_s: float) -> None:
        self._failures = {
            key: failures
            for key, failures in self._failures.items()
            if failures and failures[-1] > now_s - WINDOW_S
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One admitted sign-in, counted as a failure unless it ``succeeded`` or is ``withdrawn``."""

    guard: SignInGuard
    address: str
    username: str | None
    at_s: float

    def succeeded(self) -> None:
        self.guard.settle(self, succeeded=True)

    def withdrawn(self) -> None:
        """The attempt was never checked (no slot): it counts for nothing."""
        self.guard.settle(self, succeeded=False)


class SignInGuard:
    """This worker process's sign-in throttle and password-check slots."""

    def __init__(self, limits: SignInLimits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._users = FailureWindow(limits.failures_per_user)
        self._addresses = FailureWindow(limits.failures_per_address)
        # Sign-ins run on the event loop and in worker threads: one lock keeps admit atomic.
        self._lock = threading.Lock()
        self.slots = HashSlots(limits.concurrent_checks, limits.check_wait_s)

    def admit(self, address: str | None, username: str | None) -> Attempt:
        """Count an attempt from ``address`` (for ``username`` when a password is tried), or raise
        ``SignInThrottledError`` counting nothing."""
        where = address_key(address)
        who = None if username is None else username.strip().lower()
        with self._lock:
            now_s = self._monotonic()
            wait_s = self._addresses.wait_s(where, now_s)
            if who is not None:
                wait_s = max(wait_s, self._users.wait_s(who, now_s))
            if wait_s > 0.0:
                raise SignInThrottledError(whole_seconds(wait_s))
            self._addresses.make_room(where, now_s)
            if who is not None:
                self._users.make_room(who, now_s)
                self._users.add(who, now_s)
            self._addresses.add(where, now_s)
        return Attempt(self, where, who, now_s)

    def settle(self, attempt: Attempt, *, succeeded: bool) -> None:
        with self._lock:
            self._addresses.take_back(attempt.address, attempt.at_s)
            if attempt.username is None:
                return
            if succeeded:
                self._users.clear(attempt.username)
            else:
                self._users.take_back(attempt.username, attempt.at_s)


class HashSlots:
    """At most ``size`` password checks at once in this process; the others wait without a thread."""

    def __init__(self, size: int, wait_s: float) -> None:
        self._free = size
        self._wait_s = wait_s
        self._max_waiting = size * MAX_WAITING_PER_SLOT
        self._waiting = 0
        self._lock = threading.Lock()

    def _take(self, *, waited: bool) -> bool:
        """A slot, or False; the first refusal makes the attempt a waiter, if there is room."""
        with self._lock:
            if self._free > 0:
                self._free -= 1
                if waited:
                    self._waiting -= 1
                return True
            if not waited:
                if self._waiting >= self._max_waiting:
                    raise SignInBusyError("too many sign-ins wait for a password check")
                self._waiting += 1
            return False

    def _stop_waiting(self) -> None:
        with self._lock:
            self._waiting -= 1

    def _give_back(self) -> None:
        with self._lock:
            self._free += 1

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold a slot for the block; ``SignInBusyError`` if none was free within the wait.
        Polling, rather than an asyncio semaphore, keeps the slots free of any one event loop."""
        deadline_s = time.monotonic() + self._wait_s
        if not self._take(waited=False):
            try:
                while not self._take(waited=True):
                    if time.monotonic() >= deadline_s:
                        raise SignInBusyError("no password check could start in time")
                    await anyio.sleep(SLOT_POLL_S)
            except BaseException:
                # Timed out, or the client went away while waiting (cancelled).
                self._stop_waiting()
                raise
        try:
            yield
        finally:
            self._give_back()


def address_key(address: str | None) -> str:
    """Whom an address stands for: an IPv6 client by its /64 (one host often holds the whole
    /64), anyone else by the address; no address at all is one client."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
