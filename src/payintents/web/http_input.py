"""Reading what a caller sent: the body (size, media type, strict JSON or an HTML form) and
Dojo's headers.

Every refusal here is an RequestRefusedError with a 4xx status; nothing malformed reaches a use case.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from payintents.domain.errors import ValidationError
from payintents.web.problems import RequestRefusedError

MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 30

# Published API versions, newest last (docs/api.md, "Version header"). A date picks the newest
# one on or before it.
# 2022-04-07 is the legacy version Dojo's PHP and Android SDKs still send (ADR 0007).
SUPPORTED_VERSIONS = (date(2022, 4, 7), date(2024, 2, 5), date(2025, 9, 10), date(2026, 2, 27))
# Request fields that exist only from a given version on (ADR 0007).
FIELDS_SINCE = {"previousTransactionId": date(2024, 2, 5), "isNotOnlineCheckout": date(2026, 2, 27)}
# Request fields Dojo removed in a given version: accepted only before it (ADR 0007).
FIELDS_UNTIL = {"transactionSource": date(2024, 2, 5)}
_VERSION_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve_version(header: str | None) -> date:
    """Map the ``version`` header to a supported version, or refuse it with a 400."""
    if header is None or not header.strip():
        raise _version_problem("The version header is required (for example 2024-02-05).")
    text = header.strip()
    try:
        asked = date.fromisoformat(text) if _VERSION_SHAPE.match(text) else None
    except ValueError:
        asked = None
    if asked is None:
        raise _version_problem("The version header must be a date in the form yyyy-mm-dd.")
    eligible = [v for v in SUPPORTED_VERSIONS if v <= asked]
    if not eligible:
        raise _version_problem(
            f"The version {text} is not supported; the oldest supported version is "
            f"{SUPPORTED_VERSIONS[0].isoformat()}."
        )
    return eligible[-1]


# Every id this server mints is made of these characters, and none is longer than 64.
_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# These routes answer a too-long id with Dojo's 400 (its maxLength) themselves.
_LENGTH_CHECKED_BY_ROUTE = frozenset({"refundId", "customerId", "paymentMethodId", "setupIntentId"})
# Dojo's GET /customers/{customerId} takes several ids separated by commas.
_ID_LISTS = frozenset({"customerId"})


def refuse_impossible_input(request: Request) -> None:
    """Refuse what no id or filter can contain before it reaches the store (PostgreSQL cannot
    even compare text with NUL, and ids longer than a column must not reach an INSERT)."""
    if "\x00" in request.scope["path"] or not all(
        _plausible_id(name, str(value)) for name, value in request.path_params.items()
    ):
        raise RequestRefusedError(404, f"No resource at {request.url.path}.")
    if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
        raise RequestRefusedError(400, "Query parameters must not contain NUL characters.")


def _plausible_id(name: str, value: str) -> bool:
    parts = value.split(",") if name in _ID_LISTS else [value]
    if name in _LENGTH_CHECKED_BY_ROUTE:
        parts = [part[:64] for part in parts]
    return all(is_plausible_id(part) for part in parts)


def is_plausible_id(value: str) -> bool:
    """Could this be an id this server minted? (Anything else cannot exist in the store.)"""
    return _ID_SHAPE.fullmatch(value) is not None


# More significant digits than any bound we check: int() refuses strings past 4,300 digits.
_MAX_NUMBER_DIGITS = 18


def whole_number(raw: str, low: int, high: int) -> int | None:
    """``raw`` as a whole number from ``low`` to ``high``, else None. ASCII digits only:
    ``str.isdecimal`` also takes other scripts' digits ("\u0661"), which no client means as a
    query parameter's integer. Leading zeros are allowed ("007", a padded Content-Length)."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    significant = raw.lstrip("0") or "0"
    if len(significant) > _MAX_NUMBER_DIGITS:
        return None
    value = int(significant)
    return value if low <= value <= high else None


def check_fields_exist_in(version: date, body: dict[str, object]) -> None:
    """Refuse top-level fields the caller's API version does not have yet, or no longer has.

    A null counts as left out, as it does everywhere else (fingerprints included), so a client
    that writes every optional field as null still works on an older version.
    """
    errors = {
        name: [f"The {name} field needs version {since.isoformat()} or later."]
        for name, since in FIELDS_SINCE.items()
        if body.get(name) is not None and version < since
    }
    errors.update(
        {
            name: [
                f"The {name} field was removed in version {until.isoformat()}; send it with an older version."
            ]
            for name, until in FIELDS_UNTIL.items()
            if body.get(name) is not None and version >= until
        }
    )
    if errors:
        raise ValidationError(errors)


def _version_problem(message: str) -> RequestRefusedError:
    return RequestRefusedError(400, errors={"version": [message]})


async def read_body(request: Request) -> bytes:
    """The raw body, refusing more than MAX_BODY_BYTES before reading past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        # ASCII only: str.isdigit() also accepts "²" (a latin-1 header byte), which int() refuses.
        if not (declared.isascii() and declared.isdigit()):
            raise RequestRefusedError(400, "The Content-Length header is not a number.")
        if whole_number(declared, 0, MAX_BODY_BYTES) is None:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> RequestRefusedError:
    return RequestRefusedError(413, f"The request body must be at most {MAX_BODY_BYTES} bytes.")


def parse_json(request: Request, raw: bytes, *, body_required: bool) -> Any:
    """Strict JSON: media type, UTF-8, no duplicate keys, no NaN, no lone surrogates or NUL."""
    if not raw.strip():
        if body_required:
            raise RequestRefusedError(400, "A JSON request body is required.", {"$": ["The body is empty."]})
        return {}
    media_type = _media_type(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise RequestRefusedError(415, "The request body must be sent as application/json.")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise _bad_json("The body is not valid UTF-8.") from None
    except (ValueError, RecursionError):
        # ValueError beyond JSONDecodeError: an integer literal over Python's 4300-digit limit.
        raise _bad_json("The body is not valid JSON.") from None
    except _JsonRefusedError as refusal:
        raise _bad_json(str(refusal)) from None
    _check_strings(value)
    return value


def parse_form(request: Request, raw: bytes) -> dict[str, str]:
    """A URL-encoded HTML form, at most MAX_FORM_FIELDS fields, the first of a repeated name kept:
    another media type → 415; undecodable bytes, too many fields or a NUL character → 400."""
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise RequestRefusedError(415, "Only HTML form submissions are accepted here.")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # undecodable bytes or too many fields
        raise RequestRefusedError(400, "The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise RequestRefusedError(400, "The form could not be read.")
        form.setdefault(name, value)
    return form


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _bad_json(message: str) -> RequestRefusedError:
    return RequestRefusedError(400, message, {"$": [message]})


class _JsonRefusedError(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonRefusedError(f"The property '{key}' appears more than once.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _JsonRefusedError(f"{name} is not a JSON number.")


def _check_strings(value: Any, depth: int = 0) -> None:
    """Refuse NUL characters and lone surrogates anywhere in keys or values."""
    if depth > 64:
        raise _bad_json("The body is nested too deeply.")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, depth + 1)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise _bad_json("Strings must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_json("Strings must not contain unpaired surrogates.") from None
