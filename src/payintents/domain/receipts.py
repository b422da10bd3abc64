"""Email receipts of a payment (``POST /payment-intents/{id}/receipt``): who may get one, when an
intent has something to show, and the text and HTML the customer would read.

The sandbox never sends mail: it keeps each receipt in its outbox for a test or a developer to
read. A production server sends it through its configured mail server (service/receipts.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from payintents.domain.errors import RuleBrokenError, ValidationError
from payintents.domain.intent import PaymentIntent, Scope, Status
from payintents.domain.money import Money

MAX_RECIPIENTS = 10
MAX_ADDRESS_LENGTH = 254
# One "@", something on each side, a dot in the domain, no spaces or control characters: enough
# to refuse what no mail server accepts, without claiming to validate RFC 5322.
_ADDRESS = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
# A receipt shows a payment: the intent must have been paid at some point.
_PAID = frozenset({Status.AUTHORIZED, Status.CAPTURED, Status.REFUNDED, Status.REVERSED})


@dataclass(frozen=True, slots=True)
class Receipt:
    """One receipt as the customer would get it, addressed to every recipient at once."""

    id: str
    scope: Scope
    payment_intent_id: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    created_at: datetime


def check_recipients(emails: Sequence[str]) -> tuple[str, ...]:
    """The addresses to send to, in order and without repeats; a 400 on ``emails`` otherwise."""
    errors: dict[str, list[str]] = {}
    if not emails:
        errors["emails"] = ["At least one email address is required."]
    elif len(emails) > MAX_RECIPIENTS:
        errors["emails"] = [f"At most {MAX_RECIPIENTS} email addresses are allowed."]
    for index, address in enumerate(emails):
        if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.match(address):
            errors[f"emails[{index}]"] = ["The value is not an email address."]
    if errors:
        raise ValidationError(errors)
    return tuple(dict.fromkeys(emails))


def ensure_receipt_possible(intent: PaymentIntent) -> None:
    if intent.status not in _PAID:
        raise RuleBrokenError(
            f"A receipt needs a payment: this payment intent is {intent.status}, never paid."
        )


def render_receipt(
    receipt_id: str, intent: PaymentIntent, recipients: tuple[str, ...], now: datetime
) -> Receipt:
    """The receipt of ``intent`` as it stands at ``now``: reference, amounts, card and status."""
    rows = _rows(intent)
    subject = f"Your receipt for {intent.reference}"
    text = "\n".join([subject, "", *(f"{label}: {value}" for label, value in rows), ""])
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>" for label, value in rows
    )
    body = f"<html><body><h1>{html.escape(subject)}</h1><table>{cells}</table></body></html>"
    return Receipt(receipt_id, intent.scope, intent.id, recipients, subject, text, body, now)


def _rows(intent: PaymentIntent) -> list[tuple[str, str]]:
    rows = [("Reference", intent.reference)]
    description = intent.document.get("description")
    if description:
        rows.append(("Description", str(description)))
    rows.append(("Total", _amount(intent.total_amount)))
    if intent.refunded_amount:
        rows.append(("Refunded", _amount(Money(intent.refunded_amount, intent.total_amount.currency))))
    card = (intent.payment_details or {}).get("card") or {}
    if card.get("cardNumber"):
        rows.append(("Card", f"{card.get('cardType', 'Card')} {card['cardNumber']}"))
    rows.append(("Status", intent.status.value))
    rows.append(("Payment", intent.id))
    return rows


def _amount(money: Money) -> str:
    whole, minor = divmod(money.value, 100)
    return f"{whole:,}.{minor:02d} {money.currency.value}"
