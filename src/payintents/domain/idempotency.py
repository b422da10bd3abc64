"""Idempotency decisions: whether a stored answer is replayed or the reuse is a conflict."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from payintents.domain.errors import IdempotencyConflictError, ValidationError

MAX_KEY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The exact answer given the first time, replayed byte for byte."""

    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    response: StoredResponse | None


def check_key(key: str | None, *, required: bool) -> str | None:
    """Validate an ``idempotencyKey`` header value (≤100 printable ASCII characters).

    Surrounding spaces are dropped, as HTTP servers drop them from header values anyway.
    """
    key = key.strip(" \t") if key is not None else None
    if key is None or key == "":
        if required:
            raise ValidationError({"idempotencyKey": ["The idempotencyKey header is required."]})
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            {"idempotencyKey": [f"The idempotencyKey header must be at most {MAX_KEY_LENGTH} characters."]}
        )
    if not all(" " <= ch <= "~" for ch in key):
        raise ValidationError({"idempotencyKey": ["The idempotencyKey header must be printable ASCII."]})
    return key


def fingerprint(operation: str, canonical_body: Any) -> str:
    """Hash of the operation and its canonical body: equal requests give equal fingerprints.

    An explicit ``null`` means the same as leaving the property out, so both hash alike.
    """
    text = json.dumps([operation, without_nulls(canonical_body)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def without_nulls(value: Any) -> Any:
    """A JSON value with every null object member left out, at any depth: null means "absent"."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def replay(record: IdempotencyRecord, request_fingerprint: str) -> StoredResponse:
    """Return the stored answer for a retried request, or refuse a key reused differently."""
    if record.fingerprint != request_fingerprint or record.response is None:
        raise IdempotencyConflictError(
            "This idempotencyKey was already used for a different request on this payment intent."
        )
    return record.response
