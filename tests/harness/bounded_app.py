"""The real server with its refund write cut down: a bound on what the write path can cost.

    python -m tests.harness.bounded_app --port P --workers N    (database from $PAYINTENTS_DATABASE_URL)

Everything a refund request does around its write stays as it is in every worker: HTTP, routing,
authentication, validation, the idempotency fingerprint, the answer's JSON and the sandbox request
log. Only ``refunds.create_refund`` is swapped, as ``$PAYINTENTS_BOUNDED_WRITE`` says:

- ``none``: no refund transaction at all; the answer is rendered from an outcome made up in
  Python. What is left is the cost of everything else, the most any write path could reach.
- ``one-statement`` (PostgreSQL): the benchmark ceiling's single statement of data-modifying CTEs
  (``benchmark/ceiling.py``), one round trip in autocommit, with the rendered answer stored as
  the key's answer. The tightest write there is, where the product's own rules are bypassed: a
  refused or replayed refund is not handled at all, so this is a bound, never a server.

Used by ``tests.harness.refund_bounds``; never imported by the real server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from typing import Any

from starlette.applications import Starlette

from payintents.benchmark.ceiling import POSTGRES_REFUND, ceiling_params
from payintents.bootstrap import Settings, app_from_environment, migrate
from payintents.domain.intent import Scope
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service import refunds
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest, Render
from payintents.service.ports import RequestContext
from tests.harness.variant_server import serve_variant

WRITE_ENV = "PAYINTENTS_BOUNDED_WRITE"
WRITES = ("none", "one-statement")
# Ids the one statement writes must not collide across workers.
_NUMBERS = itertools.count(os.getpid() * 10**7)


async def bounded_create_refund(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    request: IdempotentRequest,
    render: Render[RefundOutcome],
) -> Answer:
    now = context.now(deps.clock)
    refund = refund_request.recorded(deps.ids.new_id("rfnd", None), scope, intent_id, now)
    outcome = RefundOutcome(refund, reference="bound")
    answer = render(outcome)
    if os.environ.get(WRITE_ENV) == "one-statement":
        params = ceiling_params(next(_NUMBERS), intent_id, refund_request.amount, now)
        params.update(
            account=scope.account_id,
            env=scope.environment.value,
            key=request.key or refund.id,
            refund=refund.id,
            event=deps.ids.new_id("evt", scope.environment),
            answer=answer.body,
        )
        engine = deps.uow()._engine  # type: ignore[attr-defined]
        await asyncio.to_thread(_run_one_statement, engine, params, intent_id)
    return Answer(answer, replayed=False)


def _run_one_statement(engine: Any, params: dict[str, Any], intent_id: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.exec_driver_sql(POSTGRES_REFUND, params).fetchone() is None:
            raise RuntimeError(f"the one statement refunded nothing on {intent_id}")


def bounded_app() -> Starlette:
    """ASGI factory for uvicorn (``factory=True``): runs in every worker process."""
    refunds.create_refund = bounded_create_refund  # the route calls refunds.create_refund at request time
    return app_from_environment()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.bounded_app", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if os.environ.get(WRITE_ENV) not in WRITES:
        parser.error(f"set {WRITE_ENV} to one of {', '.join(WRITES)}")
    settings = Settings.from_environment()
    if os.environ[WRITE_ENV] == "one-statement" and settings.database_url.startswith("sqlite"):
        parser.error("one-statement is PostgreSQL's ceiling statement: it needs a PostgreSQL database")
    migrate(settings)
    serve_variant("tests.harness.bounded_app:bounded_app", args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
