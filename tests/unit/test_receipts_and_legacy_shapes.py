"""Pure rules of receipts (domain/receipts.py) and of the 2022-04-07 shapes (web/legacy_shapes.py)."""

from __future__ import annotations

import pytest

from payintents.domain.errors import RuleBrokenError, ValidationError
from payintents.domain.intent import Status
from payintents.domain.receipts import check_recipients, ensure_receipt_possible
from payintents.web.legacy_shapes import (
    legacy_item_lines,
    legacy_payment_details,
    moto_document,
    named_item_lines,
)


def test_recipients_are_checked_and_repeats_dropped() -> None:
    assert check_recipients(["a@example.com", "b@example.org", "a@example.com"]) == (
        "a@example.com",
        "b@example.org",
    )
    bad = {
        "empty": ([], "emails"),
        "eleven": ([f"a{i}@example.com" for i in range(11)], "emails"),
        "no at": (["example.com"], "emails[0]"),
        "no dot": (["a@localhost"], "emails[0]"),
        "two ats": (["a@b@example.com"], "emails[0]"),
        "space": (["a b@example.com"], "emails[0]"),
        "crlf": (["a@example.com\r\nBcc: x@example.com"], "emails[0]"),
        "too long": (["a" * 243 + "@example.com"], "emails[0]"),
    }
    for name, (emails, field) in bad.items():
        with pytest.raises(ValidationError) as refused:
            check_recipients(emails)
        assert field in refused.value.errors, name
    assert check_recipients(["a" * 242 + "@example.com"])  # 254 characters: the longest allowed


def test_only_a_paid_intent_has_a_receipt() -> None:
    class Intent:
        status = Status.CREATED

    with pytest.raises(RuleBrokenError, match="never paid"):
        ensure_receipt_possible(Intent())  # type: ignore[arg-type]
    for status in (Status.AUTHORIZED, Status.CAPTURED, Status.REFUNDED, Status.REVERSED):
        Intent.status = status
        ensure_receipt_possible(Intent())  # type: ignore[arg-type]


def test_caption_folds_into_name_and_back() -> None:
    sent = [{"caption": "Tea", "amountTotal": 1}, {"name": "Cake", "caption": "Cake"}, {"name": "Jam"}]
    stored = named_item_lines(sent, "itemLines")
    assert stored == [{"name": "Tea", "amountTotal": 1}, {"name": "Cake"}, {"name": "Jam"}]
    assert legacy_item_lines(stored) == [
        {"caption": "Tea", "amountTotal": 1},
        {"caption": "Cake"},
        {"caption": "Jam"},
    ]
    with pytest.raises(ValidationError) as refused:
        named_item_lines([{"name": "Tea"}, {"name": "Tea", "caption": "Coffee"}], "itemLines")
    assert list(refused.value.errors) == ["itemLines[1].caption"]


def test_moto_is_cardholder_not_present() -> None:
    assert moto_document({"transactionSource": "MOTO"})["cardHolderNotPresent"] is True
    assert moto_document({"reference": "r"}) == {"reference": "r"}
    with pytest.raises(ValidationError):
        moto_document({"transactionSource": "MOTO", "cardHolderNotPresent": False})


def test_legacy_payment_details_are_flat() -> None:
    details = {
        "transactionId": "t",
        "transactionDateTime": "2026-01-02T03:04:05.000000Z",
        "message": "DEPOSITED",
        "card": {
            "cardNumber": "520000******1005",
            "expiryDate": "12/29",
            "cardType": "MASTERCARD",
            "last4PAN": "1005",
        },
    }
    assert legacy_payment_details(details) == {
        "transactionDateTime": "2026-01-02T03:04:05.000000Z",
        "message": "DEPOSITED",
        "cardNumber": "520000******1005",
        "expiryDate": "12/29",
        "cardType": "MASTERCARD",
    }
