"""What payintents' sandbox controls answer (extensions: sandbox keys only), and its test cards.

The models follow ``models``' rules: snake_case wire names, required fields without defaults,
unknown members ignored and the whole answer kept in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from payintents_client._parse import (
    JsonObject,
    ResponseFormatError,
    opt_str,
    req,
    req_datetime,
    req_int,
    req_str,
    str_list,
)
from payintents_client.models import _raw

__all__ = [
    "ClockAdvanced",
    "FailNext",
    "RequestLogEntry",
    "SandboxCard",
    "SandboxClock",
    "SandboxReceipt",
    "SandboxReset",
]


class SandboxCard(StrEnum):
    """The sandbox's test card numbers (docs/sandbox.md); any future expiry and any CVV will do."""

    SUCCESS = "5200000000001005"
    CHALLENGE = "5200000000001096"  # 3-D Secure: complete it with ``sandbox.complete_challenge``
    DECLINED = "4456530000001013"
    INSUFFICIENT_FUNDS = "4111110000000051"
    EXPIRED_CARD = "4111110000000069"
    PROCESSOR_ERROR = "4111110000000119"  # 502, nothing changes
    TIMEOUT = "4111110000000127"  # 504 after PAYINTENTS_SANDBOX_TIMEOUT_S, nothing changes


def _number(data: JsonObject, name: str) -> float:
    value = req(data, name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ResponseFormatError(f"{name!r} is not a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class FailNext:
    """The failure armed for an intent's next capture or refund."""

    payment_intent_id: str
    operation: str
    outcome: str
    delay_ms: int
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> FailNext:
        return cls(
            payment_intent_id=req_str(data, "paymentIntentId"),
            operation=req_str(data, "operation"),
            outcome=req_str(data, "outcome"),
            delay_ms=req_int(data, "delayMs"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class SandboxClock:
    """The account's clock: real time plus ``offset_seconds``, which only ever grows."""

    now: datetime
    offset_seconds: float
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> SandboxClock:
        return cls(req_datetime(data, "now"), _number(data, "offsetSeconds"), raw=data)


@dataclass(frozen=True, slots=True)
class ClockAdvanced:
    """The clock after an advance, and what the advance ran because it became due."""

    now: datetime
    offset_seconds: float
    intents_expired: int
    keys_reaped: int
    webhook_retries_moved: int
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> ClockAdvanced:
        return cls(
            now=req_datetime(data, "now"),
            offset_seconds=_number(data, "offsetSeconds"),
            intents_expired=req_int(data, "intentsExpired"),
            keys_reaped=req_int(data, "keysReaped"),
            webhook_retries_moved=req_int(data, "webhookRetriesMoved"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class SandboxReset:
    """How many rows a reset deleted."""

    deleted: int
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> SandboxReset:
        return cls(req_int(data, "deleted"), raw=data)


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One API request of the account as the server saw it (card numbers masked in the bodies)."""

    trace_id: str
    at: datetime
    method: str
    path: str
    status: int
    duration_ms: int
    idempotency_key: str | None
    replayed: bool
    payment_intent_id: str | None
    request_body: str
    response_body: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> RequestLogEntry:
        return cls(
            trace_id=req_str(data, "traceId"),
            at=req_datetime(data, "at"),
            method=req_str(data, "method"),
            path=req_str(data, "path"),
            status=req_int(data, "status"),
            duration_ms=req_int(data, "durationMs"),
            idempotency_key=opt_str(data, "idempotencyKey"),
            replayed=req(data, "replayed") is True,
            payment_intent_id=opt_str(data, "paymentIntentId"),
            request_body=str(data.get("requestBody") or ""),
            response_body=str(data.get("responseBody") or ""),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class SandboxReceipt:
    """A receipt the sandbox recorded instead of mailing it: to whom, and what they would read."""

    id: str
    payment_intent_id: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    created_at: datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> SandboxReceipt:
        return cls(
            id=req_str(data, "id"),
            payment_intent_id=req_str(data, "paymentIntentId"),
            recipients=str_list(data, "recipients"),
            subject=req_str(data, "subject"),
            text=req_str(data, "text"),
            html=req_str(data, "html"),
            created_at=req_datetime(data, "createdAt"),
            raw=data,
        )
