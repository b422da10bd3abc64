"""The delivery body and its signatures: Dojo's ``dojo-signature`` and Standard Webhooks.

Dojo: ``sha256=`` + HMAC-SHA256(UTF-8 secret value, raw body) as upper-case hex pairs joined by
``-`` (docs/webhooks.md). Standard Webhooks: ``v1,`` + base64 HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the same secret value's UTF-8 bytes; in
Standard Webhooks' own notation that key is ``whsec_`` + base64(secret value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from payintents.domain.events import OutboxEvent


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` and always six fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def delivery_body(event: OutboxEvent) -> bytes:
    """Compact JSON in Dojo's key order: id, event, accountId, createdAt, data (docs/webhooks.md)."""
    payload = {
        "id": event.id,
        "event": event.name.value,
        "accountId": event.scope.account_id,
        "createdAt": iso_timestamp(event.created_at),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def dojo_signature(secret_value: str, body: bytes) -> str:
    digest = hmac.new(secret_value.encode(), body, hashlib.sha256).digest()
    return "sha256=" + "-".join(f"{byte:02X}" for byte in digest)


def dojo_signature_matches(secret_value: str, body: bytes, header: str) -> bool:
    """True if ``header`` (a ``dojo-signature`` value) signs ``body`` with ``secret_value``: Dojo's
    form, in either letter case, with or without the dashes; compared in constant time."""
    text = header.strip()
    if text[:7].lower() != "sha256=":
        return False
    claimed = text[7:].replace("-", "").upper().encode("utf-8", "replace")
    expected = dojo_signature(secret_value, body).removeprefix("sha256=").replace("-", "").encode()
    return hmac.compare_digest(claimed, expected)


def standard_webhooks_secret(secret_value: str) -> str:
    """The same secret in Standard Webhooks' notation, for their verification libraries."""
    return "whsec_" + base64.b64encode(secret_value.encode()).decode()


def standard_webhooks_signature(secret_value: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret_value.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret_value: str, event_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "dojo-signature": dojo_signature(secret_value, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": standard_webhooks_signature(secret_value, event_id, timestamp_s, body),
    }
