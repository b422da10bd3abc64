"""The mirror's refresh paths in SQL, on SQLite and PostgreSQL (ADR 0033): which mirrors the
polling fallback picks (open production intents of upstream accounts only, never compared first,
then the least recently compared, within the limit), which intents the reconciliation report
compares, and the gateway's stored webhook subscriptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope
from payintents.service.upstream_ports import SealedSecret, StoredUpstream
from payintents.service.upstream_sync_ports import MirrorToCheck, StoredSubscription
from tests.store.test_intent_store import NOW, make_intent

GATEWAY = Scope("acc_gw", Environment.PRODUCTION)
GATEWAY_SANDBOX = Scope("acc_gw", Environment.SANDBOX)
PLAIN = Scope("acc_plain", Environment.PRODUCTION)
LATER = NOW + timedelta(minutes=5)


def _intents() -> list[PaymentIntent]:
    expired = make_intent("pi_expired", scope=GATEWAY, paid=False, at=NOW - timedelta(days=40))
    return [
        make_intent("pi_open", scope=GATEWAY, paid=False),
        make_intent("pi_authorized", scope=GATEWAY, mode=CaptureMode.MANUAL),
        make_intent("pi_captured", scope=GATEWAY, at=NOW - timedelta(days=10)),
        expired,
        make_intent("pi_sandbox", scope=GATEWAY_SANDBOX, paid=False),
        make_intent("pi_plain", scope=PLAIN, paid=False),
    ]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    with SqlUnitOfWork(engine) as uow:
        for account_id in ("acc_gw", "acc_plain"):
            uow.accounts.add(account_id, "merchant", [], NOW)
        sealed = SealedSecret("k1", "sealed-key")
        uow.upstreams.put(StoredUpstream("acc_gw", "dojo", "https://api.dojo.tech", sealed, NOW))
        for intent in _intents():
            uow.intents.add(intent)
        uow.commit()
    yield engine
    engine.dispose()


def _due(engine: Engine, checked_before: object, limit: int = 10) -> list[str]:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        found = uow.mirror_checks.due(LATER, checked_before, limit)  # type: ignore[arg-type]
    assert all(isinstance(item, MirrorToCheck) and item.account_id == "acc_gw" for item in found)
    return [item.intent_id for item in found]


def _mark(engine: Engine, intent_id: str, at: object) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.mirror_checks.mark("acc_gw", intent_id, at)  # type: ignore[arg-type]
        uow.commit()


def test_polling_picks_open_production_mirrors_of_upstream_accounts_least_recently_checked_first(
    engine: Engine,
) -> None:
    # Not the Captured one, the expired one, the sandbox's, nor an account without an upstream.
    assert sorted(_due(engine, LATER)) == ["pi_authorized", "pi_open"]
    _mark(engine, "pi_open", NOW)
    assert _due(engine, NOW) == ["pi_authorized"]
    assert _due(engine, LATER) == ["pi_authorized", "pi_open"]
    _mark(engine, "pi_authorized", NOW - timedelta(seconds=1))
    _mark(engine, "pi_open", NOW - timedelta(seconds=2))
    assert _due(engine, LATER) == ["pi_open", "pi_authorized"]
    assert _due(engine, LATER, limit=1) == ["pi_open"]


def test_a_check_is_noted_once_per_intent_and_moves_forward(engine: Engine) -> None:
    _mark(engine, "pi_open", NOW)
    _mark(engine, "pi_open", LATER)
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.mirror_checks.checked_at("pi_open") == LATER
        assert uow.mirror_checks.checked_at("pi_authorized") is None


def test_the_report_compares_open_and_recent_production_intents(engine: Engine) -> None:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        recent = uow.mirror_checks.to_compare("acc_gw", NOW - timedelta(days=1), 100)
        everything = uow.mirror_checks.to_compare("acc_gw", NOW - timedelta(days=100), 100)
        limited = uow.mirror_checks.to_compare("acc_gw", NOW - timedelta(days=100), 2)
    assert sorted(recent) == ["pi_authorized", "pi_expired", "pi_open"]  # the expired one is still Created
    assert sorted(everything) == ["pi_authorized", "pi_captured", "pi_expired", "pi_open"]
    assert len(limited) == 2


def test_a_webhook_subscription_is_stored_replaced_and_deleted(engine: Engine) -> None:
    first = StoredSubscription("acc_gw", "ws_1", "https://gw.example/u", SealedSecret("k1", "s1"), NOW)
    second = StoredSubscription("acc_gw", "ws_2", "https://gw.example/u", SealedSecret("k1", "s2"), LATER)
    with SqlUnitOfWork(engine) as uow:
        uow.upstream_webhooks.put(first)
        uow.upstream_webhooks.put(second)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.upstream_webhooks.get("acc_gw") == second
        assert uow.upstream_webhooks.list() == [second]
        assert uow.upstream_webhooks.delete("acc_gw")
        assert not uow.upstream_webhooks.delete("acc_gw")
        assert uow.upstream_webhooks.get("acc_plain") is None
        uow.commit()


def test_expiry_never_picks_a_mirror_dojo_owns_its_expiry(engine: Engine) -> None:
    # Long after every intent's time ran out: the sandbox's and the plain account's are due; the
    # gateway's production mirrors expire, capture or release at Dojo and only follow it.
    with SqlUnitOfWork(engine, read_only=True) as uow:
        due = uow.intents.due_for_expiry(NOW + timedelta(days=400), 10)
    assert sorted(intent_id for _, intent_id in due) == ["pi_plain", "pi_sandbox"]


def test_polling_still_asks_about_a_mirror_just_past_its_expiry(engine: Engine) -> None:
    # Expired an hour before LATER (30 days after creation): Dojo decides what became of it.
    just_expired = make_intent(
        "pi_just_expired", scope=GATEWAY, paid=False, at=LATER - timedelta(days=30, hours=1)
    )
    with SqlUnitOfWork(engine) as uow:
        uow.intents.add(just_expired)
        uow.commit()
    # The one expired 10 days ago is past the window.
    assert sorted(_due(engine, LATER)) == ["pi_authorized", "pi_just_expired", "pi_open"]
