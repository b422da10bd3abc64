"""Customers, customer secrets, saved cards, setup intents and charges rendered as Dojo's JSON
(``CustomerFull``, ``CustomerSecret``, ``CustomerPaymentMethods``, ``SetupIntentResponse``,
``SetupIntentPublicResponse``, ``ChargeResponse``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payintents.domain.customer import Customer, CustomerSecret, PaymentMethod
from payintents.domain.idempotency import without_nulls
from payintents.domain.intent import PaymentIntent, Status
from payintents.domain.setup_intent import SetupEvent, SetupIntent
from payintents.web.presenters import SUPPORTED_CARD_SCHEMES, SUPPORTED_WALLETS, ZERO_DATE, iso

_CUSTOMER_ORDER = ("name", "shippingAddress", "billingAddress", "emailAddress", "phoneNumber", "vatNumber")
# The request properties a setup intent answers back as sent (nulls left out).
_SETUP_ECHOED = ("reference", "description", "billingAddress", "shippingDetails", "metadata", "terms")
MERCHANT_CONFIG = {
    "supportedPaymentMethods": {"cardSchemes": SUPPORTED_CARD_SCHEMES, "wallets": SUPPORTED_WALLETS}
}


def present_customer(customer: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {"id": customer.id}
    details = without_nulls(customer.details)
    body.update({name: details[name] for name in _CUSTOMER_ORDER if name in details})
    body["createdAt"] = iso(customer.created_at)
    body["updatedAt"] = iso(customer.updated_at)
    body["documentVersion"] = customer.document_version
    return body


def present_secret(secret: CustomerSecret) -> dict[str, Any]:
    return {"secret": secret.secret, "createdAt": iso(secret.created_at), "expireAt": iso(secret.expire_at)}


def present_payment_method(method: PaymentMethod) -> dict[str, Any]:
    card = method.card
    return {
        "id": method.id,
        "cardDetails": {"pan": card.pan, "expiryDate": card.expiry_date, "scheme": card.scheme},
    }


def present_payment_methods(
    customer_id: str, account_id: str, methods: list[PaymentMethod]
) -> dict[str, Any]:
    return {
        "customerId": customer_id,
        # Dojo names the merchant here; ours is the account.
        "merchantId": account_id,
        "savedPaymentMethods": [present_payment_method(method) for method in methods],
        "supportedPaymentMethods": MERCHANT_CONFIG["supportedPaymentMethods"],
    }


def present_setup_intent_public(intent: SetupIntent, *, with_secret: bool) -> dict[str, Any]:
    doc = intent.document
    body: dict[str, Any] = {"id": intent.id}
    if with_secret and intent.client_session_secret and intent.client_session_secret_expires_at:
        body["clientSessionSecret"] = intent.client_session_secret
        body["clientSessionSecretExpirationDate"] = iso(intent.client_session_secret_expires_at)
    else:
        body["clientSessionSecretExpirationDate"] = ZERO_DATE
    body["status"] = intent.status.value
    body["paymentMethods"] = doc.get("paymentMethods") or ["Card"]
    if doc.get("customer"):
        customer = without_nulls(doc["customer"])
        body["customer"] = {k: v for k, v in customer.items() if k in ("id", "emailAddress", "phoneNumber")}
    body["createdAt"] = iso(intent.created_at)
    body["updatedAt"] = iso(intent.updated_at)
    body["expireAt"] = iso(intent.expire_at)
    body.update({name: without_nulls(doc[name]) for name in _SETUP_ECHOED if doc.get(name) is not None})
    body["merchantConfig"] = MERCHANT_CONFIG
    body["config"] = without_nulls(doc.get("config") or {})
    if intent.payment_details:
        body["paymentDetails"] = _details(intent.payment_details)
    if doc.get("intendedAmount") is not None:
        body["intendedAmount"] = doc["intendedAmount"]
    body["merchantInitiatedTransactionType"] = doc["merchantInitiatedTransactionType"]
    body["paymentSource"] = "api"
    return body


def present_setup_intent(intent: SetupIntent) -> dict[str, Any]:
    events = [_event(event) for event in intent.events]
    return {"setupEvents": events, **present_setup_intent_public(intent, with_secret=True)}


def present_charge(intent: PaymentIntent) -> dict[str, Any]:
    message = "AUTHORISED" if intent.status is Status.AUTHORIZED else "DEPOSITED"
    return {"paymentIntentId": intent.id, "status": "Successful", "message": message}


def _event(event: SetupEvent) -> dict[str, Any]:
    """One ``setupEvents`` entry, as Dojo's PaymentStatusResponse (``message``: ours, why a card
    was declined)."""
    entry: dict[str, Any] = {"eventType": event.event_type, "transactionDateTime": iso(event.at)}
    if event.transaction_id:
        entry["transactionId"] = event.transaction_id
    card = event.card or {}
    entry.update({name: card[name] for name in ("cardNumber", "expiryDate", "cardType") if name in card})
    if "cardName" in card:
        entry["cardholderName"] = card["cardName"]
    if event.payment_method_id:
        entry["paymentMethodId"] = event.payment_method_id
    if event.message:
        entry["message"] = event.message
    return entry


def _details(details: dict[str, Any]) -> dict[str, Any]:
    rendered = dict(details)
    moment = rendered.get("transactionDateTime")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        rendered["transactionDateTime"] = iso(moment)
    return rendered


def present_setup_to_shopper(intent: SetupIntent, base_url: str) -> dict[str, Any]:
    """Extension: the key-less card form's answer, only what the form needs (as for payments)."""
    body: dict[str, Any] = {
        "id": intent.id,
        "status": intent.status.value,
        "reference": intent.document["reference"],
    }
    if intent.events:
        body["lastSetupEvent"] = _event(intent.events[-1])
    if intent.pending_challenge:
        body["challengeUrl"] = f"{base_url.rstrip('/')}/setup/{intent.id}/3ds"
    return body
