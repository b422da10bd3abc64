"""payintents' sandbox operations (extensions, sandbox keys only), as ``Call`` objects like ``_operations``.

Two of them are the shopper's side, not the merchant's: paying an intent on its checkout and
answering the 3-D Secure challenge (``POST /checkout/{id}/pay`` and ``/3ds``, which need no key).
Their answers are the payment page's, so the client reads nothing from them beyond the status:
``Sandbox.pay`` then reads the intent as the key sees it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from payintents_client._operations import Call, parser, path_segment
from payintents_client.models import data_list_of
from payintents_client.request_models import AdvanceClockRequest, FailNextRequest
from payintents_client.sandbox_models import (
    ClockAdvanced,
    FailNext,
    RequestLogEntry,
    SandboxClock,
    SandboxReceipt,
    SandboxReset,
)


def _ignored(_: Any) -> None:
    return None


def checkout_pay(
    payment_intent_id: str, card: str, expiry: str, cvv: str, card_name: str | None = None
) -> Call[None]:
    """Pay on the intent's checkout, as the shopper would. Not replay-safe: no automatic retry
    once the request may have arrived (a second payment attempt is the caller's decision)."""
    body = {"cardNumber": card, "expiryDate": expiry, "cvv": cvv}
    if card_name is not None:
        body["cardName"] = card_name
    return Call("POST", f"/checkout/{path_segment(payment_intent_id)}/pay", _ignored, body=body)


def checkout_challenge(payment_intent_id: str, passed: bool) -> Call[None]:
    """Answer the 3-D Secure challenge of a payment made with the challenge card."""
    return Call(
        "POST",
        f"/checkout/{path_segment(payment_intent_id)}/3ds",
        _ignored,
        body={"outcome": "pass" if passed else "fail"},
    )


def fail_next(
    payment_intent_id: str, operation: str, outcome: str, *, delay_ms: int | None = None
) -> Call[FailNext]:
    """Make the next ``capture`` or ``refund`` of an intent fail: ``declined``, ``processor_error``
    or ``slow`` (the operation succeeds after ``delay_ms``). A second call replaces the first."""
    return Call(
        "POST",
        f"/sandbox/payment-intents/{path_segment(payment_intent_id)}/fail-next",
        parser(FailNext.from_wire, "FailNext"),
        body=FailNextRequest(operation, outcome, delay_ms).to_wire(),
    )


def show_clock() -> Call[SandboxClock]:
    """The account's clock."""
    return Call("GET", "/sandbox/clock", parser(SandboxClock.from_wire, "SandboxClock"))


def advance_clock(
    seconds: int | timedelta | None = None, *, to: datetime | None = None
) -> Call[ClockAdvanced]:
    """Move the account's clock forward by ``seconds`` (or a timedelta), or to the moment ``to``,
    and run what became due (expiry, auto-release, webhook retries, key retention)."""
    if isinstance(seconds, timedelta):
        whole = seconds // timedelta(seconds=1)
        if timedelta(seconds=whole) != seconds:
            raise ValueError("the clock moves in whole seconds")
        seconds = whole
    return Call(
        "POST",
        "/sandbox/clock/advance",
        parser(ClockAdvanced.from_wire, "ClockAdvanced"),
        body=AdvanceClockRequest(seconds, to).to_wire(),
    )


def reset() -> Call[SandboxReset]:
    """Delete every object of the sandbox account (intents, refunds, webhooks, log, clock offset)."""
    return Call("POST", "/sandbox/reset", parser(SandboxReset.from_wire, "Reset"))


def list_requests(
    *,
    path: str | None = None,
    status: int | None = None,
    intent_id: str | None = None,
    limit: int | None = None,
) -> Call[tuple[RequestLogEntry, ...]]:
    """The account's recent API requests, newest first (filters combine)."""
    params = {"path": path, "status": status, "intentId": intent_id, "limit": limit}
    return Call(
        "GET",
        "/sandbox/requests",
        data_list_of(RequestLogEntry.from_wire, "RequestLog"),
        params={name: str(value) for name, value in params.items() if value is not None},
        read_only=True,
    )


def list_receipts(
    *, payment_intent_id: str | None = None, limit: int | None = None
) -> Call[tuple[SandboxReceipt, ...]]:
    """The receipts the sandbox recorded instead of mailing them, newest first."""
    params = {"paymentIntentId": payment_intent_id, "limit": limit}
    return Call(
        "GET",
        "/sandbox/receipts",
        data_list_of(SandboxReceipt.from_wire, "ReceiptList"),
        params={name: str(value) for name, value in params.items() if value is not None},
        read_only=True,
    )
