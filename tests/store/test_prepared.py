"""Hot statements on the raw driver (adapters/sql/prepared.py, ADR 0013), on both databases.

A prepared statement must store and read exactly what SQLAlchemy's own execution would, fail with
SQLAlchemy's exception classes (the unit of work maps those to 503s and invariant errors), stay
visible to statement listeners, and refuse at compile time any statement that would need work it
skips (Python-side defaults, converted result columns, expanding IN lists).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.adapters.sql.prepared import PreparedStatement, UnpreparableStatementError
from payintents.adapters.sql.schema import UtcDateTime, outbox_events

ADD = PreparedStatement(insert(outbox_events))
NAMES = PreparedStatement(
    select(outbox_events.c.id, outbox_events.c.name).where(outbox_events.c.account_id == bindparam("who"))
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url, pool_size=2)
    yield made
    made.dispose()


def event_row(event_id: str, created_at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "account_id": "acc_1",
        "environment": "sandbox",
        "name": "refund.created",
        "payment_intent_id": "pi_1",
        "created_at": created_at,
        "payload": "{}",
    }


# A non-UTC offset: the type's own conversion must run, or SQLite would store wall-clock text; and
# a whole second, which the driver's own datetime adapter would write in a different text form.
@pytest.mark.parametrize("microsecond", [123456, 0])
def test_a_prepared_insert_stores_what_sqlalchemy_stores_and_reads_back_the_same(
    engine: Engine, microsecond: int
) -> None:
    at = datetime(2026, 11, 26, 15, 30, 0, microsecond, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        ADD.run(conn, event_row("evt_prepared", at))
        conn.execute(insert(outbox_events), event_row("evt_sqlalchemy", at))
    with engine.connect() as conn:
        stored = conn.execute(select(outbox_events.c.id, outbox_events.c.created_at)).all()
        raw = {row[0]: row[1] for row in conn.exec_driver_sql("SELECT id, created_at FROM outbox_events")}
        names = NAMES.run(conn, {"who": "acc_1"}).fetchall()
    assert sorted(stored) == [("evt_prepared", at), ("evt_sqlalchemy", at)]
    assert stored[0][1].tzinfo is not None and stored[0][1].astimezone(UTC) == at
    assert raw["evt_prepared"] == raw["evt_sqlalchemy"]
    assert sorted(tuple(row) for row in names) == [
        ("evt_prepared", "refund.created"),
        ("evt_sqlalchemy", "refund.created"),
    ]


def test_run_many_inserts_every_row_in_one_call(engine: Engine) -> None:
    at = datetime(2026, 11, 26, tzinfo=UTC)
    with engine.begin() as conn:
        ADD.run_many(conn, [event_row(f"evt_{n}", at) for n in range(5)])
        ADD.run_many(conn, [])
    with engine.connect() as conn:
        assert sorted(conn.execute(select(outbox_events.c.id)).scalars()) == [f"evt_{n}" for n in range(5)]


def test_a_driver_error_arrives_as_sqlalchemys_and_the_transaction_rolls_back(engine: Engine) -> None:
    at = datetime(2026, 11, 26, tzinfo=UTC)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        ADD.run(conn, event_row("evt_twice", at))
        ADD.run(conn, event_row("evt_twice", at))
    with engine.connect() as conn:
        assert conn.execute(select(outbox_events.c.id)).all() == []


def test_statement_listeners_still_see_prepared_statements(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_rest: seen.append(sql))
    with engine.begin() as conn:
        ADD.run(conn, event_row("evt_seen", datetime(2026, 11, 26, tzinfo=UTC)))
    assert any(sql.startswith("INSERT INTO outbox_events") for sql in seen)


SCRATCH = MetaData()
DEFAULTED = Table(
    "defaulted",
    SCRATCH,
    Column("id", String(10), primary_key=True),
    Column("tries", Integer, default=lambda: 0),
    Column("at", UtcDateTime),
)


@pytest.mark.parametrize(
    ("statement", "params", "reason"),
    [
        (insert(DEFAULTED), {"id": "a"}, "Python-side column defaults"),
        (select(DEFAULTED.c.at), {}, "needs converting"),
        (
            select(DEFAULTED.c.id).where(DEFAULTED.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": ["a"]},
            "rendered at execution time",
        ),
        (select(DEFAULTED.c.id).where(DEFAULTED.c.id == bindparam("wanted")), {}, "no value"),
        (
            select(DEFAULTED.c.id).where(DEFAULTED.c.id == bindparam("one", literal_execute=True)),
            {"one": "a"},
            "rendered at execution time",
        ),
    ],
)
def test_statements_that_need_sqlalchemy_at_run_time_are_refused(
    engine: Engine, statement: Any, params: dict[str, Any], reason: str
) -> None:
    with engine.connect() as conn, pytest.raises(UnpreparableStatementError, match=reason):
        PreparedStatement(statement).run(conn, params)


def test_a_lock_wait_that_times_out_arrives_as_sqlalchemys_operational_error(database_url: str) -> None:
    """What the unit of work maps to 503 (or, on the event loop, to "try again shortly")."""
    engine = make_engine(database_url, pool_size=2, timeouts=Timeouts(lock_ms=100))
    at = datetime(2026, 11, 26, tzinfo=UTC)
    try:
        with engine.connect() as holder, engine.connect() as other:
            holder.begin()  # SQLite: the write lock; PostgreSQL: the new row's key, uncommitted
            ADD.run(holder, event_row("evt_contended", at))
            with pytest.raises(OperationalError) as waited:
                ADD.run(other, event_row("evt_contended", at))
            if engine.dialect.name == "postgresql":
                assert getattr(waited.value.orig, "sqlstate", None) == "55P03"  # lock_not_available
            else:
                assert "locked" in str(waited.value.orig)
            other.rollback()
            holder.rollback()
    finally:
        engine.dispose()
