"""The sandbox's hosted checkout as a shopper's browser sees it: server-rendered pages whose forms
post to the server, which answers with the next page or a 303 redirect. Script only fills in a
test card when one is clicked; every page works without it.

- ``GET /checkout/{id}``: the card form, or the "paid" page once the intent is paid.
- ``POST /checkout/{id}`` (form ``cardNumber``, ``expiryDate``, ``cvv``, ``cardName``; or
  ``paymentMethodId``, one of the saved cards listed above the card form when the intent names
  its ``customer.id``): one card attempt. Approved → 303 to ``config.redirectUrl``, else to the
  "paid" page; 3-D Secure → 303 to the challenge page; declined → the form again with the
  reason; processor error or timeout → the form again with "try again".
- ``GET /checkout/{id}/challenge``: the 3-D Secure page; ``POST`` (form ``outcome``) answers it.

These paths take HTML forms only (``application/x-www-form-urlencoded``, else 415); the JSON twin
lives on ``/pay`` and ``/3ds`` (checkout_routes.py). No CSRF token: the pages set and read no
cookie, and the intent id in the path is the whole capability, so a form posted from another site
can do nothing its author could not do by posting directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from payintents.domain.customer import PaymentMethod, expiry_as_month
from payintents.domain.errors import (
    AttemptsExhaustedError,
    NotFoundError,
    StateConflictError,
    ValidationError,
)
from payintents.domain.intent import PaymentIntent, Status
from payintents.service import checkout
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ProcessorTimeoutError, ProcessorUnavailableError, SandboxCard
from payintents.web import request_schemas as schemas
from payintents.web.http_input import parse_form, read_body, refuse_impossible_input
from payintents.web.problems import RequestRefusedError, expected_status
from payintents.web.templating import environment, security_headers

log = logging.getLogger("payintents.checkout")
templates = environment("checkout")

TRY_AGAIN = {
    ProcessorUnavailableError: "The card processor had a problem; nothing was charged. Try again.",
    ProcessorTimeoutError: "The card processor did not answer in time; nothing was charged. Try again.",
}
PAID_HEADINGS = {
    Status.AUTHORIZED: "Payment authorised",
    Status.CAPTURED: "Payment received",
    Status.REFUNDED: "Payment received",
    Status.REVERSED: "Payment reversed",
}
MESSAGE_TITLES = {
    400: "The form could not be read",
    404: "Payment not found",
    409: "This payment cannot be made",
    413: "The form is too large",
    415: "The form could not be read",
    503: "Busy",
}
NOT_FOUND = "There is no payment to make here: the link is wrong, or the payment was canceled or has expired."

# Handlers run on the event loop (the processor may pause: the timeout card, holding no thread);
# they read the store on a worker thread.
Handler = Callable[[Dependencies, str, dict[str, str]], Awaitable[Response]]


def page_route(path: str, id_name: str = "paymentIntentId", **handlers: Handler) -> Route:
    """One route per path (a wrong method answers 405 naming every allowed one) running the
    method's handler: the form read (POST), the handler, and every failure shown as an HTML page.
    ``id_name``: the path parameter naming the intent (a payment or a setup intent)."""

    async def endpoint(request: Request) -> Response:
        deps: Dependencies = request.app.state.deps
        handler = handlers["GET" if request.method == "HEAD" else request.method]
        try:
            refuse_impossible_input(request)
            form = parse_form(request, await read_body(request)) if request.method == "POST" else {}
            intent_id = str(request.path_params[id_name])
            return await handler(deps, intent_id, form)
        except RequestRefusedError as refused:
            return _message(refused.status, NOT_FOUND if refused.status == 404 else refused.detail or "")
        except Exception as exc:
            return _failure_page(exc)

    return Route(path, endpoint, methods=list(handlers))


def _failure_page(exc: Exception) -> Response:
    if isinstance(exc, NotFoundError):
        return _message(404, NOT_FOUND)
    status = expected_status(exc)
    if status is None:
        log.exception("checkout page failed", exc_info=exc)
        return _message(500, "Something went wrong on our side; nothing was charged.")
    # A domain error's detail is written for the caller; the others (busy, a concurrent change) are not.
    detail = getattr(exc, "detail", None) or "Nothing was charged. Reload the page and try again in a moment."
    return _message(status, detail)


async def show(deps: Dependencies, intent_id: str, _form: dict[str, str]) -> Response:
    intent = await run_in_threadpool(checkout.find_for_shopper, deps, intent_id)
    if intent.status is not Status.CREATED:
        return _paid_page(intent)
    return await _card_form(deps, intent)


async def pay(deps: Dependencies, intent_id: str, form: dict[str, str]) -> Response:
    intent = await run_in_threadpool(checkout.find_for_shopper, deps, intent_id)
    if intent.status is not Status.CREATED:
        return _paid(intent)  # a second press of Pay, or a resent form
    try:
        intent = await _attempt(deps, intent_id, form)
    except ValidationError as invalid:
        return await _card_form(deps, intent, 400, "Check the card details.", field_errors(invalid))
    except (ProcessorUnavailableError, ProcessorTimeoutError) as failed:
        return await _card_form(deps, intent, expected_status(failed) or 502, TRY_AGAIN[type(failed)])
    except AttemptsExhaustedError as exhausted:
        return _message(409, exhausted.detail, intent)
    except StateConflictError:
        # Paid or expired meanwhile: show what it is now.
        return await show(deps, intent_id, form)
    return await _after_attempt(deps, intent)


async def _attempt(deps: Dependencies, intent_id: str, form: dict[str, str]) -> PaymentIntent:
    """The card form's attempt, or the saved-card form's (its ``paymentMethodId`` radio button)."""
    if "paymentMethodId" in form:
        chosen = schemas.PAY_WITH_SAVED_CARD.read(form)
        return await checkout.pay_with_saved_card(deps, intent_id, chosen.payment_method_id)
    return await checkout.pay(deps, intent_id, card_from(form))


async def show_challenge(deps: Dependencies, intent_id: str, _form: dict[str, str]) -> Response:
    intent = await run_in_threadpool(checkout.find_for_shopper, deps, intent_id)
    if not intent.pending_challenge:
        return _see_other(f"/checkout/{intent.id}")
    challenged = [e.card for e in intent.events if e.event_type == "AuthChallenged" and e.card]
    last4 = challenged[-1].get("last4PAN", "") if challenged else ""
    return _render("challenge.html", 200, intent, last4=last4)


async def answer_challenge(deps: Dependencies, intent_id: str, form: dict[str, str]) -> Response:
    intent = await run_in_threadpool(checkout.find_for_shopper, deps, intent_id)
    if intent.status is not Status.CREATED:
        return _paid(intent)
    try:
        passed = schemas.CHALLENGE.read(form).passed
        intent = await checkout.complete_challenge(deps, intent_id, passed)
    except ValidationError:
        return _render("challenge.html", 400, intent, message="Choose Authenticate or Fail.")
    except StateConflictError:
        # No challenge waits any more: the page as it is now.
        return await show(deps, intent_id, form)
    return await _after_attempt(deps, intent)


async def _after_attempt(deps: Dependencies, intent: PaymentIntent) -> Response:
    if intent.status is not Status.CREATED:
        return _paid(intent)
    if intent.pending_challenge:
        return _see_other(f"/checkout/{intent.id}/challenge")
    reason = (intent.events[-1].card or {}).get("message") if intent.events else None
    return await _card_form(deps, intent, 200, declined_message(reason))


def declined_message(reason: str | None) -> str:
    """What the card form says after a decline: the processor's reason when it gave one."""
    why = "" if reason in (None, "DECLINED") else f": {str(reason).capitalize()}"
    return f"Your card was declined{why}. Try another card."


def _paid(intent: PaymentIntent) -> Response:
    """After a successful payment: to the merchant's ``redirectUrl`` (as Dojo does), else the
    "paid" page, both as a 303 so that reloading never sends the form again."""
    redirect_url = _config(intent).get("redirectUrl")
    return _see_other(redirect_url or f"/checkout/{intent.id}", intent)


def card_from(form: dict[str, str]) -> checkout.CardDetails:
    """The card a form sent; its "Save this card" checkbox sends ``saveCard=true`` when ticked."""
    fields = {name: value for name, value in form.items() if not (name == "cardName" and not value.strip())}
    save = fields.pop("saveCard", "") == "true"
    body = schemas.PAY.read(fields)
    return checkout.CardDetails(
        number="".join(body.card_number.split()),
        expiry=body.expiry_date.strip(),
        cvv=body.cvv.strip(),
        name=body.card_name,
        save=save,
    )


def field_errors(invalid: ValidationError) -> list[str]:
    return [message for messages in invalid.errors.values() for message in messages]


async def _card_form(
    deps: Dependencies,
    intent: PaymentIntent,
    status: int = 200,
    message: str = "",
    errors: list[str] | None = None,
) -> Response:
    saved = [_saved_choice(method) for method in await checkout.saved_cards_for_shopper(deps, intent)]
    # Offered where the card can be kept: the intent names its customer (ADR 0028).
    offer_save = bool((intent.document.get("customer") or {}).get("id"))
    shown = {"cards": offered_cards(deps), "saved_cards": saved, "offer_save": offer_save}
    return _render("pay.html", status, intent, message=message, errors=errors or [], **shown)


def _saved_choice(method: PaymentMethod) -> dict[str, str]:
    """A saved card as the form offers it: masked as everywhere, its scheme and ``MM/YY`` expiry."""
    card = method.card
    return {
        "id": method.id,
        "pan": card.pan,
        "scheme": card.scheme,
        "expiry": expiry_as_month(card.expiry_date),
    }


def _paid_page(intent: PaymentIntent) -> Response:
    heading = PAID_HEADINGS.get(intent.status, "Payment received")
    return _render("paid.html", 200, intent, heading=heading, return_url=_config(intent).get("redirectUrl"))


def _message(status: int, text: str, intent: PaymentIntent | None = None) -> Response:
    title = MESSAGE_TITLES.get(status, "Please try again" if status >= 500 else "Not possible")
    return _render("message.html", status, intent, title=title, text=text)


def _render(template: str, status: int, intent: PaymentIntent | None, **context: Any) -> HTMLResponse:
    shown = _summary(intent) if intent is not None else {}
    html = templates.get_template(template).render(**shown, **context)
    return HTMLResponse(html, status, headers=_headers(intent))


def _see_other(location: str, intent: PaymentIntent | None = None) -> Response:
    return RedirectResponse(location, 303, headers=_headers(intent))


def _headers(intent: PaymentIntent | None) -> dict[str, str]:
    """A form on these pages may be answered with a redirect to ``redirectUrl``: its origin must be
    a form target too, or the browser stops there."""
    redirect_url = _config(intent).get("redirectUrl") if intent is not None else None
    if not redirect_url:
        return security_headers()
    parts = urlsplit(redirect_url)
    return security_headers(f"{parts.scheme}://{parts.netloc}")


def _config(intent: PaymentIntent) -> dict[str, Any]:
    return {k: v for k, v in (intent.document.get("config") or {}).items() if v is not None}


def _summary(intent: PaymentIntent) -> dict[str, Any]:
    """What every page shows of the payment: who, what for, how much."""
    document = intent.document
    return {
        "intent_id": intent.id,
        "merchant": _config(intent).get("title"),
        "reference": intent.reference,
        "description": document.get("description"),
        "total": intent.total_amount.value,
        "currency": intent.total_amount.currency.value,
        "item_lines": [_item_line(line) for line in document.get("itemLines") or []],
        "cancel_url": _config(intent).get("cancelUrl") if intent.status is Status.CREATED else None,
    }


def _item_line(line: dict[str, Any]) -> dict[str, Any]:
    amount = line.get("amountTotal") or {}
    return {
        "name": line.get("name") or line.get("id") or "Item",
        "quantity": line.get("quantity"),
        "value": amount.get("value", 0),
        "currency": amount.get("currencyCode", ""),
    }


def offered_cards(deps: Dependencies) -> list[dict[str, str]]:
    """The sandbox's test cards as the card forms list them."""
    return [_offered(card) for card in deps.processor.sandbox_cards]


def _offered(card: SandboxCard) -> dict[str, str]:
    spaced = " ".join(card.number[i : i + 4] for i in range(0, len(card.number), 4))
    return {"spaced": spaced, "expiry": card.expiry, "cvv": card.cvv, "result": card.result}
