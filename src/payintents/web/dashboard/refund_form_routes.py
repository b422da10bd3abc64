"""The refund form: enter an amount, review it on a confirmation page, confirm.

The confirmation goes through ``service.refunds.create_refund``, the API's own write path, with an
idempotency key generated when the form was first shown and carried in a hidden field. A double
click, a reloaded confirmation or a resubmitted form therefore replays the first answer instead of
refunding again. The key and the fingerprint are the API's: the same operation string
(``POST /payment-intents/{id}/refunds``) and the same canonical body, and the stored answer is the
API's JSON, so the API and the dashboard replay each other's answers.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from anyio import from_thread
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import (
    IdempotencyConflictError,
    RefundTooLargeError,
    RuleBrokenError,
    ValidationError,
)
from payintents.domain.idempotency import StoredResponse, check_key, fingerprint
from payintents.domain.intent import PaymentIntent
from payintents.domain.lifecycle import refund_refusal
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service import dashboard, refunds
from payintents.service.idempotent import IdempotentRequest
from payintents.service.ports import ProcessorDeclinedError, ProcessorUnavailableError
from payintents.web.amounts import AmountInputError, decimal_text, format_money, parse_amount
from payintents.web.dashboard.pages import BASE, FORM_EXPIRED, Visit, page, redirect
from payintents.web.dashboard.payment_routes import can_refund
from payintents.web.presenters import present_refund_created, stored_json

log = logging.getLogger("payintents.dashboard")

MAX_REASON = 1024
MAX_NOTES = 4096
KEY_PREFIX = "dashboard-"
KEY_REUSED = (
    "This refund form was already used for a different refund, so nothing was refunded now. "
    "Check the payment's refunds, then start again from this new form."
)


@dataclass(frozen=True, slots=True)
class RefundFields:
    """The refund form's fields as typed; ``check`` turns them into a request or field errors."""

    amount: str
    reason: str
    notes: str
    key: str

    @classmethod
    def of(cls, form: Any) -> RefundFields:
        return cls(
            amount=form.get("amount", "").strip(),
            reason=form.get("reason", "").strip(),
            notes=form.get("notes", "").strip(),
            key=form.get("refund_key", ""),
        )

    def check(self) -> tuple[RefundRequest | None, dict[str, str]]:
        errors: dict[str, str] = {}
        minor = 0
        try:
            minor = parse_amount(self.amount)
        except AmountInputError as problem:
            errors["amount"] = str(problem)
        if len(self.reason) > MAX_REASON:
            errors["reason"] = f"Write the reason in at most {MAX_REASON} characters."
        if len(self.notes) > MAX_NOTES:
            errors["notes"] = f"Write the notes in at most {MAX_NOTES} characters."
        if errors:
            return None, errors
        return RefundRequest(minor, self.reason or None, self.notes or None), errors

    def key_is_valid(self) -> bool:
        try:
            return self.key.startswith(KEY_PREFIX) and check_key(self.key, required=True) == self.key
        except ValidationError:
            return False


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def _form(
    visit: Visit,
    intent: PaymentIntent,
    fields: RefundFields,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    return visit.render(
        "refund_form.html",
        status,
        nav="payments",
        intent=intent,
        fields=fields,
        errors=errors or {},
        problem=problem,
    )


def refund_form(visit: Visit) -> Response:
    intent = dashboard.refundable_intent(visit.deps, visit.scope, visit.intent_id)
    if not can_refund(intent):
        refusal = refund_refusal(intent, 1)
        return _form(visit, intent, RefundFields("", "", "", ""), problem=str(refusal))
    return _form(visit, intent, RefundFields(decimal_text(intent.remaining_refundable), "", "", new_key()))


def refund_review(visit: Visit) -> Response:
    """Check the form; show it again with the problems, or the confirmation page."""
    intent_id = visit.intent_id
    intent = dashboard.refundable_intent(visit.deps, visit.scope, intent_id)
    fields = RefundFields.of(visit.form)
    if not fields.key_is_valid():
        return visit.error(400, FORM_EXPIRED)
    if visit.form.get("step") == "edit":
        return _form(visit, intent, fields)
    wanted, errors = fields.check()
    if wanted is None:
        return _form(visit, intent, fields, 400, errors)
    try:
        intent = dashboard.check_refund(visit.deps, visit.scope, intent_id, wanted.amount)
    except RuleBrokenError as refused:
        return _form(visit, intent, fields, 400, problem=_in_money(refused, intent))
    return visit.render(
        "refund_confirm.html",
        nav="payments",
        intent=intent,
        fields=RefundFields(decimal_text(wanted.amount), fields.reason, fields.notes, fields.key),
        wanted=wanted,
        remaining_after=intent.remaining_refundable - wanted.amount,
    )


def refund_confirm(visit: Visit) -> Response:
    intent_id = visit.intent_id
    fields = RefundFields.of(visit.form)
    if not fields.key_is_valid():
        return visit.error(400, FORM_EXPIRED)
    wanted, errors = fields.check()
    if wanted is None:
        intent = dashboard.refundable_intent(visit.deps, visit.scope, intent_id)
        return _form(visit, intent, fields, 400, errors)
    try:
        # The page runs on a worker thread; the refund, as the API's, on the event loop.
        answer = from_thread.run(
            refunds.create_refund,
            visit.deps,
            visit.context,
            visit.scope,
            intent_id,
            wanted,
            _idempotent(intent_id, wanted, fields.key),
            _render,
        )
    except RuleBrokenError as refused:
        intent = dashboard.refundable_intent(visit.deps, visit.scope, intent_id)
        return _form(visit, intent, fields, 400, problem=_in_money(refused, intent))
    except (ProcessorDeclinedError, ProcessorUnavailableError) as failed:
        # Nothing was refunded and the key is not spent: the same form may be confirmed again.
        intent = dashboard.refundable_intent(visit.deps, visit.scope, intent_id)
        status = 400 if isinstance(failed, ProcessorDeclinedError) else 502
        return _form(visit, intent, fields, status, problem=str(failed))
    except IdempotencyConflictError:
        intent = dashboard.refundable_intent(visit.deps, visit.scope, intent_id)
        fresh = RefundFields(decimal_text(intent.remaining_refundable), "", "", new_key())
        return _form(visit, intent, fresh, 409, problem=KEY_REUSED)
    refund_id = str(json.loads(answer.response.body)["refundId"])
    try:
        dashboard.record_refund_actor(visit.deps, visit.context, visit.session, refund_id)
    except Exception:
        # The refund is committed: show it. Only the "by whom" note is missing (it reads "API").
        log.exception("could not record who made refund %s", refund_id)
    return redirect(f"{BASE}/payments/{intent_id}?refund={refund_id}")


def _in_money(refused: RuleBrokenError, intent: PaymentIntent) -> str:
    """The API's refusal, with its amounts written as money (£4.00, not 400)."""
    if isinstance(refused, RefundTooLargeError):
        return refused.describe(lambda minor: format_money(minor, intent.currency))
    return refused.detail


def _idempotent(intent_id: str, wanted: RefundRequest, key: str) -> IdempotentRequest:
    """The request as the API would fingerprint it: its operation string and canonical body."""
    body = {"amount": wanted.amount, "refundReason": wanted.refund_reason, "notes": wanted.notes}
    operation = f"POST /payment-intents/{intent_id}/refunds"
    return IdempotentRequest(key, intent_id, fingerprint(operation, body))


def _render(outcome: RefundOutcome) -> StoredResponse:
    return stored_json(present_refund_created(outcome))


ROUTES = [
    Route("/payments/{paymentIntentId}/refund", page(refund_form), methods=["GET"]),
    Route("/payments/{paymentIntentId}/refund", page(refund_review), methods=["POST"]),
    Route("/payments/{paymentIntentId}/refund/confirm", page(refund_confirm), methods=["POST"]),
]
