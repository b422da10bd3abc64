"""Domain objects rendered as Dojo's JSON, and stored-response rendering."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from payintents.domain.idempotency import StoredResponse, without_nulls
from payintents.domain.intent import PaymentIntent
from payintents.domain.mirror import UPSTREAM_PAYMENT_LINK
from payintents.domain.money import Money
from payintents.domain.refund import Refund, RefundOutcome
from payintents.web.legacy_shapes import is_legacy, legacy_item_lines, legacy_payment_details

# How .NET renders an unset date; Dojo's create examples show it for the client secret expiry.
ZERO_DATE = "0001-01-01T00:00:00Z"
SUPPORTED_CARD_SCHEMES = ["VISA", "MASTERCARD", "MAESTRO", "DISCOVER", "DCI"]
SUPPORTED_WALLETS = ["APPLE_PAY", "GOOGLE_PAY"]

# Request fields echoed back as sent, nulls left out (the server stores them but does not act on them).
_ECHOED = (
    "customer",
    "requestSecurity",
    "billingAddress",
    "shippingDetails",
    "actionLink",
    "metadata",
    "orderDetails",
    "setupIntentId",
)
# Dojo answers a PaymentIntent's customer as its Customer schema: never the secret or saved card.
ECHOED_CUSTOMER_FIELDS = ("id", "emailAddress", "phoneNumber")


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` and always six fraction digits, so every timestamp has one shape."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"value": value.value, "currencyCode": value.currency.value}


def to_json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def stored_json(value: Any, status_code: int = 200) -> StoredResponse:
    return StoredResponse(status_code, to_json_bytes(value))


def present_intent(intent: PaymentIntent, base_url: str, version: date) -> dict[str, Any]:
    """The intent as Dojo answers it to a caller on ``version`` (legacy callers get the legacy
    item line names and the flat ``paymentDetails``, legacy_shapes.py)."""
    body = _present_current(intent, base_url)
    if is_legacy(version):
        body["itemLines"] = legacy_item_lines(body["itemLines"])
        if "paymentDetails" in body:
            body["paymentDetails"] = legacy_payment_details(body["paymentDetails"])
    return body


def _present_current(intent: PaymentIntent, base_url: str) -> dict[str, Any]:
    doc = intent.document
    body: dict[str, Any] = {
        "id": intent.id,
        "captureMode": intent.capture_mode.value,
        "cardHolderNotPresent": bool(doc.get("cardHolderNotPresent", False)),
    }
    if intent.client_session_secret and intent.client_session_secret_expires_at:
        body["clientSessionSecret"] = intent.client_session_secret
        body["clientSessionSecretExpirationDate"] = iso(intent.client_session_secret_expires_at)
    else:
        body["clientSessionSecretExpirationDate"] = ZERO_DATE
    if intent.payment_details:
        body["paymentDetails"] = _payment_details(intent.payment_details)
    body["status"] = intent.status.value
    body["paymentMethods"] = doc.get("paymentMethods") or ["Card"]
    body["amount"] = money(intent.amount)
    for name, value in (
        ("tipsAmount", intent.tips_amount),
        ("requestedAmount", intent.requested_amount),
    ):
        if value is not None:
            body[name] = money(value)
    body["totalAmount"] = money(intent.total_amount)
    for name in ("cashbackAmount", "serviceChargeAmount"):
        if doc.get(name) is not None:
            body[name] = doc[name]
    body["refundedAmount"] = intent.refunded_amount
    body.update(_timestamps_and_texts(intent))
    body.update({name: without_nulls(doc[name]) for name in _ECHOED if doc.get(name) is not None})
    if "customer" in body:
        body["customer"] = {k: v for k, v in body["customer"].items() if k in ECHOED_CUSTOMER_FIELDS}
    body.update(_config_and_expiry(intent))
    body["paymentEvents"] = [_event(e) for e in intent.events]
    # A mirror of an intent at Dojo keeps Dojo's page, where its shopper pays (service/mirror.py).
    body["paymentLink"] = doc.get(UPSTREAM_PAYMENT_LINK) or f"{base_url.rstrip('/')}/checkout/{intent.id}"
    body["terminalSessionHistory"] = []
    body["captures"] = [_capture(c) for c in intent.captures]
    return body


def present_to_payer(intent: PaymentIntent, base_url: str) -> dict[str, Any]:
    """Extension: the key-less checkout's answer, only what a payment page needs. Whoever holds
    the id may pay, so never the client session secret, customer data, addresses or metadata:
    the key holder reads those with GET /payment-intents/{id}."""
    body: dict[str, Any] = {
        "id": intent.id,
        "status": intent.status.value,
        "amount": money(intent.amount),
        "totalAmount": money(intent.total_amount),
        "reference": intent.reference,
    }
    if intent.document.get("description") is not None:
        body["description"] = intent.document["description"]
    if intent.events:
        # The same entry as the intent's last ``paymentEvents`` one (a decline's reason included).
        body["lastPaymentEvent"] = _event(intent.events[-1])
    if intent.pending_challenge:
        # Design "sandbox payment": a challenged payment answers AuthChallenged + a challengeUrl.
        body["challengeUrl"] = f"{base_url.rstrip('/')}/checkout/{intent.id}/3ds"
    return body


def _timestamps_and_texts(intent: PaymentIntent) -> dict[str, Any]:
    doc = intent.document
    texts: dict[str, Any] = {
        "createdAt": iso(intent.created_at),
        "updatedAt": iso(intent.updated_at),
        "reference": intent.reference,
    }
    if doc.get("description") is not None:
        texts["description"] = doc["description"]
    texts["itemLines"] = without_nulls(doc.get("itemLines") or [])
    texts["taxLines"] = without_nulls(doc.get("taxLines") or [])
    return texts


def _config_and_expiry(intent: PaymentIntent) -> dict[str, Any]:
    result: dict[str, Any] = {
        "merchantConfig": {
            "supportedPaymentMethods": {
                "cardSchemes": SUPPORTED_CARD_SCHEMES,
                "wallets": SUPPORTED_WALLETS,
            }
        },
        "config": without_nulls(intent.document.get("config") or {}),
        "paymentSource": "api",
    }
    if intent.auto_expire_action is not None:
        result["autoExpireAction"] = intent.auto_expire_action.value
    result["expireAt"] = iso(intent.expire_at)
    if intent.auto_expire_in is not None:
        result["autoExpireIn"] = intent.auto_expire_in
    return result


def _payment_details(details: dict[str, Any]) -> dict[str, Any]:
    rendered = dict(details)
    moment = rendered.get("transactionDateTime")
    if isinstance(moment, datetime):
        rendered["transactionDateTime"] = iso(moment)
    return rendered


def _event(event: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"eventType": event.event_type, "transactionDateTime": iso(event.at)}
    if event.transaction_id:
        entry["transactionId"] = event.transaction_id
    if event.card:
        entry.update({k: v for k, v in event.card.items() if k in ("cardNumber", "expiryDate", "cardType")})
        if "cardName" in event.card:
            entry["cardholderName"] = event.card["cardName"]
        if "message" in event.card:
            entry["message"] = event.card["message"]  # extension: why a payment was declined
    return entry


def _capture(capture: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": capture.id, "amount": capture.amount}
    if capture.tips_amount is not None:
        entry["tipsAmount"] = capture.tips_amount
    entry.update({"status": capture.status, "createdAt": iso(capture.created_at)})
    return entry


def present_refund(refund: Refund) -> dict[str, Any]:
    return {
        "paymentIntentId": refund.payment_intent_id,
        "refundId": refund.id,
        "refundReason": refund.refund_reason,
        "notes": refund.notes,
    }


def present_refund_created(outcome: RefundOutcome) -> dict[str, Any]:
    return {**present_refund(outcome.refund), "message": f"refund for {outcome.reference}"}


def present_refund_listed(refund: Refund) -> dict[str, Any]:
    """Extension: the list adds what Dojo never exposes, the amount and the time."""
    shown = present_refund(refund)
    del shown["paymentIntentId"]
    return {**shown, "amount": refund.amount, "createdAt": iso(refund.created_at)}
