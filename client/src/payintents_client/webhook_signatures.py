"""Checking that a webhook delivery really came from Dojo (or payintents), in constant time.

* ``verify_dojo_signature``: Dojo's ``dojo-signature`` header, ``sha256=`` + HMAC-SHA256 of the raw
  body keyed with the subscription secret's value, as hex byte pairs joined by ``-``.
  Dojo's scheme has no timestamp: dedupe deliveries on the event ``id``.
* ``verify_standard_webhook``: the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``) payintents also sends, which add replay protection (a timestamp tolerance).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["WebhookVerificationError", "verify_dojo_signature", "verify_standard_webhook"]

_PREFIX = "sha256="


class WebhookVerificationError(ValueError):
    """A Standard Webhooks delivery that does not verify; the message says why."""


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


def verify_dojo_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True if ``header`` (the ``dojo-signature`` value) signs ``body`` (the exact raw bytes) with ``secret``.

    Accepts ``sha256=4B-49-…`` as Dojo sends it, in either letter case, with or without the
    dashes; anything malformed is simply False.
    """
    if not header:
        return False
    text = header.strip()
    if text[: len(_PREFIX)].lower() != _PREFIX:
        return False
    try:
        claimed = bytes.fromhex(text[len(_PREFIX) :].replace("-", ""))
    except ValueError:
        return False
    expected = hmac.new(_secret_bytes(secret), body, hashlib.sha256).digest()
    return hmac.compare_digest(claimed, expected)


def _standard_key(secret: str | bytes) -> bytes:
    """``whsec_<base64>`` is Standard Webhooks' notation; a bare Dojo secret value is used as UTF-8."""
    if isinstance(secret, str) and secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise WebhookVerificationError("the whsec_ secret is not valid base64") from None
    return _secret_bytes(secret)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def verify_standard_webhook(
    secret_value: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless the Standard Webhooks signature holds and the
    timestamp is within ``tolerance_s`` of ``now`` (default: the current time).

    ``secret_value`` is the subscription secret's ``value`` (what payintents keys both schemes
    with) or the same key in ``whsec_…`` form. Any one of several space-separated ``v1,``
    signatures may match (they appear during secret rotation).
    """
    message_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (a replay?)")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = hmac.new(_standard_key(secret_value), signed, hashlib.sha256).digest()
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            claimed = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(claimed, expected):
            return
    raise WebhookVerificationError("no webhook-signature matches")
