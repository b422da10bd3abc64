"""The payment-intent aggregate and its state machine, up to and including refunds.

Every transition takes the current time as an argument; the aggregate never reads a clock.
Invariants are named in ``check_invariants`` and checked by the store on every write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payintents.domain.errors import ValidationError
from payintents.domain.money import Currency, Money


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "prod"


class Status(StrEnum):
    CREATED = "Created"
    AUTHORIZED = "Authorized"
    CAPTURED = "Captured"
    REVERSED = "Reversed"
    REFUNDED = "Refunded"
    CANCELED = "Canceled"


class CaptureMode(StrEnum):
    AUTO = "Auto"
    MANUAL = "Manual"


class AutoExpireAction(StrEnum):
    RELEASE = "Release"
    CAPTURE = "Capture"


DEFAULT_EXPIRE_AFTER = timedelta(days=30)
MANUAL_AUTHORIZATION_LIFETIME = timedelta(days=7)
MIN_AUTO_EXPIRE_IN = timedelta(seconds=30)
CLIENT_SECRET_LIFETIME = timedelta(minutes=30)

# At most 8 digits of days (.NET allows 10675199): more would overflow timedelta.
_TIMESPAN = re.compile(r"^(?:(\d{1,8})\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$", re.ASCII)


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan ``[d.]hh:mm:ss[.fffffff]`` as Dojo's ``autoExpireIn`` uses it."""
    match = _TIMESPAN.fullmatch(text)
    if not match:
        raise ValidationError({"autoExpireIn": ["The autoExpireIn field must look like [d.]hh:mm:ss."]})
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds) > 59:
        raise ValidationError({"autoExpireIn": ["The autoExpireIn field is out of range."]})
    micro = int((fraction or "0").ljust(7, "0")[:6])
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=micro,
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """Who owns an object: every read and write is confined to one (account, environment)."""

    account_id: str
    environment: Environment


@dataclass(frozen=True, slots=True)
class Capture:
    id: str
    amount: int
    tips_amount: int | None
    created_at: datetime
    status: str = "Successful"


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    event_type: str
    at: datetime
    transaction_id: str | None = None
    card: dict[str, str] | None = None


@dataclass(slots=True)
class PaymentIntent:
    """One payment. ``document`` holds the echoed request fields this server does not act on."""

    id: str
    scope: Scope
    status: Status
    capture_mode: CaptureMode
    amount: Money
    tips_amount: Money | None
    total_amount: Money
    reference: str
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    document: dict[str, Any]
    requested_amount: Money | None = None
    auto_expire_in: str | None = None
    auto_expire_action: AutoExpireAction | None = None
    refundable_amount: int = 0
    refunded_amount: int = 0
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    auto_expire_at: datetime | None = None
    client_session_secret: str | None = None
    client_session_secret_expires_at: datetime | None = None
    payment_details: dict[str, Any] | None = None
    pending_challenge: bool = False
    reversal_id: str | None = None
    captures: list[Capture] = field(default_factory=list)
    events: list[PaymentEvent] = field(default_factory=list)
    version: int = 0

    @property
    def currency(self) -> Currency:
        return self.amount.currency

    @property
    def captured_amount(self) -> int:
        return sum(c.amount + (c.tips_amount or 0) for c in self.captures)

    @property
    def remaining_refundable(self) -> int:
        return self.refundable_amount - self.refunded_amount

    def touch(self, now: datetime) -> None:
        self.updated_at = now
