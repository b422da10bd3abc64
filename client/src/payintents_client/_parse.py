"""Reading JSON answers leniently: unknown members are ignored, missing required ones are an error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from payintents_client.errors import PayintentsError

T = TypeVar("T")
JsonObject = Mapping[str, Any]


class ResponseFormatError(PayintentsError):
    """An answer lacked a member the API documents as always present, or had the wrong type."""


def as_object(value: Any, what: str) -> JsonObject:
    if not isinstance(value, Mapping):
        raise ResponseFormatError(f"expected a JSON object for {what}, got {type(value).__name__}")
    return value


def req(data: JsonObject, name: str) -> Any:
    if data.get(name) is None:
        raise ResponseFormatError(f"the answer has no {name!r}")
    return data[name]


def req_str(data: JsonObject, name: str) -> str:
    return str(req(data, name))


def opt_str(data: JsonObject, name: str) -> str | None:
    value = data.get(name)
    return None if value is None else str(value)


def req_int(data: JsonObject, name: str) -> int:
    value = req(data, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ResponseFormatError(f"{name!r} is not an integer")
    return value


def opt_int(data: JsonObject, name: str) -> int | None:
    return None if data.get(name) is None else req_int(data, name)


def opt_bool(data: JsonObject, name: str) -> bool | None:
    value = data.get(name)
    return None if value is None else bool(value)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with ``Z`` and up to 7 fractional digits (what .NET writes)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ResponseFormatError(f"not an ISO 8601 date-time: {text!r}") from None


def req_datetime(data: JsonObject, name: str) -> datetime:
    return parse_datetime(req_str(data, name))


def opt_datetime(data: JsonObject, name: str) -> datetime | None:
    value = data.get(name)
    return None if value is None else parse_datetime(str(value))


def opt_object(data: JsonObject, name: str) -> JsonObject | None:
    value = data.get(name)
    return None if value is None else as_object(value, name)


def parsed_list(data: JsonObject, name: str, parse: Callable[[JsonObject], T]) -> tuple[T, ...]:
    """A list member (missing or null reads as empty), each item parsed."""
    items = data.get(name) or []
    if not isinstance(items, list):
        raise ResponseFormatError(f"{name!r} is not a list")
    return tuple(parse(as_object(item, name)) for item in items)


def str_list(data: JsonObject, name: str) -> tuple[str, ...]:
    items = data.get(name) or []
    if not isinstance(items, list):
        raise ResponseFormatError(f"{name!r} is not a list")
    return tuple(str(item) for item in items)
