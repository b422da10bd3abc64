"""The sandbox's hosted checkout: its pages (checkout_pages.py), their script and stylesheet, and
the JSON twin for API callers, ``POST /checkout/{id}/pay`` (a card, or a saved card's
``paymentMethodId``) and ``POST /checkout/{id}/3ds``.

Like Dojo's payment link, none of these needs an API key: the intent id is the capability. So the
twin answers only what a payment page needs (``present_to_payer``), and fails with Dojo's error
body. They run on the event loop: a sandbox pause (the timeout test card) holds no thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from payintents.domain.intent import PaymentIntent
from payintents.domain.setup_intent import SetupIntent
from payintents.service import checkout, setup_intents
from payintents.service.dependencies import Dependencies
from payintents.web import checkout_pages, public_url, setup_pages
from payintents.web import request_schemas as schemas
from payintents.web.checkout_pages import page_route
from payintents.web.customer_presenters import present_setup_to_shopper
from payintents.web.endpoint import json_response
from payintents.web.http_input import parse_json, read_body, refuse_impossible_input
from payintents.web.presenters import present_to_payer
from payintents.web.problems import response_for_exception, trace_id_of
from payintents.web.request_bodies import ChallengeBody, SaveCardBody, SavedCardChoiceBody
from payintents.web.templating import STATIC_DIR
from payintents.web.wire import B

T = TypeVar("T")


async def pay(request: Request) -> Response:
    return await _post(request, _read_payment, _pay)


async def challenge(request: Request) -> Response:
    return await _post(request, schemas.CHALLENGE.read, _challenge)


async def save_card(request: Request) -> Response:
    return await _post(request, schemas.SAVE_CARD.read, _save, "setupIntentId", _present_setup)


async def setup_challenge(request: Request) -> Response:
    return await _post(request, schemas.CHALLENGE.read, _setup_challenge, "setupIntentId", _present_setup)


def _read_payment(document: Any) -> SaveCardBody | SavedCardChoiceBody:
    """A card typed in, or (extension) a saved card of the intent's customer named by its id;
    property names bind case-insensitively, as everywhere."""
    names = {str(name).casefold() for name in document} if isinstance(document, dict) else set()
    if "paymentmethodid" in names:
        return schemas.PAY_WITH_SAVED_CARD.read(document)
    return schemas.SAVE_CARD.read(document)


async def _pay(deps: Dependencies, intent_id: str, body: SaveCardBody | SavedCardChoiceBody) -> PaymentIntent:
    if isinstance(body, SavedCardChoiceBody):
        return await checkout.pay_with_saved_card(deps, intent_id, body.payment_method_id)
    return await checkout.pay(deps, intent_id, _card(body))


def _card(body: SaveCardBody) -> checkout.CardDetails:
    return checkout.CardDetails(
        number=body.card_number.replace(" ", ""),
        expiry=body.expiry_date,
        cvv=body.cvv,
        name=body.card_name,
        save=bool(body.save_card),
    )


async def _save(deps: Dependencies, setup_intent_id: str, body: SaveCardBody) -> SetupIntent:
    return await setup_intents.save_card(deps, setup_intent_id, _card(body))


async def _setup_challenge(deps: Dependencies, setup_intent_id: str, body: ChallengeBody) -> SetupIntent:
    return await setup_intents.complete_challenge(deps, setup_intent_id, body.passed)


def _present_setup(intent: SetupIntent, base_url: str) -> dict[str, Any]:
    return present_setup_to_shopper(intent, base_url)


async def _challenge(deps: Dependencies, intent_id: str, body: ChallengeBody) -> PaymentIntent:
    return await checkout.complete_challenge(deps, intent_id, body.passed)


async def _post(
    request: Request,
    read: Callable[[Any], B],
    action: Callable[[Dependencies, str, B], Awaitable[T]],
    id_name: str = "paymentIntentId",
    present: Callable[[T, str], dict[str, Any]] = present_to_payer,  # type: ignore[assignment]
) -> Response:
    trace_id = trace_id_of(request)
    try:
        refuse_impossible_input(request)
        raw = await read_body(request)
        body = read(parse_json(request, raw, body_required=True))
        deps: Dependencies = request.app.state.deps
        found = await action(deps, str(request.path_params[id_name]), body)
        return json_response(present(found, public_url.base_url(request)))
    except Exception as exc:
        return response_for_exception(exc, trace_id)


_PAGE = "/checkout/{paymentIntentId}"
_SETUP = "/setup/{setupIntentId}"

ROUTES: list[BaseRoute] = [
    Mount("/checkout/static", app=StaticFiles(directory=STATIC_DIR), name="checkout-static"),
    page_route(_PAGE, GET=checkout_pages.show, POST=checkout_pages.pay),
    page_route(f"{_PAGE}/challenge", GET=checkout_pages.show_challenge, POST=checkout_pages.answer_challenge),
    Route(f"{_PAGE}/pay", pay, methods=["POST"]),
    Route(f"{_PAGE}/3ds", challenge, methods=["POST"]),
    # A setup intent's card form (ADR 0028): saves a card, charges nothing.
    page_route(_SETUP, "setupIntentId", GET=setup_pages.show, POST=setup_pages.save),
    page_route(
        f"{_SETUP}/challenge",
        "setupIntentId",
        GET=setup_pages.show_challenge,
        POST=setup_pages.answer_challenge,
    ),
    Route(f"{_SETUP}/save", save_card, methods=["POST"]),
    Route(f"{_SETUP}/3ds", setup_challenge, methods=["POST"]),
]
