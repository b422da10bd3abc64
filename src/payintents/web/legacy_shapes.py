"""Where Dojo's legacy API version 2022-04-07 names or shapes things differently (ADR 0007).

Requests: an item line's ``caption`` is the older name of ``name`` and is accepted on every
version (Dojo's PHP SDK has no other way to name a line); ``transactionSource: MOTO`` (2022-04-07
only) records the intent as cardholder not present. Answers: a 2022-04-07 caller gets its own
names back, ``caption`` on item lines and the flat ``paymentDetails`` of that version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from payintents.domain.errors import ValidationError

# The first version with the shapes this server answers by default; before it, the legacy ones.
FIRST_CURRENT_VERSION = date(2024, 2, 5)
# The 2022-04-07 PaymentDetails: the card's fields beside the payment's, in one flat object.
_LEGACY_DETAILS = ("transactionDateTime", "message", "authCode")
_LEGACY_CARD = ("cardNumber", "cardName", "expiryDate", "cardType")


def is_legacy(version: date) -> bool:
    return version < FIRST_CURRENT_VERSION


def named_item_lines(lines: Iterable[Mapping[str, Any]], field: str) -> list[dict[str, Any]]:
    """Item lines with ``caption`` folded into ``name``; both given and different is a 400
    on ``<field>[i].caption``, as the caller would not know which one is kept."""
    named: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        entry = dict(line)
        caption = entry.pop("caption", None)
        if caption is not None and entry.get("name") not in (None, caption):
            errors[f"{field}[{index}].caption"] = [
                "caption is the older name of name: send one of them, or the same text in both."
            ]
        elif caption is not None:
            entry["name"] = caption
        named.append(entry)
    if errors:
        raise ValidationError(errors)
    return named


def moto_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The create body with ``transactionSource: MOTO`` recorded as ``cardHolderNotPresent``;
    a body that also says the cardholder is present contradicts itself (400)."""
    if document.get("transactionSource") != "MOTO":
        return dict(document)
    if document.get("cardHolderNotPresent") is False:
        raise ValidationError(
            {"cardHolderNotPresent": ["A MOTO transactionSource means the cardholder is not present."]}
        )
    return {**document, "cardHolderNotPresent": True}


def legacy_item_lines(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Item lines as 2022-04-07 names them: ``caption`` instead of ``name``."""
    shown: list[dict[str, Any]] = []
    for line in lines:
        entry = {key: value for key, value in line.items() if key != "name"}
        if line.get("name") is not None:
            entry["caption"] = line["name"]
        shown.append(entry)
    return shown


def legacy_payment_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The 2022-04-07 flat ``paymentDetails``: the card's number, name, expiry and scheme beside
    the payment's time, message and authorisation code (the PHP SDK reads exactly these)."""
    card = details.get("card") or {}
    flat = {name: details[name] for name in _LEGACY_DETAILS if details.get(name) is not None}
    flat.update({name: card[name] for name in _LEGACY_CARD if card.get(name) is not None})
    return flat
