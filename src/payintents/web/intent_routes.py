"""Routes for payment intents: create, get, cancel, search, capture, reverse, amend, refresh secret."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import ValidationError
from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import CaptureMode, PaymentIntent
from payintents.domain.lifecycle import IntentSpec
from payintents.service import intents
from payintents.service.mirror import Forwarded
from payintents.service.ports import IntentPage, IntentQuery
from payintents.web import request_schemas as schemas
from payintents.web.cursors import Position, decode_cursor, encode_cursor
from payintents.web.endpoint import ApiCall, Operation, answer_response, api_route, json_response
from payintents.web.legacy_shapes import moto_document, named_item_lines
from payintents.web.presenters import present_intent, stored_json
from payintents.web.request_bodies import (
    CreateCaptureBody,
    CreatePaymentIntentBody,
    SearchBody,
    SearchCursorBody,
    SetAmountBody,
    SetTipsBody,
)
from payintents.web.terminal_presenters import present_session_in_history

CREATE_TARGET = "payment-intents"


def _render(call: ApiCall[object]) -> Any:
    return lambda intent: stored_json(present_intent(intent, call.base_url, call.version))


async def create(call: ApiCall[CreatePaymentIntentBody]) -> Response:
    body = call.body
    extra_amounts = (body.cashback_amount, body.service_charge_amount)
    spec = IntentSpec(
        amount=body.amount.as_money(),
        reference=body.reference,
        capture_mode=body.capture_mode or CaptureMode.AUTO,
        tips_amount=body.tips_amount.as_money() if body.tips_amount is not None else None,
        extra_amounts=tuple(extra.as_money() for extra in extra_amounts if extra is not None),
        expire_at=body.expire_at,
        auto_expire_in=body.auto_expire_in,
        auto_expire_action=body.auto_expire_action,
        # The domain keeps the body as sent (canonical names, item lines named as the current
        # versions name them) and reads its other objects there.
        document=_stored_document(call.document),
    )
    # For an upstream account, the validated body goes on to Dojo, and Dojo's answer is stored.
    forwarded = Forwarded(call.document, call.version.isoformat(), stored_json)
    answer = await intents.create_intent(
        call.deps, call.context, call.scope, spec, call.idempotent(CREATE_TARGET), _render(call), forwarded
    )
    return answer_response(answer)


def _stored_document(document: dict[str, Any]) -> dict[str, Any]:
    stored = moto_document(document)
    if stored.get("itemLines") is not None:
        stored["itemLines"] = named_item_lines(stored["itemLines"], "itemLines")
    return stored


async def get(call: ApiCall) -> Response:
    raw = call.request.query_params.get("returnCanceled", "false").lower()
    if raw not in ("true", "false"):
        raise ValidationError({"returnCanceled": ["The returnCanceled value must be true or false."]})
    intent, sessions = await intents.get_intent_and_sessions(
        call.deps, call.scope, call.path_param("paymentIntentId"), return_canceled=raw == "true"
    )
    body = present_intent(intent, call.base_url, call.version)
    body["terminalSessionHistory"] = [present_session_in_history(s) for s in sessions]
    return json_response(body)


async def _change(call: ApiCall[object], change: intents.Change, render: Any = None) -> Response:
    intent_id = call.path_param("paymentIntentId")
    answer = await intents.change_intent(
        call.deps,
        call.context,
        call.scope,
        intent_id,
        change,
        call.idempotent(intent_id),
        render or _render(call),
    )
    return answer_response(answer)


async def cancel(call: ApiCall) -> Response:
    intent_id = call.path_param("paymentIntentId")
    answer = await intents.cancel_intent(
        call.deps, call.context, call.scope, intent_id, call.idempotent(intent_id), _render(call)
    )
    return answer_response(answer)


async def capture(call: ApiCall[CreateCaptureBody]) -> Response:
    intent_id = call.path_param("paymentIntentId")
    amounts = (call.body.amount, call.body.tips_amount)

    def render(intent: PaymentIntent) -> StoredResponse:
        message = f"collect payment for {intent.reference}"
        return stored_json({"message": message, "captureId": intent.captures[-1].id})

    answer = await intents.capture_intent(
        call.deps, call.context, call.scope, intent_id, amounts, call.idempotent(intent_id), render
    )
    return answer_response(answer)


async def reverse(call: ApiCall) -> Response:
    intent_id = call.path_param("paymentIntentId")

    def render(intent: PaymentIntent) -> StoredResponse:
        message = f"reverse for {intent.reference}"
        return stored_json({"message": message, "reversalId": intent.reversal_id})

    answer = await intents.reverse_intent(
        call.deps, call.context, call.scope, intent_id, call.idempotent(intent_id), render
    )
    return answer_response(answer)


async def change_amount(call: ApiCall[SetAmountBody]) -> Response:
    item_lines = call.body.item_lines
    given = {
        "itemLines": None if item_lines is None else named_item_lines(item_lines, "itemLines"),
        "taxLines": call.body.tax_lines,
    }
    lines = {name: list(value) for name, value in given.items() if value is not None}
    return await _change(call, intents.amount_change(call.body.amount.as_money(), lines))


async def change_tips(call: ApiCall[SetTipsBody]) -> Response:
    return await _change(call, intents.tips_change(call.body.tips_amount.as_money()))


async def refresh_secret(call: ApiCall) -> Response:
    return await _change(call, intents.refresh_secret_change(call.deps))


async def search(call: ApiCall[SearchBody]) -> Response:
    body = call.body
    cursor = body.cursor or SearchCursorBody(limit=None, before=None, after=None)
    if cursor.before and cursor.after:
        raise ValidationError({"cursor": ["Send either cursor.before or cursor.after, not both."]})
    query = IntentQuery(
        statuses=frozenset(body.statuses or ()),
        start_at=body.start_date,
        end_at=body.end_date,
        limit=cursor.limit or 50,
        after=_position(cursor.after, "after"),
        before=_position(cursor.before, "before"),
    )
    page = await intents.search_intents(call.deps, call.scope, query)
    return json_response(_present_page(call, query, page))


def _position(cursor: str | None, name: str) -> Position | None:
    if not cursor:
        return None
    position = decode_cursor(cursor)
    if position is None:
        raise ValidationError({f"cursor.{name}": ["The cursor is not one this server issued."]})
    return position


def _present_page(call: ApiCall[object], query: IntentQuery, page: IntentPage) -> dict[str, Any]:
    items = page.intents
    # Newest first. "after" pages towards older intents, "before" towards newer ones.
    older_exist = page.has_more if query.before is None else True
    newer_exist = query.after is not None or (query.before is not None and page.has_more)
    return {
        "data": [present_intent(i, call.base_url, call.version) for i in items],
        "before": encode_cursor(items[0].created_at, items[0].id) if items and newer_exist else None,
        "after": encode_cursor(items[-1].created_at, items[-1].id) if items and older_exist else None,
    }


PI = "PaymentIntent"

ROUTES: list[Route] = [
    api_route(
        "/payment-intents",
        POST=Operation(
            create,
            schemas.CREATE_PAYMENT_INTENT,
            body_required=True,
            idempotent=True,
            summary="Create a payment intent",
            success=(200, PI),
            errors=(409, 413, 415),
        ),
    ),
    api_route(
        "/payment-intents/search",
        POST=Operation(
            search,
            schemas.SEARCH,
            body_required=True,
            summary="Search payment intents, newest first, with cursors",
            success=(200, "PagedPaymentIntent"),
            errors=(413, 415),
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}",
        GET=Operation(
            get,
            summary="Retrieve a payment intent",
            success=(200, PI),
            errors=(404,),
            query=(("returnCanceled", {"type": "boolean", "default": False}),),
        ),
        DELETE=Operation(
            cancel,
            summary="Cancel a payment intent (Created only)",
            success=(200, PI),
            errors=(404, 409),
            idempotent=True,
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/captures",
        POST=Operation(
            capture,
            schemas.CREATE_CAPTURE,
            body_required=True,
            idempotent=True,
            summary="Capture all or part of a Manual authorization",
            success=(200, "Capture"),
            # 502: the processor failed (sandbox: fail-next "processor_error"); nothing was captured.
            # 504: it did not answer in time; the outcome is settled later, a retry answers it.
            errors=(404, 409, 413, 415, 502, 504),
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/reversal",
        POST=Operation(
            reverse,
            summary="Reverse a payment in full",
            success=(200, "Reversal"),
            errors=(404, 409, 504),
            idempotent=True,
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/amount",
        POST=Operation(
            change_amount,
            schemas.SET_AMOUNT,
            body_required=True,
            idempotent=True,
            summary="Change the amount (config.payment.customAmountAllowed)",
            success=(200, PI),
            errors=(404, 405, 409, 413, 415),
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/tips-amount",
        POST=Operation(
            change_tips,
            schemas.SET_TIPS,
            body_required=True,
            idempotent=True,
            summary="Change the tips (config.payment.tipsAllowed)",
            success=(200, PI),
            errors=(404, 405, 409, 413, 415),
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/refresh-client-session-secret",
        POST=Operation(
            refresh_secret,
            summary="Issue a new client session secret",
            success=(200, PI),
            errors=(404, 409),
            idempotent=True,
        ),
    ),
]
