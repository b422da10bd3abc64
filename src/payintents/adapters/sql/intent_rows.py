"""Mapping between payment-intent rows (with their captures and events) and the domain aggregate."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from payintents.domain.intent import (
    AutoExpireAction,
    Capture,
    CaptureMode,
    Environment,
    PaymentEvent,
    PaymentIntent,
    Scope,
    Status,
)
from payintents.domain.money import Currency, Money


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _money(value: int | None, currency: Currency) -> Money | None:
    return None if value is None else Money(value, currency)


def intent_values(intent: PaymentIntent) -> dict[str, Any]:
    """Column values of the intent row itself (captures and events are separate rows)."""
    return {
        "id": intent.id,
        "account_id": intent.scope.account_id,
        "environment": intent.scope.environment.value,
        "status": intent.status.value,
        "capture_mode": intent.capture_mode.value,
        "currency": intent.currency.value,
        "amount": intent.amount.value,
        "tips_amount": intent.tips_amount.value if intent.tips_amount else None,
        "total_amount": intent.total_amount.value,
        "requested_amount": intent.requested_amount.value if intent.requested_amount else None,
        "refundable_amount": intent.refundable_amount,
        "refunded_amount": intent.refunded_amount,
        "reference": intent.reference,
        "created_at": intent.created_at,
        "updated_at": intent.updated_at,
        "expire_at": intent.expire_at,
        "auto_expire_in": intent.auto_expire_in,
        "auto_expire_action": intent.auto_expire_action.value if intent.auto_expire_action else None,
        "auto_expire_at": intent.auto_expire_at,
        "authorized_at": intent.authorized_at,
        "captured_at": intent.captured_at,
        "client_session_secret": intent.client_session_secret,
        "client_session_secret_expires_at": intent.client_session_secret_expires_at,
        "pending_challenge": intent.pending_challenge,
        "reversal_id": intent.reversal_id,
        "payment_details": _dump(intent.payment_details),
        "document": _dump(intent.document),
        "version": intent.version,
    }


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def capture_values(intent_id: str, position: int, capture: Capture) -> dict[str, Any]:
    return {
        "id": capture.id,
        "payment_intent_id": intent_id,
        "position": position,
        "amount": capture.amount,
        "tips_amount": capture.tips_amount,
        "status": capture.status,
        "created_at": capture.created_at,
    }


def event_values(intent_id: str, position: int, event: PaymentEvent) -> dict[str, Any]:
    return {
        "payment_intent_id": intent_id,
        "position": position,
        "event_type": event.event_type,
        "at": event.at,
        "transaction_id": event.transaction_id,
        "card": _dump(event.card),
    }


def intent_from_rows(
    row: Mapping[Any, Any],
    capture_rows: Sequence[Mapping[Any, Any]],
    event_rows: Sequence[Mapping[Any, Any]],
) -> PaymentIntent:
    currency = Currency(row["currency"])
    details = json.loads(row["payment_details"]) if row["payment_details"] else None
    if details and details.get("transactionDateTime"):
        details["transactionDateTime"] = datetime.fromisoformat(details["transactionDateTime"])
    action = row["auto_expire_action"]
    return PaymentIntent(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        status=Status(row["status"]),
        capture_mode=CaptureMode(row["capture_mode"]),
        amount=Money(row["amount"], currency),
        tips_amount=_money(row["tips_amount"], currency),
        total_amount=Money(row["total_amount"], currency),
        requested_amount=_money(row["requested_amount"], currency),
        reference=row["reference"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expire_at=row["expire_at"],
        document=json.loads(row["document"]),
        auto_expire_in=row["auto_expire_in"],
        auto_expire_action=AutoExpireAction(action) if action else None,
        refundable_amount=row["refundable_amount"],
        refunded_amount=row["refunded_amount"],
        authorized_at=row["authorized_at"],
        captured_at=row["captured_at"],
        auto_expire_at=row["auto_expire_at"],
        client_session_secret=row["client_session_secret"],
        client_session_secret_expires_at=row["client_session_secret_expires_at"],
        payment_details=details,
        pending_challenge=bool(row["pending_challenge"]),
        reversal_id=row["reversal_id"],
        captures=[
            Capture(c["id"], c["amount"], c["tips_amount"], c["created_at"], c["status"])
            for c in capture_rows
        ],
        events=[
            PaymentEvent(
                e["event_type"],
                e["at"],
                e["transaction_id"],
                json.loads(e["card"]) if e["card"] else None,
            )
            for e in event_rows
        ],
        version=row["version"],
    )
