"""Card numbers seen by people: how much of one may be shown, and finding them in free text.

One rule everywhere a card number is stored or shown (``paymentDetails.card``, payment events, the
dashboard, the sandbox request log, log lines): at most the first 6 and the last 4 digits, and at
least 6 digits always hidden, so a short number shows less (a 12-digit number keeps 2 + 4). Each
hidden digit is one ``*``, as in Dojo's ``44565300****1096``.
"""

from __future__ import annotations

import re

MAX_SHOWN_FIRST = 6
MAX_SHOWN_LAST = 4
MIN_HIDDEN = 6
MAX_CARD_DIGITS = 19

# 12 to 19 digits, optionally grouped by single spaces or dashes, standing alone: anything that
# could be a card number, but not a run of digits inside a longer token such as a hex traceId.
# A UUID (a transactionId) is matched first and kept: its middle groups can be twelve digits
# joined by dashes ("a4ef0742-4563-4643-8763-7e380882b351"), and no card is written 8-4-4-4-12.
_UUID = r"(?P<uuid>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z]))"
_CARD_NUMBER = re.compile(rf"(?<![0-9A-Za-z])(?:{_UUID}|(\d[ -]?){{11,18}}\d(?![0-9A-Za-z]))")
_NOT_DIGIT = re.compile(r"\D")


def shown_digits(length: int) -> tuple[int, int]:
    """How many leading and trailing digits of a number with ``length`` digits may be shown.

    The last digits go first (they are what a cardholder recognises, and ``last4PAN``), the
    leading ones (the issuer) get what is left.
    """
    visible = max(0, length - MIN_HIDDEN)
    last = min(MAX_SHOWN_LAST, visible)
    return min(MAX_SHOWN_FIRST, visible - last), last


def mask_card_number(number: str) -> str:
    """The digits of ``number`` with all but the shown ones replaced by ``*``; anything else dropped."""
    digits = _NOT_DIGIT.sub("", number)
    first, last = shown_digits(len(digits))
    hidden = len(digits) - first - last
    return digits[:first] + "*" * hidden + digits[first + hidden :]


def shown_last_digits(number: str) -> str:
    """The trailing digits of ``number`` that its mask shows (Dojo's ``last4PAN``)."""
    digits = _NOT_DIGIT.sub("", number)
    last = shown_digits(len(digits))[1]
    return digits[len(digits) - last :]


def mask_card_numbers(text: str) -> str:
    """``text`` with everything shaped like a card number masked by ``mask_card_number``."""
    return _CARD_NUMBER.sub(_masked_match, text)


def _masked_match(match: re.Match[str]) -> str:
    return match.group(0) if match.group("uuid") else mask_card_number(match.group(0))
