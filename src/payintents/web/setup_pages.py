"""The hosted card form of a setup intent, as a shopper's browser sees it (ADR 0028): the shopper
saves a card for later merchant-initiated charges and pays nothing. Server-rendered like the
payment checkout (checkout_pages.py), whose form fields, test cards and failure pages it shares.

- ``GET /setup/{id}``: the card form with the terms, or the "saved" page once a card is saved.
- ``POST /setup/{id}`` (form ``cardNumber``, ``expiryDate``, ``cvv``, ``cardName``): one card.
  Saved → 303 to ``config.redirectUrl``, else to the "saved" page; 3-D Secure → 303 to the
  challenge page; declined → the form again with the reason.
- ``GET /setup/{id}/challenge``: the 3-D Secure page; ``POST`` (form ``outcome``) answers it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from payintents.domain.errors import StateConflictError, ValidationError
from payintents.domain.setup_intent import SetupIntent, SetupIntentStatus
from payintents.service import setup_intents
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ProcessorTimeoutError, ProcessorUnavailableError
from payintents.web import request_schemas as schemas
from payintents.web.checkout_pages import (
    TRY_AGAIN,
    card_from,
    declined_message,
    field_errors,
    offered_cards,
    templates,
)
from payintents.web.templating import security_headers

DONE_HEADINGS = {
    SetupIntentStatus.AUTHORIZED: "Card saved",
    SetupIntentStatus.COMPLETED: "Card saved",
    SetupIntentStatus.CANCELED: "This request was canceled",
    SetupIntentStatus.EXPIRED: "This request has expired",
}


async def show(deps: Dependencies, setup_intent_id: str, _form: dict[str, str]) -> Response:
    intent = await setup_intents.find_for_shopper(deps, setup_intent_id)
    if intent.status is not SetupIntentStatus.CREATED:
        return _done_page(intent)
    return _card_form(deps, intent)


async def save(deps: Dependencies, setup_intent_id: str, form: dict[str, str]) -> Response:
    intent = await setup_intents.find_for_shopper(deps, setup_intent_id)
    if intent.status is not SetupIntentStatus.CREATED:
        return _done(intent)  # a second press, or a resent form
    try:
        intent = await setup_intents.save_card(deps, setup_intent_id, card_from(form))
    except ValidationError as invalid:
        return _card_form(deps, intent, 400, "Check the card details.", field_errors(invalid))
    except (ProcessorUnavailableError, ProcessorTimeoutError) as failed:
        return _card_form(deps, intent, 502, TRY_AGAIN[type(failed)])
    except StateConflictError:
        return await show(deps, setup_intent_id, form)
    return _after_attempt(deps, intent)


async def show_challenge(deps: Dependencies, setup_intent_id: str, _form: dict[str, str]) -> Response:
    intent = await setup_intents.find_for_shopper(deps, setup_intent_id)
    if not intent.pending_challenge:
        return _see_other(f"/setup/{intent.id}")
    last4 = (intent.pending_card or {}).get("last4PAN", "")
    return _render("setup_challenge.html", 200, intent, last4=last4)


async def answer_challenge(deps: Dependencies, setup_intent_id: str, form: dict[str, str]) -> Response:
    intent = await setup_intents.find_for_shopper(deps, setup_intent_id)
    if intent.status is not SetupIntentStatus.CREATED:
        return _done(intent)
    try:
        passed = schemas.CHALLENGE.read(form).passed
        intent = await setup_intents.complete_challenge(deps, setup_intent_id, passed)
    except ValidationError:
        return _render("setup_challenge.html", 400, intent, message="Choose Authenticate or Fail.")
    except StateConflictError:
        return await show(deps, setup_intent_id, form)
    return _after_attempt(deps, intent)


def _after_attempt(deps: Dependencies, intent: SetupIntent) -> Response:
    if intent.status is not SetupIntentStatus.CREATED:
        return _done(intent)
    if intent.pending_challenge:
        return _see_other(f"/setup/{intent.id}/challenge")
    reason = intent.events[-1].message if intent.events else None
    return _card_form(deps, intent, 200, declined_message(reason))


def _done(intent: SetupIntent) -> Response:
    redirect_url = _config(intent).get("redirectUrl")
    return _see_other(redirect_url or f"/setup/{intent.id}", intent)


def _done_page(intent: SetupIntent) -> Response:
    heading = DONE_HEADINGS.get(intent.status, "Card saved")
    text = f"{intent.document['reference']}: nothing was charged."
    return _render("saved.html", 200, intent, heading=heading, text=text)


def _card_form(
    deps: Dependencies,
    intent: SetupIntent,
    status: int = 200,
    message: str = "",
    errors: list[str] | None = None,
) -> Response:
    cards = offered_cards(deps)
    return _render("save.html", status, intent, message=message, errors=errors or [], cards=cards)


def _render(template: str, status: int, intent: SetupIntent, **context: Any) -> HTMLResponse:
    document = intent.document
    shown = {
        "setup_intent_id": intent.id,
        "merchant": _config(intent).get("title"),
        "reference": document["reference"],
        "terms": document.get("terms"),
        "intended": document.get("intendedAmount"),
    }
    html = templates.get_template(template).render(**shown, **context)
    return HTMLResponse(html, status, headers=_headers(intent))


def _see_other(location: str, intent: SetupIntent | None = None) -> Response:
    return RedirectResponse(location, 303, headers=_headers(intent))


def _headers(intent: SetupIntent | None) -> dict[str, str]:
    """A form answered with a redirect to ``redirectUrl`` needs that origin as a form target."""
    redirect_url = _config(intent).get("redirectUrl") if intent is not None else None
    if not redirect_url:
        return security_headers()
    parts = urlsplit(str(redirect_url))
    return security_headers(f"{parts.scheme}://{parts.netloc}")


def _config(intent: SetupIntent) -> dict[str, Any]:
    return {k: v for k, v in (intent.document.get("config") or {}).items() if v is not None}
