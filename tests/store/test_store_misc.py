"""The small SQL repositories and the unit of work on SQLite and PostgreSQL: idempotency keys
(claim, complete, replay, reap, a concurrent claim waiting for the holder), rollback without
commit, refunds, accounts and the outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import accounts, idempotency_keys, outbox_events, payment_intents, refunds
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.domain.events import EventName, OutboxEvent
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse, replay
from payintents.domain.intent import Environment, Scope
from payintents.domain.refund import Refund
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.ports import ApiKeyRecord, NewApiKey
from tests.store.test_intent_store import NOW, OTHER, SCOPE, make_intent

BODY = '{"paymentIntentId":"pi_1","message":"refund for Order 234 — £"}'.encode()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=3)
    with SqlUnitOfWork(engine) as uow:
        for scope in (SCOPE, OTHER):
            uow.accounts.add(scope.account_id, "merchant", [], NOW)
        uow.intents.add(make_intent("pi_1"))
        uow.commit()
    yield engine
    engine.dispose()


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def claim_and_complete(engine: Engine, key: str, *, at_offset: timedelta = timedelta(0)) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.claim(SCOPE, "pi_1", key, "fp", NOW + at_offset) is None
        uow.idempotency.complete(SCOPE, "pi_1", key, StoredResponse(200, BODY))
        uow.commit()


# --- idempotency keys ----------------------------------------------------------------------------


def test_a_completed_key_is_replayed_byte_for_byte(engine: Engine) -> None:
    claim_and_complete(engine, "656565gfyd65")
    with SqlUnitOfWork(engine) as uow:
        record = uow.idempotency.claim(SCOPE, "pi_1", "656565gfyd65", "fp", NOW + timedelta(hours=1))
    assert record == IdempotencyRecord("fp", StoredResponse(200, BODY))
    assert replay(record, "fp").body == BODY
    assert count(engine, idempotency_keys) == 1


def test_keys_are_scoped_by_account_environment_and_target(engine: Engine) -> None:
    claim_and_complete(engine, "k")
    with SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.claim(OTHER, "pi_1", "k", "fp", NOW) is None
        assert uow.idempotency.claim(Scope("acc_1", Environment.PRODUCTION), "pi_1", "k", "fp", NOW) is None
        assert uow.idempotency.claim(SCOPE, "pi_2", "k", "fp", NOW) is None
        assert uow.idempotency.claim(SCOPE, "pi_1", "K", "fp", NOW) is None
        uow.commit()
    assert count(engine, idempotency_keys) == 5


def test_an_uncommitted_claim_leaves_the_key_free(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.claim(SCOPE, "pi_1", "k", "fp", NOW) is None
    with SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.claim(SCOPE, "pi_1", "k", "fp2", NOW) is None
    assert count(engine, idempotency_keys) == 0


def test_reap_deletes_only_keys_older_than_the_cutoff(engine: Engine) -> None:
    claim_and_complete(engine, "old", at_offset=-timedelta(hours=73))
    claim_and_complete(engine, "edge", at_offset=-timedelta(hours=72))
    claim_and_complete(engine, "new")
    with SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.reap(NOW - timedelta(hours=72)) == 1
        uow.commit()
    with engine.connect() as conn:
        keys = set(conn.execute(select(idempotency_keys.c.idempotency_key)).scalars())
    assert keys == {"edge", "new"}


def test_a_concurrent_claim_waits_for_the_holder_and_sees_its_answer(engine: Engine) -> None:
    holder = SqlUnitOfWork(engine).__enter__()
    assert holder.idempotency.claim(SCOPE, "pi_1", "race", "fp", NOW) is None
    seen: list[IdempotencyRecord | None] = []
    failures: list[BaseException] = []

    def second_caller() -> None:
        try:
            with SqlUnitOfWork(engine) as uow:
                seen.append(uow.idempotency.claim(SCOPE, "pi_1", "race", "fp", NOW))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=second_caller)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "the second claim did not wait for the first transaction"
    holder.idempotency.complete(SCOPE, "pi_1", "race", StoredResponse(200, BODY))
    holder.commit()
    holder.__exit__(None, None, None)
    thread.join(10)
    assert not failures and seen == [IdempotencyRecord("fp", StoredResponse(200, BODY))]


# --- the unit of work ----------------------------------------------------------------------------


def _write_everything(uow: SqlUnitOfWork) -> None:
    key = NewApiKey("key_3", "h" * 64, "sk_sandbox_hhhh", "acc_3", Environment.SANDBOX)
    uow.accounts.add("acc_3", "third", [key], NOW)
    uow.intents.add(make_intent("pi_2"))
    uow.refunds.add(Refund("rfnd_1", SCOPE, "pi_1", 1, None, None, None, NOW))
    uow.outbox.add(OutboxEvent("evt_1", SCOPE, EventName.REFUND_CREATED, "pi_1", NOW, {"a": 1}))
    uow.idempotency.claim(SCOPE, "pi_1", "k", "fp", NOW)
    assert uow.intents.reserve_refund(SCOPE, "pi_1", 10) is not None


def _totals(engine: Engine) -> list[int]:
    return [count(engine, t) for t in (accounts, payment_intents, refunds, outbox_events, idempotency_keys)]


def test_leaving_a_unit_of_work_without_commit_rolls_everything_back(engine: Engine) -> None:
    before = _totals(engine)
    with SqlUnitOfWork(engine) as uow:
        _write_everything(uow)
    assert _totals(engine) == before
    with SqlUnitOfWork(engine) as uow:
        intent = uow.intents.get(SCOPE, "pi_1")
        assert intent is not None and intent.refunded_amount == 0
        assert uow.accounts.find_key("h" * 64) is None


def test_an_exception_rolls_back_and_propagates(engine: Engine) -> None:
    before = _totals(engine)
    with pytest.raises(RuntimeError, match="boom"), SqlUnitOfWork(engine) as uow:
        _write_everything(uow)
        raise RuntimeError("boom")
    assert _totals(engine) == before


def test_commit_keeps_everything(engine: Engine) -> None:
    before = _totals(engine)
    with SqlUnitOfWork(engine) as uow:
        _write_everything(uow)
        uow.commit()
    assert _totals(engine) == [n + 1 for n in before]


# --- refunds, accounts, outbox -------------------------------------------------------------------


def test_refunds_list_in_the_order_they_were_recorded_within_scope(engine: Engine) -> None:
    # The order is the recording order, not the clock's: a frozen or skewed clock cannot reorder.
    later = Refund("rfnd_a", SCOPE, "pi_1", 300, "r", "n", "tx", NOW + timedelta(seconds=2))
    earlier = Refund("rfnd_z", SCOPE, "pi_1", 200, None, None, None, NOW + timedelta(seconds=1))
    tie = Refund("rfnd_b", SCOPE, "pi_1", 100, None, None, None, NOW + timedelta(seconds=2))
    with SqlUnitOfWork(engine) as uow:
        for refund in (later, earlier, tie):
            uow.refunds.add(refund)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.refunds.list_for_intent(SCOPE, "pi_1") == [later, earlier, tie]
        assert uow.refunds.list_for_intent(OTHER, "pi_1") == []
        assert uow.refunds.get(SCOPE, "rfnd_a") == later
        assert uow.refunds.get(OTHER, "rfnd_a") is None
        assert uow.refunds.get(SCOPE, "rfnd_nope") is None


def test_accounts_find_keys_by_hash(engine: Engine) -> None:
    sandbox = ApiKeyRecord("a" * 64, "acc_9", Environment.SANDBOX, key_id="key_sandbox_9")
    prod = ApiKeyRecord("b" * 64, "acc_9", Environment.PRODUCTION, key_id="key_9")
    new_keys = [
        NewApiKey(key.key_id, key.key_hash, "sk_", key.account_id, key.environment) for key in (sandbox, prod)
    ]
    with SqlUnitOfWork(engine) as uow:
        assert uow.accounts.count() == 2
        uow.accounts.add("acc_9", "nine", new_keys, NOW)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.accounts.find_key("a" * 64) == replace(sandbox, failures_armed=False)
        assert uow.accounts.find_key("b" * 64) == replace(prod, failures_armed=False)
        assert uow.accounts.find_key("c" * 64) is None
        assert uow.accounts.count() == 3
        # A failure armed in the sandbox shows on the sandbox key, and only there.
        uow.sandbox.put_failure(
            Scope("acc_9", Environment.SANDBOX),
            "pi_9",
            InjectedFailure(FailOperation.REFUND, FailOutcome.DECLINED),
        )
        assert uow.accounts.find_key("a" * 64) == sandbox
        assert uow.accounts.find_key("b" * 64) == replace(prod, failures_armed=False)


def test_outbox_events_are_stored_with_their_payload(engine: Engine) -> None:
    data = {"paymentIntentId": "pi_1", "paymentStatus": "Refunded", "captureMode": "Auto"}
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add(
            OutboxEvent("evt_1", SCOPE, EventName.PAYMENT_INTENT_STATUS_UPDATED, "pi_1", NOW, data)
        )
        uow.commit()
    with engine.connect() as conn:
        row = conn.execute(select(outbox_events)).mappings().one()
    assert (row["id"], row["name"], row["account_id"], row["environment"]) == (
        "evt_1",
        "payment_intent.status_updated",
        "acc_1",
        "sandbox",
    )
    assert row["created_at"] == NOW and json.loads(row["payload"]) == data
