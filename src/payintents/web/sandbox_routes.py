"""Routes of the sandbox's controls (all extensions; production keys get 404): failure injection,
the account clock, reset and the request log."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import ValidationError
from payintents.service import sandbox
from payintents.service.ports import RequestLogEntry, RequestQuery
from payintents.service.sandbox import ClockView
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, Operation, api_route, json_response
from payintents.web.http_input import whole_number
from payintents.web.presenters import iso
from payintents.web.request_bodies import AdvanceClockBody, FailNextBody

MAX_LOG_LIMIT = 200


def _clock(view: ClockView) -> dict[str, Any]:
    return {"now": iso(view.now), "offsetSeconds": view.offset.total_seconds()}


def fail_next(call: ApiCall[FailNextBody]) -> Response:
    body = call.body
    failure = sandbox.fail_next(
        call.deps,
        call.scope,
        call.path_param("paymentIntentId"),
        body.operation,
        body.outcome,
        body.delay_ms or 0,
    )
    return json_response(
        {
            "paymentIntentId": call.path_param("paymentIntentId"),
            "operation": failure.operation.value,
            "outcome": failure.outcome.value,
            "delayMs": failure.delay_ms,
        }
    )


def show_clock(call: ApiCall) -> Response:
    return json_response(_clock(sandbox.show_clock(call.deps, call.context, call.scope)))


async def advance_clock(call: ApiCall[AdvanceClockBody]) -> Response:
    report = await sandbox.advance_clock(call.deps, call.scope, call.body.seconds, call.body.to)
    return json_response(
        {
            **_clock(report.clock),
            "intentsExpired": report.intents_expired,
            "keysReaped": report.keys_reaped,
            "webhookRetriesMoved": report.webhook_retries_moved,
        }
    )


def reset(call: ApiCall) -> Response:
    return json_response({"deleted": sandbox.reset(call.deps, call.scope)})


def list_requests(call: ApiCall) -> Response:
    params = call.request.query_params
    query = RequestQuery(
        path_prefix=params.get("path") or None,
        status=int_param(params.get("status"), "status", 100, 599),
        payment_intent_id=params.get("intentId") or None,
        limit=int_param(params.get("limit"), "limit", 1, MAX_LOG_LIMIT) or 50,
    )
    entries = sandbox.list_requests(call.deps, call.scope, query)
    return json_response({"data": [_entry(e) for e in entries]})


def int_param(raw: str | None, name: str, low: int, high: int) -> int | None:
    # Absent is "no filter"; present but empty (``?status=``) is not a number, so it is refused.
    if raw is None:
        return None
    value = whole_number(raw, low, high)
    if value is None:
        raise ValidationError({name: [f"The {name} parameter must be a whole number from {low} to {high}."]})
    return value


def _entry(entry: RequestLogEntry) -> dict[str, Any]:
    return {
        "traceId": entry.trace_id,
        "at": iso(entry.at),
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "durationMs": entry.duration_ms,
        "idempotencyKey": entry.idempotency_key,
        "replayed": entry.replayed,
        "paymentIntentId": entry.payment_intent_id,
        "requestBody": entry.request_body,
        "responseBody": entry.response_body,
    }


def _op(handler: Any, summary: str, **extra: Any) -> Operation:
    return Operation(handler, summary=summary, extension=True, errors=(404,), **extra)


ROUTES: list[Route] = [
    api_route(
        "/sandbox/payment-intents/{paymentIntentId}/fail-next",
        POST=_op(
            fail_next,
            "Make the next capture or refund of an intent fail",
            schema=schemas.FAIL_NEXT,
            body_required=True,
            success=(200, "FailNext"),
        ),
    ),
    api_route("/sandbox/clock", GET=_op(show_clock, "The account's clock", success=(200, "SandboxClock"))),
    api_route(
        "/sandbox/clock/advance",
        POST=_op(
            advance_clock,
            "Move the account's clock forward and run what became due",
            schema=schemas.ADVANCE_CLOCK,
            body_required=True,
            success=(200, "ClockAdvanced"),
        ),
    ),
    api_route(
        "/sandbox/reset", POST=_op(reset, "Delete every object of the account", success=(200, "Reset"))
    ),
    api_route(
        "/sandbox/requests",
        GET=_op(
            list_requests,
            "The account's recent API requests",
            success=(200, "RequestLog"),
            query=(
                ("path", {"type": "string"}),
                ("status", {"type": "integer", "minimum": 100, "maximum": 599}),
                ("intentId", {"type": "string"}),
                ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LIMIT}),
            ),
        ),
    ),
]
