"""Sandbox controls: failures a test asks for, the account's movable clock, and masking.

Nothing here applies to production: the service refuses every sandbox control for prod keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from payintents.domain.errors import ValidationError

MAX_DELAY_MS = 30_000
MAX_ADVANCE = timedelta(days=3650)


class FailOperation(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"


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


# 12 to 19 digits, optionally grouped by spaces or dashes, standing alone: anything that could be
# a card number, but not a run of digits inside a longer token such as a hex traceId.
_CARD_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d[ -]?){11,18}\d(?![0-9A-Za-z])")


def mask_card_numbers(text: str) -> str:
    """Keep the first 6 and last 4 digits of anything shaped like a card number."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]

    return _CARD_NUMBER.sub(mask, text)
