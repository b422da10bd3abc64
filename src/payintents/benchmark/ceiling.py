"""The ceiling: the bare SQL of one refund, as tight as each database allows, with no HTTP.

A refund must write four things: its idempotency row (with the stored answer), the guarded update
of the intent, the refund row and the outbox event. Here those writes go straight to a migrated
database of the same kind and settings as the server's (same durability, same tables and
indexes), from ``concurrency`` threads, each with its own connection:

- PostgreSQL: one round trip, a single statement of data-modifying CTEs, in autocommit.
- SQLite: one ``BEGIN IMMEDIATE`` transaction of four statements per refund; threads take a
  process lock first (SQLite has one writer; waiting on a lock beats polling the busy handler).

The refund's position comes from the intent's version (seeded at 1, bumped by each refund), which
a server that also captures cannot use; it is the tight form, and the point is to measure it.

The two-phase form of the same refund is in ``two_phase_ceiling.py``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, insert
from sqlalchemy.engine import make_url

from payintents.adapters.sql.engine import make_engine, normalise_url
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.schema import accounts, captures, payment_intents

ACCOUNT_ID = "acc_ceiling"
ENVIRONMENT = "sandbox"
# A stored answer of the size our refund answers have.
ANSWER_BODY = b'{"refundId":"rfnd_sandbox_0000000000000000000000","status":"Refunded"}' * 5
T = TypeVar("T")

# The refund row and its outbox event, written from the CTE ``applied`` (the intent's new version).
POSTGRES_REFUND_AND_EVENT = """refund AS (
    INSERT INTO refunds (id, account_id, environment, payment_intent_id, position, amount, notes, created_at)
    SELECT %(refund)s, %(account)s, %(env)s, id, version - 2, %(amount)s, 'ceiling', %(now)s FROM applied
), event AS (
    INSERT INTO outbox_events (id, account_id, environment, name, payment_intent_id, created_at, payload)
    SELECT %(event)s, %(account)s, %(env)s, 'refund.created', id, %(now)s, %(payload)s FROM applied
)"""

POSTGRES_REFUND = f"""
WITH claimed AS (
    INSERT INTO idempotency_keys (account_id, environment, target, idempotency_key, fingerprint,
        status_code, response_body, created_at)
    VALUES (%(account)s, %(env)s, %(intent)s, %(key)s, %(key)s, 200, %(answer)s, %(now)s)
    ON CONFLICT DO NOTHING RETURNING 1
), applied AS (
    UPDATE payment_intents
    SET refunded_amount = refunded_amount + %(amount)s,
        status = CASE WHEN refunded_amount + %(amount)s = refundable_amount THEN 'Refunded' ELSE status END,
        updated_at = %(now)s, version = version + 1
    WHERE id = %(intent)s AND account_id = %(account)s AND environment = %(env)s
      AND status = 'Captured' AND refunded_amount + %(amount)s <= refundable_amount
      AND EXISTS (SELECT 1 FROM claimed)
    RETURNING id, version, refunded_amount
), {POSTGRES_REFUND_AND_EVENT}
SELECT refunded_amount FROM applied
"""  # noqa: S608 - built from constants only

SQLITE_REFUND = (
    "INSERT INTO idempotency_keys (account_id, environment, target, idempotency_key, fingerprint,"
    " status_code, response_body, created_at)"
    " VALUES (:account, :env, :intent, :key, :key, 200, :answer, :now) ON CONFLICT DO NOTHING",
    "UPDATE payment_intents SET refunded_amount = refunded_amount + :amount,"
    " status = CASE WHEN refunded_amount + :amount = refundable_amount THEN 'Refunded' ELSE status END,"
    " updated_at = :now, version = version + 1"
    " WHERE id = :intent AND account_id = :account AND environment = :env"
    " AND status = 'Captured' AND refunded_amount + :amount <= refundable_amount"
    " RETURNING version",
    "INSERT INTO refunds (id, account_id, environment, payment_intent_id, position, amount, notes,"
    " created_at) VALUES (:refund, :account, :env, :intent, :position, :amount, 'ceiling', :now)",
    "INSERT INTO outbox_events (id, account_id, environment, name, payment_intent_id, created_at,"
    " payload) VALUES (:event, :account, :env, 'refund.created', :intent, :now, :payload)",
)


@dataclass(frozen=True, slots=True)
class CeilingResult:
    transactions: int
    elapsed_s: float
    failures: int

    @property
    def per_s(self) -> float:
        return self.transactions / self.elapsed_s if self.elapsed_s else 0.0


def seed_intents(engine: Engine, count: int, capacity: int) -> list[str]:
    """``count`` captured intents of ``capacity`` minor units each (with their capture rows, so
    ``payintents audit`` holds on this database too), written in bulk."""
    now = datetime.now(UTC)
    ids = [f"pi_sandbox_ceiling{n:012d}" for n in range(count)]
    row = {
        "account_id": ACCOUNT_ID, "environment": ENVIRONMENT, "status": "Captured",
        "capture_mode": "Auto", "currency": "GBP", "amount": capacity, "total_amount": capacity,
        "refundable_amount": capacity, "refunded_amount": 0, "reference": "ceiling",
        "created_at": now, "updated_at": now, "expire_at": now, "pending_challenge": False,
        "document": "{}", "version": 1,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(accounts).values(id=ACCOUNT_ID, name="ceiling", created_at=now))
        conn.execute(insert(payment_intents), [{**row, "id": intent_id} for intent_id in ids])
        capture = {"position": 0, "amount": capacity, "status": "Successful", "created_at": now}
        conn.execute(insert(captures), [{**capture, "id": f"cp_{i}", "payment_intent_id": i} for i in ids])
    return ids


def prepare_database(url: str, intents: int, capacity: int) -> list[str]:
    engine = make_engine(url, pool_size=1)
    try:
        upgrade(engine)
        return seed_intents(engine, intents, capacity)
    finally:
        engine.dispose()


def ceiling_params(n: int, intent_id: str, amount: int, now: str | datetime) -> dict[str, Any]:
    """The parameters of refund number ``n`` (its key, ids and stored answer are made from ``n``)."""
    return {
        "account": ACCOUNT_ID, "env": ENVIRONMENT, "intent": intent_id, "key": f"ceiling-{n}",
        "answer": ANSWER_BODY, "now": now, "amount": amount, "refund": f"rfnd_sandbox_c{n:020d}",
        "event": f"evt_sandbox_c{n:021d}", "payload": json.dumps(
            {"paymentIntentId": intent_id, "refundId": f"rfnd_sandbox_c{n:020d}", "amount": amount}
        ),
    }  # fmt: skip


# One bare refund: (number, intent id, amount) → applied (False: refused by the cap).
Refund = Callable[[int, str, int], bool]
# Makes one thread's refund function: (database URL, the process's SQLite write lock).
WorkerFactory = Callable[[str, threading.Lock], Refund]


def postgres_connection(url: str, *, flushed: bool = True) -> Any:
    """An autocommit psycopg connection; ``flushed=False``: commits without waiting for the disk."""
    import psycopg  # only PostgreSQL runs need the driver loaded

    parsed = make_url(normalise_url(url))
    given = parsed.query.get("options")
    options = [given if isinstance(given, str) else "", "" if flushed else "-c synchronous_commit=off"]
    return psycopg.connect(
        host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, dbname=parsed.database, autocommit=True,
        options=" ".join(o for o in options if o) or None,
    )  # fmt: skip


def sqlite_connection(url: str, synchronous: str = "FULL") -> sqlite3.Connection:
    path = make_url(url).database or ""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"synchronous={synchronous}", "busy_timeout=5000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def sqlite_transaction(conn: sqlite3.Connection, write_lock: threading.Lock, work: Callable[[], T]) -> T:
    """``work`` in one BEGIN IMMEDIATE transaction, committed; the process lock held throughout."""
    with write_lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return result


def sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def one_transaction_worker(url: str, write_lock: threading.Lock) -> Refund:
    if not url.startswith("sqlite"):
        conn = postgres_connection(url)

        def refund_on_postgres(n: int, intent_id: str, amount: int) -> bool:
            params = ceiling_params(n, intent_id, amount, datetime.now(UTC))
            return conn.execute(POSTGRES_REFUND, params, prepare=True).fetchone() is not None

        return refund_on_postgres
    lite = sqlite_connection(url)
    claim, update, add_refund, add_event = SQLITE_REFUND

    def refund(n: int, intent_id: str, amount: int) -> bool:
        params = ceiling_params(n, intent_id, amount, sqlite_time(datetime.now(UTC)))

        def write() -> bool:
            lite.execute(claim, params)
            applied = lite.execute(update, params).fetchone()
            if applied is not None:
                lite.execute(add_refund, {**params, "position": applied[0] - 2})
                lite.execute(add_event, params)
            return applied is not None

        return sqlite_transaction(lite, write_lock, write)

    return refund


def run_ceiling(
    url: str,
    intent_ids: list[str],
    numbers: range,
    concurrency: int,
    max_amount: int,
    worker: WorkerFactory = one_transaction_worker,
) -> CeilingResult:
    """One bare refund per number (ids and keys derive from it) from ``concurrency`` threads,
    on intents taken round-robin; a thread's exception ends the run with it."""
    write_lock = threading.Lock()
    workers = [worker(url, write_lock) for _ in range(concurrency)]
    pending = iter(numbers)
    counter_lock = threading.Lock()
    refused: list[int] = []

    def drive(refund: Refund) -> None:
        while True:
            with counter_lock:
                n = next(pending, None)
            if n is None:
                return
            amount = 1 + (n * 7919) % max_amount
            if not refund(n, intent_ids[n % len(intent_ids)], amount):
                refused.append(n)  # list.append is atomic under the GIL

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for finished in [pool.submit(drive, refund) for refund in workers]:
            finished.result()
    return CeilingResult(len(numbers), time.perf_counter() - started, len(refused))
