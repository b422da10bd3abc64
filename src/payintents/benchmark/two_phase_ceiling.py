"""The two-phase ceiling: the bare SQL of one refund as the server writes it since ADR 0026, with
no HTTP and no Python beyond the driver.

Reserve (the key claimed, the amount reserved by the guarded UPDATE, the operation written
``pending``), the sandbox processor's ledger entry, record (the operation finished, the reservation
turned into the refund, its event and the stored answer): three commits where the one-transaction
ceiling (``ceiling.py``) has one, on the same seeded database and threads. Each phase is as tight
as the database allows:

- PostgreSQL: one statement per phase in autocommit (CTEs for the reserve and the record; a
  refused reserve takes its key claim back with a second); reserve and ledger on a connection with
  ``synchronous_commit`` off, the record on a durable one (the server commits them so, ADR 0030).
- SQLite: one ``BEGIN IMMEDIATE`` transaction per phase under the process lock; reserve and
  ledger at ``synchronous=NORMAL``, the record at FULL.

Its rate against the one-transaction ceiling's is what the two-phase write costs before any of
the server's own work.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from payintents.benchmark.ceiling import (
    POSTGRES_REFUND_AND_EVENT,
    SQLITE_REFUND,
    Refund,
    ceiling_params,
    postgres_connection,
    sqlite_connection,
    sqlite_time,
    sqlite_transaction,
)
from payintents.bootstrap import Settings
from payintents.service.money_operations import DEADLINE_MARGIN

# The operation's deadline, as the server sets it by default: the processor timeout and a margin.
DEADLINE = timedelta(seconds=Settings().processor_timeout_s) + DEADLINE_MARGIN


class _RefusedError(Exception):
    """The reserve found no room (or the key taken): its transaction rolls back."""


POSTGRES_RESERVE = """
WITH claimed AS (
    INSERT INTO idempotency_keys (account_id, environment, target, idempotency_key, fingerprint, created_at)
    VALUES (%(account)s, %(env)s, %(intent)s, %(key)s, %(key)s, %(now)s)
    ON CONFLICT DO NOTHING RETURNING 1
), reserved AS (
    UPDATE payment_intents SET pending_refund_amount = pending_refund_amount + %(amount)s
    WHERE id = %(intent)s AND account_id = %(account)s AND environment = %(env)s
      AND status = 'Captured' AND pending_operation_id IS NULL
      AND refundable_amount >= refunded_amount + pending_refund_amount + %(amount)s
      AND EXISTS (SELECT 1 FROM claimed)
    RETURNING id
)
INSERT INTO money_operations (id, account_id, environment, payment_intent_id, kind, amount, status,
    key_target, idempotency_key, processor_key, object_id, answer_status, answer_body, requested_at,
    created_at, deadline_at)
SELECT %(operation)s, %(account)s, %(env)s, id, 'refund', %(amount)s, 'pending', %(intent)s, %(key)s,
    %(processor_key)s, %(refund)s, 200, %(answer)s, %(now)s, %(now)s, %(deadline)s
FROM reserved RETURNING id
"""

# A refused reserve's claim, taken back (the CTE statement has committed it). Every refund here has
# a key of its own, so an unanswered claim under it is this refund's.
RELEASE_CLAIM = """
DELETE FROM idempotency_keys WHERE account_id = %(account)s AND environment = %(env)s
  AND target = %(intent)s AND idempotency_key = %(key)s AND response_body IS NULL
"""

LEDGER_ENTRY = (
    "INSERT INTO sandbox_processor_ledger (processor_key, kind, payment_intent_id, amount, outcome,"
    " created_at) VALUES ({processor_key}, 'refund', {intent}, {amount}, 'succeeded', {now})"
    " ON CONFLICT DO NOTHING RETURNING processor_key"
)

POSTGRES_RECORD = f"""
WITH finished AS (
    UPDATE money_operations SET status = 'succeeded', finished_at = %(now)s
    WHERE id = %(operation)s AND status = 'pending' RETURNING id
), applied AS (
    UPDATE payment_intents
    SET refunded_amount = refunded_amount + %(amount)s,
        pending_refund_amount = pending_refund_amount - %(amount)s,
        status = CASE WHEN refunded_amount + %(amount)s = refundable_amount THEN 'Refunded' ELSE status END,
        updated_at = %(now)s, version = version + 1
    WHERE id = %(intent)s AND account_id = %(account)s AND environment = %(env)s
      AND pending_refund_amount >= %(amount)s AND EXISTS (SELECT 1 FROM finished)
    RETURNING id, version, refunded_amount
), {POSTGRES_REFUND_AND_EVENT}, answered AS (
    UPDATE idempotency_keys SET status_code = 200, response_body = %(answer)s
    WHERE account_id = %(account)s AND environment = %(env)s AND target = %(intent)s
      AND idempotency_key = %(key)s AND EXISTS (SELECT 1 FROM applied)
)
SELECT refunded_amount FROM applied
"""  # noqa: S608 - built from constants only

SQLITE_RESERVE = (
    "INSERT INTO idempotency_keys (account_id, environment, target, idempotency_key, fingerprint,"
    " created_at) VALUES (:account, :env, :intent, :key, :key, :now) ON CONFLICT DO NOTHING RETURNING 1",
    "UPDATE payment_intents SET pending_refund_amount = pending_refund_amount + :amount"
    " WHERE id = :intent AND account_id = :account AND environment = :env AND status = 'Captured'"
    " AND pending_operation_id IS NULL"
    " AND refundable_amount >= refunded_amount + pending_refund_amount + :amount RETURNING id",
    "INSERT INTO money_operations (id, account_id, environment, payment_intent_id, kind, amount,"
    " status, key_target, idempotency_key, processor_key, object_id, answer_status, answer_body,"
    " requested_at, created_at, deadline_at) VALUES (:operation, :account, :env, :intent, 'refund',"
    " :amount, 'pending', :intent, :key, :processor_key, :refund, 200, :answer, :now, :now, :deadline)",
)

SQLITE_RECORD = (
    "UPDATE money_operations SET status = 'succeeded', finished_at = :now"
    " WHERE id = :operation AND status = 'pending' RETURNING id",
    "UPDATE payment_intents SET refunded_amount = refunded_amount + :amount,"
    " pending_refund_amount = pending_refund_amount - :amount,"
    " status = CASE WHEN refunded_amount + :amount = refundable_amount THEN 'Refunded' ELSE status END,"
    " updated_at = :now, version = version + 1"
    " WHERE id = :intent AND account_id = :account AND environment = :env"
    " AND pending_refund_amount >= :amount RETURNING version",
    *SQLITE_REFUND[2:],
    "UPDATE idempotency_keys SET status_code = 200, response_body = :answer WHERE account_id = :account"
    " AND environment = :env AND target = :intent AND idempotency_key = :key",
)


def _ledger_entry(placeholder: str) -> str:
    """The ledger's INSERT in a driver's parameter style (``placeholder`` formats a name)."""
    names = ("processor_key", "intent", "amount", "now")
    return LEDGER_ENTRY.format_map({name: placeholder.format(name) for name in names})


def two_phase_params(n: int, intent_id: str, amount: int, now: Any, deadline: Any) -> dict[str, Any]:
    """Refund ``n``'s parameters, with its operation's id, processor key and deadline."""
    operation = f"op_sandbox_c{n:021d}"
    return {
        **ceiling_params(n, intent_id, amount, now),
        "operation": operation,
        "processor_key": f"payintents-{operation}",
        "deadline": deadline,
    }


def two_phase_worker(url: str, write_lock: threading.Lock) -> Refund:
    if url.startswith("sqlite"):
        return _sqlite_refund(url, write_lock)
    unflushed, durable = postgres_connection(url, flushed=False), postgres_connection(url)
    ledger = _ledger_entry("%({})s")

    def refund(n: int, intent_id: str, amount: int) -> bool:
        now = datetime.now(UTC)
        params = two_phase_params(n, intent_id, amount, now, now + DEADLINE)
        if unflushed.execute(POSTGRES_RESERVE, params, prepare=True).fetchone() is None:
            # Refused: the server's rollback takes the key claim back; one statement here.
            unflushed.execute(RELEASE_CLAIM, params, prepare=True)
            return False
        unflushed.execute(ledger, params, prepare=True)
        return durable.execute(POSTGRES_RECORD, params, prepare=True).fetchone() is not None

    return refund


def _sqlite_refund(url: str, write_lock: threading.Lock) -> Refund:
    unflushed, durable = sqlite_connection(url, "NORMAL"), sqlite_connection(url)
    claim, reserve, add_operation = SQLITE_RESERVE
    ledger = _ledger_entry(":{}")
    finish, apply, add_refund, add_event, answer = SQLITE_RECORD

    def refund(n: int, intent_id: str, amount: int) -> bool:
        now = datetime.now(UTC)
        params = two_phase_params(n, intent_id, amount, sqlite_time(now), sqlite_time(now + DEADLINE))

        def reserve_or_refuse() -> None:
            # A refusal rolls back, key claim included, as the server's reserve does.
            if unflushed.execute(claim, params).fetchone() is None:
                raise _RefusedError
            if unflushed.execute(reserve, params).fetchone() is None:
                raise _RefusedError
            unflushed.execute(add_operation, params)

        def recorded() -> bool:
            if durable.execute(finish, params).fetchone() is None:
                return False  # another recorder finished it
            applied = durable.execute(apply, params).fetchone()
            if applied is not None:
                durable.execute(add_refund, {**params, "position": applied[0] - 2})
                durable.execute(add_event, params)
                durable.execute(answer, params)
            return applied is not None

        try:
            sqlite_transaction(unflushed, write_lock, reserve_or_refuse)
        except _RefusedError:
            return False
        sqlite_transaction(unflushed, write_lock, lambda: unflushed.execute(ledger, params).fetchall())
        return sqlite_transaction(durable, write_lock, recorded)

    return refund
