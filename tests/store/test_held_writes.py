"""A PostgreSQL write transaction's result-less writes go as one statement (held_writes.py,
ADR 0017), and holding them changes nothing a caller can see.

Against a real PostgreSQL: a refund's last four writes arrive as one ``WITH`` statement and are all
stored; whatever the transaction reads next, through a prepared statement or through SQLAlchemy,
sees them; a held write that fails rolls the whole transaction back and surfaces as it would have
on its own; a statement held twice goes out twice, so a second refund row gets the next position;
a connection whose transaction is over holds nothing. Negative controls: without the listener
that sends held writes before SQLAlchemy's statements, a read in the same transaction misses
them, and two refund rows in one ``WITH`` collide on their position (why no statement is held
twice).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from payintents.adapters.sql import held_writes
from payintents.adapters.sql.engine import Timeouts, make_engine, normalise_url
from payintents.adapters.sql.held_writes import HeldWrites, hold_writes
from payintents.adapters.sql.prepared import HELD_WRITES, send_held_writes
from payintents.adapters.sql.schema import idempotency_keys, outbox_events, refunds
from payintents.adapters.sql.store import ADD_EVENT, ADD_REFUND, SqlUnitOfWork
from payintents.adapters.sql.suspending import runner_for
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.errors import InvariantViolationError
from payintents.domain.events import EventName, OutboxEvent
from payintents.domain.intent import Environment, Scope
from payintents.domain.refund import Refund
from payintents.service.accounts import create_account
from payintents.service.ports import StoreBusyError
from payintents.web.app import build_app
from tests.store.test_intent_store import make_intent
from tests.support import Api

pytestmark = pytest.mark.postgres

AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
SCOPE = Scope("acc_held", Environment.SANDBOX)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """An account with one captured intent, ``pi_held``, for the rows to belong to."""
    made = make_engine(postgres_url, pool_size=2)
    with SqlUnitOfWork(made) as uow:
        uow.accounts.add(SCOPE.account_id, "merchant", [], AT)
        uow.intents.add(make_intent("pi_held", scope=SCOPE, at=AT))
        uow.commit()
    yield made
    made.dispose()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement any engine of this process sends, from the moment the test starts."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        seen.append(" ".join(sql.split()))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def _refund(refund_id: str, amount: int = 100) -> Refund:
    return Refund(refund_id, SCOPE, "pi_held", amount, "why", None, None, AT)


def _event(event_id: str) -> OutboxEvent:
    return OutboxEvent(event_id, SCOPE, EventName.REFUND_CREATED, "pi_held", AT, {"refundId": "r"})


def test_a_refunds_last_writes_go_as_one_statement_and_are_all_stored(
    postgres_url: str, statements: list[str]
) -> None:
    engine = make_engine(postgres_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=postgres_url), engine=engine)
    try:
        with TestClient(build_app(deps), base_url="http://testserver") as client:
            api = Api(client, create_account(deps, "merchant").sandbox_key)
            intent_id = api.captured_intent(1000)
            statements.clear()
            first = api.refund(intent_id, 300, key="held-1")
            refund_statements = list(statements)
            replayed = api.refund(intent_id, 300, key="held-1")
            assert api.intent(intent_id)["status"] == "Captured"
            listed = api.get(f"/payment-intents/{intent_id}/refunds")
    finally:
        engine.dispose()
    assert first.status_code == 200, first.text
    combined = [sql for sql in refund_statements if sql.startswith("WITH held_0 AS (INSERT INTO refunds")]
    assert len(combined) == 1, refund_statements
    assert "INSERT INTO outbox_events" in combined[0] and "UPDATE idempotency_keys" in combined[0]
    alone = ("INSERT INTO refunds", "INSERT INTO outbox_events", "UPDATE idempotency_keys")
    assert not [sql for sql in refund_statements if sql.startswith(alone)], refund_statements
    # Every held write landed: the answer was stored (a byte-for-byte replay), the refund listed.
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.content == first.content
    assert [row["refundId"] for row in listed.json()["data"]] == [first.json()["refundId"]]


def test_a_capture_reaches_the_processor_only_after_its_writes_were_sent(
    postgres_url: str, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ADR 0003: what the transaction wrote is accepted before money moves (``uow.flush``)."""
    engine = make_engine(postgres_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=postgres_url), engine=engine)
    sent_before: list[str] = []
    capture = deps.processor.capture
    monkeypatch.setattr(
        deps.processor, "capture", lambda *args: (sent_before.extend(statements), capture(*args))[1]
    )
    try:
        with TestClient(build_app(deps), base_url="http://testserver") as client:
            api = Api(client, create_account(deps, "merchant").sandbox_key)
            intent_id = str(api.create_intent(1000, captureMode="Manual")["id"])
            assert api.pay(intent_id).json()["status"] == "Authorized"
            statements.clear()
            captured = api.post(f"/payment-intents/{intent_id}/captures", {"amount": 1000})
    finally:
        engine.dispose()
    assert captured.status_code == 200, captured.text
    assert any("INSERT INTO outbox_events" in sql for sql in sent_before), sent_before
    assert not [sql for sql in statements[len(sent_before) :] if "INSERT INTO outbox_events" in sql]


def test_reads_in_the_transaction_see_what_is_held(engine: Engine, statements: list[str]) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.refunds.add(_refund("rfnd_1"))
        uow.outbox.add(_event("evt_1"))
        held_so_far = list(statements)
        # Through SQLAlchemy (the before_execute listener sends what is held first) ...
        assert uow.refunds.get(SCOPE, "rfnd_1") == _refund("rfnd_1")
        uow.refunds.add(_refund("rfnd_2"))
        # ... and through a prepared statement.
        assert uow.idempotency.claim(SCOPE, "pi_held", "k", "fp", AT) is None
        assert [r.id for r in uow.refunds.list_for_intent(SCOPE, "pi_held")] == ["rfnd_1", "rfnd_2"]
        uow.commit()
    assert not [sql for sql in held_so_far if sql.startswith(("INSERT", "WITH"))]


def test_a_held_write_that_fails_rolls_back_the_whole_transaction(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add(_event("evt_taken"))
        uow.commit()
    with pytest.raises(InvariantViolationError), SqlUnitOfWork(engine) as uow:
        assert uow.idempotency.claim(SCOPE, "pi_held", "k", "fp", AT) is None
        uow.refunds.add(_refund("rfnd_lost"))
        uow.outbox.add(_event("evt_taken"))  # held: its duplicate id fails only at the commit
        uow.commit()
    with engine.connect() as conn:
        assert conn.execute(select(refunds.c.id)).all() == []
        assert conn.execute(select(idempotency_keys.c.idempotency_key)).all() == []


def test_a_statement_held_twice_goes_out_twice_and_positions_follow(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        for n in range(3):
            uow.refunds.add(_refund(f"rfnd_{n}"))
        uow.commit()
    with engine.connect() as conn:
        rows = conn.execute(select(refunds.c.id, refunds.c.position).order_by(refunds.c.position)).all()
    assert [tuple(row) for row in rows] == [("rfnd_0", 0), ("rfnd_1", 1), ("rfnd_2", 2)]


@pytest.mark.parametrize("commits", [True, False])
def test_after_its_transaction_a_connection_holds_nothing(postgres_url: str, commits: bool) -> None:
    single = make_engine(postgres_url, pool_size=1)
    try:
        with SqlUnitOfWork(single) as uow:
            uow.accounts.add(SCOPE.account_id, "merchant", [], AT)
            uow.outbox.add(_event("evt_in_uow"))  # held, then sent by the commit or dropped
            if commits:
                uow.commit()
        assert single.pool.checkedin() == 1  # type: ignore[attr-defined]
        with single.begin() as conn:  # that pooled connection, outside any unit of work
            assert HELD_WRITES not in conn.info
            ADD_EVENT.run(conn, _event_row("evt_direct"))
        with single.connect() as conn:
            stored = sorted(conn.execute(select(outbox_events.c.id)).scalars())
    finally:
        single.dispose()
    assert stored == (["evt_direct", "evt_in_uow"] if commits else ["evt_direct"])


def test_on_the_event_loops_engine_reads_see_what_is_held(engine: Engine) -> None:
    runner = runner_for(engine)
    assert runner is not None

    def work() -> list[str]:
        with SqlUnitOfWork(runner.engine) as uow:
            uow.outbox.add(_event("evt_loop"))
            assert HELD_WRITES in uow._conn.info  # this engine holds writes too
            seen = _event_ids(uow)  # through SQLAlchemy, on the asynchronous driver's engine
            uow.commit()
            return seen

    async def run() -> list[str]:
        try:
            return await runner.run(work)
        finally:
            await runner.close()

    assert asyncio.run(run()) == ["evt_loop"]


def test_a_held_write_that_waits_too_long_at_commit_is_busy_and_rolls_back(postgres_url: str) -> None:
    """A lock the combined statement waits for at COMMIT: 503 material, nothing kept."""
    engine = make_engine(postgres_url, pool_size=2, timeouts=Timeouts(lock_ms=100))
    try:
        with SqlUnitOfWork(engine) as uow:
            uow.accounts.add(SCOPE.account_id, "merchant", [], AT)
            uow.commit()
        with engine.connect() as other, other.begin():
            ADD_EVENT.run(other, _event_row("evt_contended"))  # uncommitted: its key is locked
            with pytest.raises(StoreBusyError), SqlUnitOfWork(engine) as uow:
                assert uow.idempotency.claim(SCOPE, "pi_held", "k", "fp", AT) is None
                uow.outbox.add(_event("evt_contended"))  # held: waits only at the commit
                uow.commit()
        with engine.connect() as conn:
            assert conn.execute(select(idempotency_keys.c.idempotency_key)).all() == []
    finally:
        engine.dispose()


def test_an_engine_without_the_listener_holds_nothing_negative_control_what_it_would_miss(
    postgres_url: str,
) -> None:
    bare = create_engine(normalise_url(postgres_url))
    try:
        with bare.connect() as conn, conn.begin():
            assert hold_writes(conn) is None  # no listener: writes go at once
            ADD_EVENT.run(conn, _event_row("evt_seen"))
            assert conn.execute(select(outbox_events.c.id)).scalars().all() == ["evt_seen"]
            # What the refusal prevents: a holder on such an engine, and a read that misses it.
            conn.info[HELD_WRITES] = HeldWrites()
            ADD_EVENT.run(conn, _event_row("evt_unseen"))
            assert conn.execute(select(outbox_events.c.id)).scalars().all() == ["evt_seen"]
            send_held_writes(conn)
            assert sorted(conn.execute(select(outbox_events.c.id)).scalars()) == ["evt_seen", "evt_unseen"]
            del conn.info[HELD_WRITES]
    finally:
        bare.dispose()


def test_negative_control_two_refund_rows_in_one_statement_collide(engine: Engine) -> None:
    rows = [_refund_row("rfnd_a"), _refund_row("rfnd_b")]
    sql, arguments = held_writes._combined(engine.dialect, [(ADD_REFUND, row) for row in rows])
    with pytest.raises(IntegrityError, match="position"), engine.begin() as conn:
        conn.exec_driver_sql(sql, tuple(arguments))


def _event_ids(uow: SqlUnitOfWork) -> list[str]:
    """The outbox events the unit of work's transaction sees, read through SQLAlchemy."""
    conn = uow._conn  # the test reads inside the transaction under test
    return list(conn.execute(select(outbox_events.c.id)).scalars())


def _event_row(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "account_id": SCOPE.account_id,
        "environment": SCOPE.environment.value,
        "name": "refund.created",
        "payment_intent_id": "pi_held",
        "created_at": AT,
        "payload": "{}",
    }


def _refund_row(refund_id: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "account_id": SCOPE.account_id,
        "environment": SCOPE.environment.value,
        "payment_intent_id": "pi_held",
        "position_of": "pi_held",
        "amount": 100,
        "refund_reason": secrets.token_hex(4),
        "notes": None,
        "previous_transaction_id": None,
        "created_at": AT,
    }
