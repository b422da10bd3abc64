"""Card data kept out of what the server records: request and response bodies, paths, query strings.

Masking works on decoded values, never only on the raw text, since an escape hides a number from a
pattern: ``"\\u0034111111111111111"`` in JSON or ``%34111111111111111`` in a form is the card
4111111111111111. In a JSON body every key, string and number is decoded and masked, and a token
that masking changed is written again (so the rest of the body stays as sent); a form body
(``application/x-www-form-urlencoded``) and a query string are decoded, masked and encoded again
when they held card data. A body that is neither is masked as text, escapes decoded first where
that reveals a number.

Values of a card-number field are masked whole, whatever their shape; a CVV is never kept. Other
text is masked wherever it holds a card-number-like digit run (``domain.card``).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import parse_qsl, unquote_plus, urlencode

from payintents.domain.card import MAX_CARD_DIGITS, mask_card_number, mask_card_numbers

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Field names compared without case, as the API binds them (ADR 0002).
_CARD_NUMBER_FIELDS = frozenset({"cardnumber"})
_CVV_FIELDS = frozenset({"cvv", "cvc", "cv2", "securitycode"})
_HIDDEN_CVV = "***"
# In a valid JSON text, outside strings only numbers hold digits; a string followed by ":" is a key.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
# Digits become "0", "E" becomes "e" and separators vanish, so that a possible card number shows
# as twelve "0" in a row and a number with an exponent as "0e" (see _may_hold_card_data).
_SQUEEZE = str.maketrans({**dict.fromkeys("0123456789", "0"), "E": "e", " ": None, "-": None})
_CARD_NUMBER_KEY = re.compile(r'"cardnumber"\s*:\s*')
# What mask_card_number answers: a card-number field that already looks like this is kept.
_ALREADY_MASKED = re.compile(r"\d{0,6}\*{6,}\d{0,4}")
_MASKED_OR_NULL = re.compile(r'"\d{0,6}\*{6,}\d{0,4}"|null\b')
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_ANY_DIGIT = re.compile(r"\d")


def mask_body(text: str, content_type: str = "") -> str:
    """``text`` (a decoded request or response body) with its card data masked."""
    try:
        json.loads(text)  # whatever the content type says: JSON sent as a form is still JSON
    except (ValueError, RecursionError):
        if content_type.split(";", maxsplit=1)[0].strip().lower() == FORM_CONTENT_TYPE:
            return mask_query(text)
        # Neither: the text itself, with its escapes decoded where that reveals a number.
        return _mask_text(text)
    if not _may_hold_card_data(text):
        return text  # the common case, found by a few scans instead of a callback per token
    return _JSON_TOKEN.sub(_JsonMasker().token, text)


def _may_hold_card_data(json_text: str) -> bool:
    """False only if no token of this valid JSON text can need masking; true may be wrong.

    Without escapes a decoded token is what the text shows, so card data needs twelve digits in a
    row (separators aside), a number with an exponent, a CVV field, or a card-number field whose
    value is not already a mask.
    """
    if "\\" in json_text:
        return True
    if not json_text.isascii() and any(c.isdigit() for c in set(json_text) if not c.isascii()):
        return True  # digits of other scripts: the careful pass decides
    squeezed = json_text.translate(_SQUEEZE)
    if "0" * 12 in squeezed or "0e" in squeezed:
        return True
    lowered = json_text.lower()
    if any(f'"{name}"' in lowered for name in _CVV_FIELDS):
        return True
    return any(not _MASKED_OR_NULL.match(lowered, key.end()) for key in _CARD_NUMBER_KEY.finditer(lowered))


def mask_query(text: str) -> str:
    """A query string or form body with card data masked in its decoded names and values."""
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(mask_card_numbers(name), _masked_field(name, value)) for name, value in pairs]
    encoded = text if masked == pairs else urlencode(masked, safe="*")
    # A "\u0034" means nothing to a form, but it must not show a number to a reader either.
    return _mask_text(encoded)


def _masked_field(name: str, value: str) -> str:
    folded = name.lower()
    if folded in _CVV_FIELDS and value:
        return _HIDDEN_CVV
    if folded in _CARD_NUMBER_FIELDS and _ANY_DIGIT.search(value) and not _ALREADY_MASKED.fullmatch(value):
        return mask_card_number(value)
    return mask_card_numbers(value)


class _JsonMasker:
    """Masks a valid JSON text token by token: every string (keys too) and number is decoded,
    masked, and written again only if masking changed it, so the rest stays byte for byte.

    A value is taken as the field of the key before it; in an array that is the array's key,
    which can only mask more.
    """

    def __init__(self) -> None:
        self._field = ""

    def token(self, match: re.Match[str]) -> str:
        raw, colon = match.group(0), match.group(1)
        if colon:  # a key: the name of the values that follow
            self._field = json.loads(raw[: -len(colon)])
            masked_key = mask_card_numbers(self._field)
            return raw if masked_key == self._field else json.dumps(masked_key) + colon
        value = json.loads(raw) if raw.startswith('"') else _integer_text(raw)
        masked = _masked_field(self._field, value)
        # A card number sent as a JSON number becomes a string: masked, it is no number.
        return raw if masked == value else json.dumps(masked)


def _integer_text(number: str) -> str:
    """A JSON number as plain digits when it is a whole number of card length (``4.1e15`` too)."""
    value = Decimal(number)
    if value.adjusted() < MAX_CARD_DIGITS and value == value.to_integral_value():
        return str(int(value))
    return number


def _mask_text(text: str) -> str:
    masked = mask_card_numbers(text)
    decoded = _JSON_ESCAPE.sub(_unescaped, unquote_plus(masked))
    revealed = mask_card_numbers(decoded)
    # Decoding revealed a number the raw text hid: keep the decoded text, masked.
    return masked if revealed == decoded else revealed


def _unescaped(escape: re.Match[str]) -> str:
    code = int(escape.group(1), 16)
    # A lone surrogate cannot be stored; it cannot be a digit either, so it stays escaped.
    return escape.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)
