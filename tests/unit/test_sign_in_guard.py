"""The dashboard's sign-in throttle and password-check slots on their own (ADR 0023), with a
settable monotonic clock: failures counted per user name and per address in a sliding minute,
attempts counted from admission (so parallel ones cannot slip through), successes and unchecked
attempts taken back, IPv6 clients counted by their /64, bounded tables, and slots that refuse,
rather than queue without end, when checks are all busy."""

from __future__ import annotations

import anyio
import pytest

from payintents.web.dashboard import sign_in_guard
from payintents.web.dashboard.sign_in_guard import (
    HashSlots,
    SignInBusyError,
    SignInGuard,
    SignInLimits,
    SignInThrottledError,
    address_key,
)
from tests.fakes import FakeMonotonic


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def guard(clock: FakeMonotonic) -> SignInGuard:
    return SignInGuard(SignInLimits(failures_per_user=5, failures_per_address=8), monotonic=clock)


def fail(guard: SignInGuard, username: str | None, address: str = "203.0.113.7") -> None:
    guard.admit(address, username)  # admitted and never settled: a failure


def test_the_sixth_attempt_for_a_user_within_a_minute_is_refused(
    guard: SignInGuard, clock: FakeMonotonic
) -> None:
    for second in range(5):
        fail(guard, "alice")
        clock.advance(10 if second == 0 else 1)
    with pytest.raises(SignInThrottledError) as refused:
        guard.admit("198.51.100.1", "Alice ")  # another address, the same name in another spelling
    # The first failure (at 0 s) leaves the window at 60 s; it is now 14 s.
    assert refused.value.retry_after_s == 46
    clock.advance(46)
    guard.admit("198.51.100.1", "alice").succeeded()


def test_a_refused_attempt_counts_for_nothing(guard: SignInGuard, clock: FakeMonotonic) -> None:
    for _ in range(5):
        fail(guard, "alice")
    for _ in range(20):
        with pytest.raises(SignInThrottledError):
            guard.admit("203.0.113.7", "alice")
    clock.advance(60)
    fail(guard, "alice")  # the window emptied: refusals did not keep it full


def test_parallel_attempts_count_before_any_is_checked(guard: SignInGuard) -> None:
    admitted = [guard.admit(f"203.0.113.{n}", "alice") for n in range(5)]
    with pytest.raises(SignInThrottledError):
        guard.admit("203.0.113.99", "alice")
    assert len(admitted) == 5


def test_a_success_takes_its_attempt_back_and_clears_the_users_failures(guard: SignInGuard) -> None:
    for _ in range(4):
        fail(guard, "alice")
    guard.admit("203.0.113.7", "alice").succeeded()
    for _ in range(4):
        fail(guard, "alice")  # the user's count started again: four more, and still admitted
    # The address kept its own 8 failures: 4 + 4, the success taken back.
    with pytest.raises(SignInThrottledError):
        guard.admit("203.0.113.7", "bob")


def test_an_unchecked_attempt_is_withdrawn(guard: SignInGuard) -> None:
    for _ in range(10):
        guard.admit("203.0.113.7", "alice").withdrawn()
    fail(guard, "alice")


def test_an_address_is_limited_across_user_names_and_keys(guard: SignInGuard) -> None:
    for n in range(4):
        fail(guard, f"user{n}")
        fail(guard, None)  # an API key tried on the sign-in form
    with pytest.raises(SignInThrottledError):
        guard.admit("203.0.113.7", "somebody-new")
    with pytest.raises(SignInThrottledError):
        guard.admit("203.0.113.7", None)
    fail(guard, "somebody-new", address="203.0.113.8")


def test_ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.7") == address_key("203.0.113.7") == "203.0.113.7"
    assert address_key(None) == address_key("") == "unknown"
    assert address_key("testclient") == "testclient"


def test_the_tables_stay_bounded(clock: FakeMonotonic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sign_in_guard, "MAX_TRACKED", 3)
    guard = SignInGuard(SignInLimits(failures_per_address=4), monotonic=clock)
    for n in range(3):
        fail(guard, f"name{n}", address="203.0.113.7")
    with pytest.raises(SignInBusyError):
        guard.admit("203.0.113.7", "name3")  # a fourth name while three are in the window
    fail(guard, "name0")  # the refused attempt counted nowhere: the address's fourth is this one
    clock.advance(61)
    fail(guard, "name3")  # expired names were dropped to make room


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SignInLimits(failures_per_user=0)


def test_checks_beyond_the_slots_wait_then_get_busy() -> None:
    slots = HashSlots(size=1, wait_s=0.2)
    outcomes: list[str] = []

    async def check(name: str, hold_s: float) -> None:
        try:
            async with slots.held():
                outcomes.append(f"{name} checked")
                await anyio.sleep(hold_s)
        except SignInBusyError:
            outcomes.append(f"{name} busy")

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(check, "first", 0.5)
            await anyio.sleep(0.05)
            tasks.start_soon(check, "second", 0.0)  # waits 0.2 s, the first still holds the slot
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(check, "third", 0.0)  # the slot was given back

    anyio.run(main)
    assert outcomes == ["first checked", "second busy", "third checked"]


def test_no_more_than_eight_attempts_wait_per_slot() -> None:
    slots = HashSlots(size=1, wait_s=5.0)
    busy: list[int] = []

    async def check(n: int) -> None:
        try:
            async with slots.held():
                await anyio.sleep(0.05)
        except SignInBusyError:
            busy.append(n)

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for n in range(12):  # one holds the slot, eight wait, three are turned away at once
                tasks.start_soon(check, n)

    anyio.run(main)
    assert len(busy) == 3
