"""Gateway variants for the gateway's fault and race tests (never imported by the real server):

- ``kill-after-upstream-answer``: the worker SIGKILLs itself the moment the upstream has answered
  a refund, before the answer is used: with the real gateway, the crash the two-phase write must
  heal (the operation is pending; reconciliation asks the upstream).
- ``call-before-reserve``: the negative control. A refund calls the upstream first, after only
  reading the mirror's remaining amount, and reserves and records locally afterwards. With no
  operation written yet there is no operation id to derive the upstream's idempotency key from, so
  each request sends a key of its own; the caller's key is claimed only when recording. Racing
  requests with one key then refund several times at the upstream while the gateway records
  one; a crash after the upstream's answer leaves a refund nothing here knows of.

    PAYINTENTS_GATEWAY_VARIANT=NAME[,NAME] python -m tests.harness.gateway_variants --port P --workers N

(database from ``PAYINTENTS_DATABASE_URL``, already migrated, with ``PAYINTENTS_SECRET_KEY``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import signal
import sys
from typing import Any

from starlette.applications import Starlette

from tests.harness.variant_server import serve_variant

VARIANT_ENV = "PAYINTENTS_GATEWAY_VARIANT"
KILL_AFTER_ANSWER = "kill-after-upstream-answer"
CALL_BEFORE_RESERVE = "call-before-reserve"
VARIANTS = (KILL_AFTER_ANSWER, CALL_BEFORE_RESERVE)


def _patch_kill_after_answer() -> None:
    from payintents.adapters.dojo_api import DojoApi, DojoRefund

    original = DojoApi.refund

    async def refund_then_die(self: DojoApi, intent_id: str, body: Any, idempotency_key: str) -> DojoRefund:
        await original(self, intent_id, body, idempotency_key)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("killed")

    setattr(DojoApi, "refund", refund_then_die)  # noqa: B010 (a deliberate monkeypatch)


class _AlreadyDone:
    """A processor whose work was done before the reservation: it answers the upstream's id."""

    def __init__(self, inner: Any, refund_id: str) -> None:
        self._inner = inner
        self._refund_id = refund_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def perform(self, operation: Any) -> str:
        return self._refund_id


def _patch_call_before_reserve() -> None:
    from payintents.adapters.dojo_api import DojoApi
    from payintents.adapters.dojo_processor import refund_body, translated
    from payintents.domain import lifecycle
    from payintents.domain.errors import InvariantViolationError
    from payintents.service import mirror, refunds
    from payintents.service.upstreams import open_upstream

    original = refunds.create_refund

    async def create_refund_upstream_first(
        deps: Any, context: Any, scope: Any, intent_id: str, refund_request: Any, request: Any, render: Any
    ) -> Any:
        upstream = await deps.upstream_for(scope)
        if upstream is None:
            return await original(deps, context, scope, intent_id, refund_request, request, render)
        await mirror.refresh_before_money_moves(deps, scope, intent_id)
        intent = await deps.runner().read(lambda uow: uow.intents.get(scope, intent_id))
        refusal = lifecycle.refund_refusal(intent, refund_request.amount)
        if not isinstance(refusal, InvariantViolationError):  # a rule refuses it (400/404)
            raise refusal
        stored = await deps.runner().read(lambda uow: uow.upstreams.get(scope.account_id))
        opened = open_upstream(deps.secret_box, stored)
        api = DojoApi(opened.base_url, opened.key)
        body = refund_body(_as_operation(intent_id, refund_request))
        refund = await translated(api.refund(intent_id, body, f"call-first-{secrets.token_hex(8)}"))
        await api.aclose()
        done = dataclasses.replace(
            deps, upstreams=None, processor=_AlreadyDone(deps.processor, refund.refund_id)
        )
        return await original(done, context, scope, intent_id, refund_request, request, render)

    setattr(refunds, "create_refund", create_refund_upstream_first)  # noqa: B010 (a deliberate monkeypatch)


def _as_operation(intent_id: str, refund_request: Any) -> Any:
    """Just enough of an operation for ``refund_body``."""
    details = {
        "refundReason": refund_request.refund_reason,
        "notes": refund_request.notes,
        "previousTransactionId": refund_request.previous_transaction_id,
    }
    return argparse.Namespace(amount=refund_request.amount, details=details, intent_id=intent_id)


def app_factory() -> Starlette:
    """``uvicorn --factory`` entry point: runs in each worker, patches, then builds the real app."""
    from payintents.bootstrap import app_from_environment

    variants = os.environ.get(VARIANT_ENV, "").split(",")
    if not variants or any(variant not in VARIANTS for variant in variants):
        raise RuntimeError(f"unknown gateway variant in {variants!r}")
    if CALL_BEFORE_RESERVE in variants:
        _patch_call_before_reserve()
    if KILL_AFTER_ANSWER in variants:
        _patch_kill_after_answer()
    return app_from_environment()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    print(f"gateway variant {os.environ.get(VARIANT_ENV)} on 127.0.0.1:{args.port}", flush=True)
    serve_variant("tests.harness.gateway_variants:app_factory", args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
