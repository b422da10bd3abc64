"""Sandbox controls: failures a test asks for, and the account's movable clock.

Nothing here applies to production: the service refuses every sandbox control for prod keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from payintents.domain.errors import ValidationError

MAX_DELAY_MS = 30_000
MAX_ADVANCE = timedelta(days=3650)


class FailOperation(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"
    CHARGE = "charge"


class FailOutcome(StrEnum):
    DECLINED = "declined"
    PROCESSOR_ERROR = "processor_error"
    SLOW = "slow"


@dataclass(frozen=True, slots=True)
class InjectedFailure:
    """What the sandbox processor does on the next capture or refund of one intent."""

    operation: FailOperation
    outcome: FailOutcome
    delay_ms: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.delay_ms <= MAX_DELAY_MS:
            raise ValidationError({"delayMs": [f"The delayMs field must be between 0 and {MAX_DELAY_MS}."]})


def advanced_offset(
    offset: timedelta, real_now: datetime, seconds: float | None, to: datetime | None
) -> timedelta:
    """The clock offset after moving the account's clock forward by ``seconds`` or ``to`` a time."""
    if seconds is not None and to is None:
        field, step = "seconds", timedelta(seconds=seconds)
    elif to is not None and seconds is None:
        field, step = "to", to - (real_now + offset)
    else:
        raise ValidationError({"seconds": ["Send exactly one of seconds or to."]})
    if step < timedelta(0):
        raise ValidationError({field: ["The clock only moves forward."]})
    if offset + step > MAX_ADVANCE:
        raise ValidationError({"seconds": ["The clock cannot move more than 10 years ahead."]})
    return offset + step
