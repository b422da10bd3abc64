"""Dashboard sign-in throttling through the real app on both stores (ADR 0023), the throttle's
clock under test control: the sixth failure for a user within a minute gets 429 with
``Retry-After`` (even with the right password) and works again once the window has passed; keys
tried from one address are limited too; a password check that cannot start answers 503 and counts
for nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from payintents.web.dashboard.sign_in_guard import SignInBusyError, SignInGuard, SignInLimits
from tests.dashboard.support import PASSWORD, Dashboard, new_user, text_of
from tests.fakes import FakeMonotonic


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def guard(clock: FakeMonotonic) -> SignInGuard:
    return SignInGuard(SignInLimits(), monotonic=clock)


@pytest.fixture
def app_client(deps: Dependencies, guard: SignInGuard) -> Iterator[TestClient]:
    with TestClient(build_app(deps, sign_in_guard=guard), base_url="http://testserver") as http:
        yield http


def test_the_sixth_failure_gets_429_until_the_minute_has_passed(
    app_client: TestClient, deps: Dependencies, clock: FakeMonotonic
) -> None:
    username = new_user(deps, create_account(deps, "merchant").account_id)
    browser = Dashboard(app_client)
    for _ in range(5):
        assert (
            browser.sign_in(method="password", username=username, password="wrong password!").status_code
            == 401
        )
        clock.advance(5)
    refused = browser.sign_in(method="password", username=username, password=PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "35"  # the first failure leaves the window in 35 s
    assert "Too many failed sign-ins. Wait 35 seconds, then try again." in text_of(refused.text)
    assert "payintents_session" not in refused.headers.get("set-cookie", "")
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'self'")
    clock.advance(35)
    browser.sign_in_as(username)
    assert browser.get("/dashboard/payments").status_code == 200


def test_api_keys_tried_from_one_address_are_limited(
    app_client: TestClient, deps: Dependencies, clock: FakeMonotonic
) -> None:
    key = create_account(deps, "merchant").sandbox_key
    browser = Dashboard(app_client)
    for n in range(30):
        assert browser.sign_in(method="key", api_key=f"sk_sandbox_{n}").status_code == 401
    refused = browser.sign_in(method="key", api_key=key)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 60
    clock.advance(60)
    browser.sign_in_with_key(key)


class _NoSlotFree:
    """Slots that are always taken: every password check would wait past its limit."""

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        raise SignInBusyError("no password check could start in time")
        yield  # pragma: no cover - never reached


def test_a_check_that_cannot_start_gets_503_and_counts_for_nothing(
    app_client: TestClient, deps: Dependencies, guard: SignInGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = new_user(deps, create_account(deps, "merchant").account_id)
    browser = Dashboard(app_client)
    slots = guard.slots
    monkeypatch.setattr(guard, "slots", _NoSlotFree())
    for _ in range(10):
        busy = browser.sign_in(method="password", username=username, password=PASSWORD)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "Signing in is busy right now" in text_of(busy.text)
    monkeypatch.setattr(guard, "slots", slots)
    browser.sign_in_as(username)  # ten unchecked attempts left the user's five intact
