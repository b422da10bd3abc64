"""A small declarative schema for request bodies, with the binding rules Dojo's API implies.

Why not pydantic: Dojo binds property names case-insensitively (its own examples send
``AutoExpireIn``), must refuse duplicate and unknown properties, and reports failures as an
``errors`` map of field paths; a hand-written walker does all of that in one pass (ADR 0002).

``validate`` returns the body with canonical property names (the schema's camelCase), ready to
fingerprint and store, or raises ValidationError listing every problem found. A ``Body`` pairs a
schema with the frozen dataclass a handler reads (request_bodies.py): ``Body.read`` validates,
then builds that dataclass from the canonical body, so mypy checks every property a route reads.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Protocol
from urllib.parse import urlsplit

from typing_extensions import TypeVar

from payintents.domain.errors import ValidationError
from payintents.domain.money import MAX_AMOUNT

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

# The typed body of a request; a handler that reads none has the default, None.
B = TypeVar("B", default=None)
Errors = dict[str, list[str]]
JsonSchema = dict[str, Any]
# A schema's property names, each mapped to its own properties' names if it is an object, else None.
Names = dict[str, Any]


def _fail(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path or "$", []).append(message)


class Check(Protocol):
    """A rule for one JSON value: checks it (recording failures) and describes itself."""

    def __call__(self, value: Any, path: str, errors: Errors) -> Any: ...

    @property
    def json_schema(self) -> JsonSchema: ...


@dataclass(frozen=True)
class Rule:
    """A leaf check and the JSON Schema (OpenAPI 3.0 dialect) that documents it."""

    run: Callable[[Any, str, Errors], Any]
    json_schema: JsonSchema

    def __call__(self, value: Any, path: str, errors: Errors) -> Any:
        return self.run(value, path, errors)


@dataclass(frozen=True)
class Field:
    """One property: its check, whether it is required, whether JSON null is allowed."""

    check: Check
    required: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class Obj:
    fields: dict[str, Field]

    def __call__(self, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict):
            _fail(errors, path, "The value must be a JSON object.")
            return None
        by_lower = {name.lower(): name for name in self.fields}
        result: dict[str, Any] = {}
        for raw_name, item in value.items():
            name = by_lower.get(raw_name.lower())
            item_path = f"{path}.{raw_name}" if path else raw_name
            if name is None:
                _fail(errors, item_path, f"The property '{raw_name}' is not allowed here.")
            elif name in result:
                _fail(errors, item_path, f"The property '{name}' appears more than once.")
            else:
                result[name] = self._check_one(name, item, item_path, errors)
        for name, spec in self.fields.items():
            if spec.required and name not in result:
                _fail(errors, f"{path}.{name}" if path else name, f"The {name} field is required.")
        return result

    def _check_one(self, name: str, item: Any, path: str, errors: Errors) -> Any:
        spec = self.fields[name]
        if item is None:
            if not spec.nullable:
                _fail(errors, path, f"The {name} field must not be null.")
            return None
        return spec.check(item, path, errors)

    @property
    def json_schema(self) -> JsonSchema:
        properties = {}
        for name, spec in self.fields.items():
            described = dict(spec.check.json_schema)
            if spec.nullable:
                described["nullable"] = True
            properties[name] = described
        schema: JsonSchema = {"type": "object", "additionalProperties": False, "properties": properties}
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        return schema


def string(max_length: int | None = None, min_length: int = 0, fmt: str | None = None) -> Check:
    def check(value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, str):
            _fail(errors, path, "The value must be a string.")
            return None
        if len(value) < min_length:
            _fail(errors, path, f"The value must be at least {min_length} characters long.")
        if max_length is not None and len(value) > max_length:
            _fail(errors, path, f"The value must be at most {max_length} characters long.")
        if fmt == "uri" and not _is_web_url(value):
            _fail(errors, path, "The value must be an absolute http(s) URL.")
        return value

    schema: JsonSchema = {"type": "string"}
    if min_length:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if fmt:
        schema["format"] = fmt
    return Rule(check, schema)


def integer(minimum: int = -INT64_MAX - 1, maximum: int = INT64_MAX) -> Check:
    """JSON integers only: floats (even ``10.0`` or ``1e2``), booleans and strings are refused."""

    def check(value: Any, path: str, errors: Errors) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(errors, path, "The value must be a JSON integer.")
            return None
        if not minimum <= value <= maximum:
            _fail(errors, path, f"The value must be between {minimum} and {maximum}.")
        return value

    fmt = "int32" if minimum >= -INT32_MAX - 1 and maximum <= INT32_MAX else "int64"
    return Rule(check, {"type": "integer", "format": fmt, "minimum": minimum, "maximum": maximum})


def amount(minimum: int = 1) -> Check:
    """An amount in minor units: an integer from ``minimum`` to 2^53 - 1."""
    return integer(minimum, MAX_AMOUNT)


def _boolean(value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, bool):
        _fail(errors, path, "The value must be true or false.")
        return None
    return value


boolean: Check = Rule(_boolean, {"type": "boolean"})


def one_of(*choices: str) -> Check:
    def check(value: Any, path: str, errors: Errors) -> Any:
        if value not in choices:
            _fail(errors, path, f"The value must be one of: {', '.join(choices)}.")
            return None
        return value

    return Rule(check, {"type": "string", "enum": list(choices)})


def enum_values(kind: type[StrEnum]) -> tuple[str, ...]:
    """A domain enum's values in its declared order: the one list of them the web layer uses."""
    return tuple(member.value for member in kind)


def one_of_enum(kind: type[StrEnum]) -> Check:
    """One of a domain enum's values (the handler reads the enum member)."""
    return one_of(*enum_values(kind))


def _date_time(value: Any, path: str, errors: Errors) -> Any:
    """ISO 8601; returned as the original text so stored bodies stay as the caller sent them."""
    if not isinstance(value, str) or parse_date_time(value) is None:
        _fail(errors, path, "The value must be an ISO 8601 date-time.")
        return None
    return value


date_time: Check = Rule(_date_time, {"type": "string", "format": "date-time"})


def array(item: Check, max_items: int = 1000) -> Check:
    def check(value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, list):
            _fail(errors, path, "The value must be a JSON array.")
            return None
        if len(value) > max_items:
            _fail(errors, path, f"The array must have at most {max_items} items.")
            return None
        return [item(v, f"{path}[{i}]", errors) for i, v in enumerate(value)]

    return Rule(check, {"type": "array", "items": item.json_schema, "maxItems": max_items})


def string_map(max_entries: int = 100) -> Check:
    def check(value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, dict) or len(value) > max_entries:
            _fail(errors, path, f"The value must be an object of at most {max_entries} strings.")
            return None
        for key, item in value.items():
            if not isinstance(item, str):
                _fail(errors, f"{path}.{key}", "The value must be a string.")
        return dict(value)

    schema = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": max_entries}
    return Rule(check, schema)


def parse_date_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        # OverflowError: an offset that moves year 1 or year 9999 out of range in UTC.
        return None


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate(schema: Obj, body: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    result = schema(body, "", errors)
    if errors:
        raise ValidationError(errors)
    if not isinstance(result, dict):
        raise ValidationError({"$": ["The request body must be a JSON object."]})
    return result


class Body(Generic[B]):
    """A request body: the schema it must pass (``shape``) and the dataclass it is read as."""

    __slots__ = ("_build", "kind", "shape")

    def __init__(self, shape: Obj, kind: type[B]) -> None:
        self.shape = shape
        self.kind = kind
        # Built once, here: a dataclass out of step with its schema fails at import, not per request.
        self._build = _dataclass_reader(kind, _property_names(shape))

    @property
    def json_schema(self) -> JsonSchema:
        return self.shape.json_schema

    def read(self, body: Any) -> B:
        """The body as its dataclass, or ValidationError listing every problem."""
        return self._build(validate(self.shape, body))

    def read_with_document(self, body: Any) -> tuple[dict[str, Any], B]:
        """The canonical body (to fingerprint and store) and its typed reading, or ValidationError."""
        document = validate(self.shape, body)
        return document, self._build(document)


def _property_names(shape: Obj) -> Names:
    """The schema's property names, each with the names of its own properties if it is an object."""
    return {
        name: _property_names(spec.check) if isinstance(spec.check, Obj) else None
        for name, spec in shape.fields.items()
    }


def _dataclass_reader(kind: type[B], names: Names) -> Callable[[Mapping[str, Any]], B]:
    """How to read a canonical body as the frozen dataclass ``kind``: each attribute from the
    property of the same name in camelCase (``refund_reason`` from ``refundReason``), a null or
    absent property as None, converted as the attribute's type says. Raises TypeError if the
    dataclass and the schema do not name the same properties."""
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind!r} is not a dataclass")
    hints = typing.get_type_hints(kind)
    attributes = [field.name for field in dataclasses.fields(kind)]
    wire_names = {_camel(name): name for name in attributes}
    if set(wire_names) != set(names):
        raise TypeError(f"{kind.__name__} reads {sorted(wire_names)}, its schema has {sorted(names)}")
    plan = {wire: (attr, _converter(hints[attr], names[wire])) for wire, attr in wire_names.items()}
    absent = dict.fromkeys(attributes)

    def read(document: Mapping[str, Any]) -> B:
        # Only what was sent (validated, so every key is in the plan); the rest stays None.
        values = dict(absent)
        for wire, value in document.items():
            if value is not None:
                attr, convert = plan[wire]
                values[attr] = convert(value)
        return kind(**values)

    return read


def _converter(hint: Any, names: Names | None) -> Callable[[Any], Any]:
    """How to convert one validated, non-null value to the type ``hint``."""
    origin = typing.get_origin(hint)
    arguments = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (types.UnionType, typing.Union) and len(arguments) == 1:
        return _converter(arguments[0], names)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        item = _converter(arguments[0], None)
        return lambda values: tuple(item(v) for v in values)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if names is None:
            raise TypeError(f"{hint.__name__} is read from a property that is not an object")
        return _dataclass_reader(hint, names)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return hint
    if hint is datetime:
        return parse_date_time
    if hint in (str, int, bool) or origin is Mapping:
        return _as_validated
    raise TypeError(f"no reading for {hint!r}")


def _as_validated(value: Any) -> Any:
    return value


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)
