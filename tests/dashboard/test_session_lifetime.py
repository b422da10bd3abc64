"""How dashboard sessions end, on both stores: after 30 idle minutes (a setting) besides the 8-hour
limit; at once when the key they signed in with is revoked, or their user is deleted or given a new
password, while other sessions carry on. Being seen is written once a minute at most. A user
signing in lands on the environment that has payments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import ConfigurationError, Settings, build_dependencies
from payintents.domain.intent import Environment
from payintents.service import dashboard, keys, users
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import PASSWORD, Dashboard, new_user, payintents, text_of
from tests.fakes import FakeClock
from tests.support import Api


def clocked(database_url: str) -> tuple[Dependencies, FakeClock]:
    clock = FakeClock()
    return build_dependencies(Settings(database_url=database_url), clock=clock), clock


def test_a_session_ends_after_thirty_idle_minutes(database_url: str) -> None:
    deps, clock = clocked(database_url)
    signed_in = dashboard.sign_in_with_key(deps, create_account(deps, "merchant").sandbox_key)
    assert signed_in is not None
    for _ in range(3):  # a page every 29 minutes keeps it alive
        clock.advance(minutes=29)
        assert dashboard.find_session(deps, signed_in.token) is not None
    clock.advance(minutes=30)
    assert dashboard.find_session(deps, signed_in.token) is None


def test_activity_never_stretches_the_eight_hours(database_url: str) -> None:
    deps, clock = clocked(database_url)
    signed_in = dashboard.sign_in_with_key(deps, create_account(deps, "merchant").sandbox_key)
    assert signed_in is not None
    for _ in range(8 * 3 - 1):
        clock.advance(minutes=20)
        assert dashboard.find_session(deps, signed_in.token) is not None
    clock.advance(minutes=20)
    assert dashboard.find_session(deps, signed_in.token) is None


def test_the_idle_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYINTENTS_DASHBOARD_IDLE_TIMEOUT_MIN", "5")
    settings = Settings.from_environment()
    assert settings.dashboard_idle_timeout == timedelta(minutes=5)
    assert Settings().dashboard_idle_timeout == timedelta(minutes=30)
    for wrong in ("0", "-1", "ten", "1.5", ""):
        monkeypatch.setenv("PAYINTENTS_DASHBOARD_IDLE_TIMEOUT_MIN", wrong)
        with pytest.raises(ConfigurationError, match="PAYINTENTS_DASHBOARD_IDLE_TIMEOUT_MIN"):
            Settings.from_environment()


def test_a_shorter_idle_timeout_holds(database_url: str) -> None:
    clock = FakeClock()
    settings = Settings(database_url=database_url, dashboard_idle_timeout=timedelta(minutes=5))
    deps = build_dependencies(settings, clock=clock)
    signed_in = dashboard.sign_in_with_key(deps, create_account(deps, "merchant").sandbox_key)
    assert signed_in is not None
    clock.advance(minutes=5)
    assert dashboard.find_session(deps, signed_in.token) is None


def _session_writes(engine: Engine) -> list[str]:
    writes: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DASHBOARD_SESSIONS"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return writes


def test_being_seen_is_written_once_a_minute_at_most(database_url: str) -> None:
    clock = FakeClock()
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine, clock=clock)
    signed_in = dashboard.sign_in_with_key(deps, create_account(deps, "merchant").sandbox_key)
    assert signed_in is not None
    writes = _session_writes(engine)
    for _ in range(20):
        clock.advance(seconds=2)
        assert dashboard.find_session(deps, signed_in.token) is not None
    assert len(writes) == 0
    clock.advance(seconds=20)
    assert dashboard.find_session(deps, signed_in.token) is not None
    assert len(writes) == 1
    engine.dispose()


def test_revoking_a_key_ends_its_sessions_and_no_others(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    second = keys.create_key(deps, account.account_id, Environment.SANDBOX).raw_key
    with_revoked, with_other, as_user = Dashboard(client), Dashboard(client), Dashboard(client)
    with_revoked.sign_in_with_key(account.sandbox_key)
    with_other.sign_in_with_key(second)
    as_user.sign_in_as(new_user(deps, account.account_id))
    revocation = keys.revoke_key(deps, account.sandbox_key)
    assert revocation.revoked_now and revocation.sessions_ended == 1
    assert with_revoked.get("/dashboard/payments").status_code == 303
    assert with_other.get("/dashboard/payments").status_code == 200
    assert as_user.get("/dashboard/payments").status_code == 200
    answer = Dashboard(client).sign_in(method="key", api_key=account.sandbox_key)
    assert answer.status_code == 401


def test_a_new_password_or_a_deletion_ends_the_users_sessions(
    client: TestClient, deps: Dependencies, database_url: str
) -> None:
    account = create_account(deps, "merchant")
    alice, bob = new_user(deps, account.account_id, "alice"), new_user(deps, account.account_id, "bob")
    alice_here, alice_there, bob_here = Dashboard(client), Dashboard(client), Dashboard(client)
    for browser, name in ((alice_here, alice), (alice_there, alice), (bob_here, bob)):
        browser.sign_in_as(name)
    changed = payintents(
        database_url, "users", "set-password", alice, "--password-stdin", stdin="a new password!\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert "2 dashboard sessions ended" in changed.stdout
    assert alice_here.get("/dashboard/payments").status_code == 303
    assert alice_there.get("/dashboard/payments").status_code == 303
    assert bob_here.get("/dashboard/payments").status_code == 200
    assert Dashboard(client).sign_in(method="password", username=alice, password=PASSWORD).status_code == 401
    alice_here.sign_in_as(alice, "a new password!")

    deleted = payintents(database_url, "users", "delete", alice)
    assert deleted.returncode == 0, deleted.stderr
    assert "1 dashboard session ended" in deleted.stdout
    assert alice_here.get("/dashboard/payments").status_code == 303
    assert bob_here.get("/dashboard/payments").status_code == 200
    assert users.verify_user(deps, alice, "a new password!") is None


def test_a_user_lands_where_the_payments_are(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    username = new_user(deps, account.account_id)
    browser = Dashboard(client)
    browser.sign_in_as(username)  # no payments anywhere: production
    assert "Production" in text_of(browser.get("/dashboard/payments").text)

    Api(client, account.sandbox_key).create_intent(reference="Trying the sandbox")
    browser = Dashboard(client)
    browser.sign_in_as(username)
    page = text_of(browser.get("/dashboard/payments").text)
    assert "Sandbox" in page and "Trying the sandbox" in page and "Switch to production" in page

    Api(client, account.prod_key).create_intent(reference="A real order")
    browser = Dashboard(client)
    browser.sign_in_as(username)
    page = text_of(browser.get("/dashboard/payments").text)
    assert "A real order" in page and "Switch to sandbox" in page
