"""The sandbox's hosted checkout: an HTML card form and its JSON twin, plus the 3DS step.

Like Dojo's payment link, these need no API key: the intent id is the capability. Failures use
Dojo's error body all the same.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from payintents.domain.intent import PaymentIntent
from payintents.service import checkout
from payintents.service.dependencies import Dependencies
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import json_response
from payintents.web.http_input import parse_json, read_body, refuse_impossible_input
from payintents.web.presenters import present_intent
from payintents.web.problems import response_for_exception, trace_id_of
from payintents.web.wire import validate

_PAGE = (Path(__file__).parent / "templates" / "checkout.html").read_text(encoding="utf-8")


def _page(intent: PaymentIntent) -> str:
    amount = intent.total_amount
    return _PAGE.format(
        reference=html.escape(intent.reference),
        amount=f"{amount.value / 100:.2f}",
        currency=amount.currency.value,
        status=intent.status.value,
    )


async def page(request: Request) -> Response:
    trace_id = trace_id_of(request)
    deps: Dependencies = request.app.state.deps
    try:
        refuse_impossible_input(request)
        intent_id = str(request.path_params["paymentIntentId"])
        intent = await run_in_threadpool(checkout.find_payable, deps, intent_id)
        return HTMLResponse(_page(intent))
    except Exception as exc:
        return response_for_exception(exc, trace_id)


async def pay(request: Request) -> Response:
    return await _post(request, schemas.PAY, _pay)


async def challenge(request: Request) -> Response:
    return await _post(request, schemas.CHALLENGE, _challenge)


def _pay(deps: Dependencies, intent_id: str, body: dict[str, Any]) -> PaymentIntent:
    card = checkout.CardDetails(
        number=body["cardNumber"].replace(" ", ""),
        expiry=body["expiryDate"],
        cvv=body["cvv"],
        name=body.get("cardName"),
    )
    return checkout.pay(deps, intent_id, card)


def _challenge(deps: Dependencies, intent_id: str, body: dict[str, Any]) -> PaymentIntent:
    return checkout.complete_challenge(deps, intent_id, body["outcome"] == "pass")


async def _post(request: Request, schema: Any, action: Any) -> Response:
    trace_id = trace_id_of(request)
    try:
        refuse_impossible_input(request)
        raw = await read_body(request)
        body = validate(schema, parse_json(request, raw, body_required=True))
        deps: Dependencies = request.app.state.deps
        intent_id = str(request.path_params["paymentIntentId"])
        intent = await run_in_threadpool(action, deps, intent_id, body)
        answer = present_intent(intent, str(request.base_url))
        if intent.pending_challenge:
            # Design "sandbox payment": a challenged payment answers AuthChallenged + a challengeUrl.
            answer["challengeUrl"] = f"{str(request.base_url).rstrip('/')}/checkout/{intent.id}/3ds"
        return json_response(answer)
    except Exception as exc:
        return response_for_exception(exc, trace_id)


ROUTES: list[Route] = [
    Route("/checkout/{paymentIntentId}", page, methods=["GET"]),
    Route("/checkout/{paymentIntentId}/pay", pay, methods=["POST"]),
    Route("/checkout/{paymentIntentId}/3ds", challenge, methods=["POST"]),
]
