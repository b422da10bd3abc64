"""The sandbox's hosted checkout: its pages (checkout_pages.py), their script and stylesheet, and
the JSON twin for API callers, ``POST /checkout/{id}/pay`` and ``POST /checkout/{id}/3ds``.

Like Dojo's payment link, none of these needs an API key: the intent id is the capability. So the
twin answers only what a payment page needs (``present_to_payer``), and fails with Dojo's error
body. They run on the event loop: a sandbox pause (the timeout test card) holds no thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from payintents.domain.intent import PaymentIntent
from payintents.service import checkout
from payintents.service.dependencies import Dependencies
from payintents.web import checkout_pages, public_url
from payintents.web import request_schemas as schemas
from payintents.web.checkout_pages import page_route
from payintents.web.endpoint import json_response
from payintents.web.http_input import parse_json, read_body, refuse_impossible_input
from payintents.web.presenters import present_to_payer
from payintents.web.problems import response_for_exception, trace_id_of
from payintents.web.request_bodies import ChallengeBody, PayBody
from payintents.web.templating import STATIC_DIR
from payintents.web.wire import B, Body


async def pay(request: Request) -> Response:
    return await _post(request, schemas.PAY, _pay)


async def challenge(request: Request) -> Response:
    return await _post(request, schemas.CHALLENGE, _challenge)


async def _pay(deps: Dependencies, intent_id: str, body: PayBody) -> PaymentIntent:
    card = checkout.CardDetails(
        number=body.card_number.replace(" ", ""),
        expiry=body.expiry_date,
        cvv=body.cvv,
        name=body.card_name,
    )
    return await checkout.pay(deps, intent_id, card)


async def _challenge(deps: Dependencies, intent_id: str, body: ChallengeBody) -> PaymentIntent:
    return await checkout.complete_challenge(deps, intent_id, body.passed)


async def _post(
    request: Request, schema: Body[B], action: Callable[[Dependencies, str, B], Awaitable[PaymentIntent]]
) -> Response:
    trace_id = trace_id_of(request)
    try:
        refuse_impossible_input(request)
        raw = await read_body(request)
        body = schema.read(parse_json(request, raw, body_required=True))
        deps: Dependencies = request.app.state.deps
        intent_id = str(request.path_params["paymentIntentId"])
        intent = await action(deps, intent_id, body)
        return json_response(present_to_payer(intent, public_url.base_url(request)))
    except Exception as exc:
        return response_for_exception(exc, trace_id)


_PAGE = "/checkout/{paymentIntentId}"

ROUTES: list[BaseRoute] = [
    Mount("/checkout/static", app=StaticFiles(directory=STATIC_DIR), name="checkout-static"),
    page_route(_PAGE, GET=checkout_pages.show, POST=checkout_pages.pay),
    page_route(f"{_PAGE}/challenge", GET=checkout_pages.show_challenge, POST=checkout_pages.answer_challenge),
    Route(f"{_PAGE}/pay", pay, methods=["POST"]),
    Route(f"{_PAGE}/3ds", challenge, methods=["POST"]),
]
