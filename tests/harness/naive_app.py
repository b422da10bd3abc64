"""A deliberately naive payintents server: the negative control for both race harnesses.

    python -m tests.harness.naive_app --port P --workers N    (database from $PAYINTENTS_DATABASE_URL)

It is the real app (same routes, validation, auth, store) with one thing swapped in every worker:
the refund write path, replaced by the check-then-write shape that ADR 0003 warns against:

1. transaction 1 looks the idempotency key up and reads the intent; Python checks the status and
   the remaining amount (a stored answer for the key is replayed);
2. a short pause (``PAYINTENTS_NAIVE_WINDOW_MS``, default 20, times the load per core) stands in
   for the work a real server does between the two steps, and widens the window the race needs
   (it is a wait, so the request runs on a worker thread, concurrently with the others);
3. transaction 2 adds the amount unconditionally (``refunded_amount = refunded_amount + amount``),
   inserts the refund row and stores the answer under the key with an upsert (last writer wins).

The check and the write are separate transactions on purpose: on SQLite every transaction is
``BEGIN IMMEDIATE``, so a check inside the writing transaction would still be serialised.
To let an over-refund be acknowledged instead of failing on the store's backstop, the naive store
also drops both cap CHECKs (``ck_refund_cap``, and ``ck_refund_reserve_cap``, which counts pending
refunds too): per connection on SQLite (``PRAGMA ignore_check_constraints``), and from the
harness's throwaway schema on PostgreSQL.
Nothing under ``src/`` is changed; this module is never imported by the real server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, cast

from sqlalchemy import Connection, case, event, select, text, update
from starlette.applications import Starlette

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import idempotency_keys, payment_intents
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.bootstrap import Settings, build_dependencies, migrate
from payintents.domain import lifecycle
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse, replay
from payintents.domain.intent import Scope, Status
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service import refunds
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest, Render
from payintents.service.ports import RequestContext
from payintents.testbed.readiness import load_factor
from payintents.web.app import build_app
from tests.harness.variant_server import serve_variant

WINDOW_ENV = "PAYINTENTS_NAIVE_WINDOW_MS"
pi = payment_intents
ik = idempotency_keys


def _window_s() -> float:
    """The pause, grown with the machine's load per core: it must outlast the requests racing the
    naive one, and on a loaded machine they take longer (under a second copy of the suite, the
    terminal race saw every naive refund land before any terminal session reserved)."""
    return float(os.environ.get(WINDOW_ENV, "20")) / 1000 * load_factor()


async def naive_create_refund(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    request: IdempotentRequest,
    render: Render[RefundOutcome],
) -> Answer:
    """Check in one transaction, write in another: what the real write path must never do."""
    checked = await asyncio.to_thread(_check, deps, scope, intent_id, refund_request.amount, request)
    if checked is not None:
        return checked
    # Awaited: naive requests of one worker interleave as any concurrent server's would.
    await asyncio.sleep(_window_s())
    return await asyncio.to_thread(_write, deps, ctx, scope, intent_id, refund_request, request, render)


def _check(
    deps: Dependencies, scope: Scope, intent_id: str, amount: int, request: IdempotentRequest
) -> Answer | None:
    with cast(SqlUnitOfWork, deps.uow()) as uow:
        if request.key is not None:
            record = _find_key(uow._conn, scope, request)
            if record is not None and record.response is not None:
                return Answer(replay(record, request.fingerprint), replayed=True)
        intent = uow.intents.get(scope, intent_id)
        if intent is None or intent.status is not Status.CAPTURED or amount > intent.remaining_refundable:
            raise lifecycle.refund_refusal(intent, amount)
    return None


def _write(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    request: IdempotentRequest,
    render: Render[RefundOutcome],
) -> Answer:
    amount = refund_request.amount
    with cast(SqlUnitOfWork, deps.uow()) as uow:
        now = context.now(deps.clock)
        reference = _add_unconditionally(uow._conn, scope, intent_id, amount, now)
        refund = refund_request.recorded(deps.ids.new_id("rfnd", None), scope, intent_id, now)
        uow.refunds.add(refund)
        response = render(RefundOutcome(refund, reference or ""))
        if request.key is not None:
            _store_key(uow._conn, scope, request, response, now)
        uow.commit()
    return Answer(response, replayed=False)


def _find_key(conn: Connection, scope: Scope, request: IdempotentRequest) -> IdempotencyRecord | None:
    row = conn.execute(
        select(ik.c.fingerprint, ik.c.status_code, ik.c.response_body).where(*_key(scope, request))
    ).first()
    if row is None:
        return None
    fingerprint, status, body = row
    return IdempotencyRecord(fingerprint, None if status is None else StoredResponse(status, bytes(body)))


def _key(scope: Scope, request: IdempotentRequest) -> tuple[Any, ...]:
    return (
        ik.c.account_id == scope.account_id,
        ik.c.environment == scope.environment.value,
        ik.c.target == request.target,
        ik.c.idempotency_key == request.key,
    )


def _add_unconditionally(conn: Connection, scope: Scope, intent_id: str, amount: int, now: Any) -> str | None:
    """Add ``amount`` whatever the cap says; the intent's reference."""
    new_total = pi.c.refunded_amount + amount
    row = conn.execute(
        update(pi)
        .where(pi.c.account_id == scope.account_id, pi.c.environment == scope.environment.value)
        .where(pi.c.id == intent_id)
        .values(
            refunded_amount=new_total,
            status=case((new_total >= pi.c.refundable_amount, Status.REFUNDED.value), else_=pi.c.status),
            updated_at=now,
            version=pi.c.version + 1,
        )
        .returning(pi.c.reference)
    ).one()
    return None if row[0] is None else str(row[0])


def _store_key(
    conn: Connection, scope: Scope, request: IdempotentRequest, response: StoredResponse, now: Any
) -> None:
    values = {
        "account_id": scope.account_id,
        "environment": scope.environment.value,
        "target": request.target,
        "idempotency_key": request.key,
        "fingerprint": request.fingerprint,
        "created_at": now,
        "status_code": response.status_code,
        "response_body": response.body,
    }
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(ik).values(values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[ik.c.account_id, ik.c.environment, ik.c.target, ik.c.idempotency_key],
            set_={"status_code": response.status_code, "response_body": response.body},
        )
    )


def _ignore_check_constraints(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA ignore_check_constraints=ON")
    cursor.close()


def naive_app() -> Starlette:
    """ASGI factory for uvicorn (``factory=True``): runs in every worker process."""
    settings = Settings.from_environment()
    engine = make_engine(settings.database_url, pool_size=settings.pool_size, timeouts=settings.timeouts)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _ignore_check_constraints)
    refunds.create_refund = naive_create_refund  # the route calls refunds.create_refund at request time
    return build_app(build_dependencies(settings, engine=engine))


# Each alone refuses an over-refund; with one left, the control would see 500s, never over-refunds.
REFUND_CAP_CHECKS = ("ck_refund_cap", "ck_refund_reserve_cap")


def _drop_postgres_refund_cap(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                for name in REFUND_CAP_CHECKS:
                    conn.execute(text(f"ALTER TABLE payment_intents DROP CONSTRAINT IF EXISTS {name}"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.naive_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    settings = Settings.from_environment()
    migrate(settings)
    _drop_postgres_refund_cap(settings.database_url)
    print(f"naive payintents (negative control) on http://{args.host}:{args.port}", flush=True)
    serve_variant(
        "tests.harness.naive_app:naive_app", args.port, args.workers, host=args.host, log_level=args.log_level
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
