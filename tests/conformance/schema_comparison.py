"""One body schema of ours against Dojo's, recursively through references, objects, arrays and maps.

Two modes (docs/conformance.md "Dojo's OpenAPI"):

- ``REQUEST``: we must accept exactly what Dojo's schema accepts. Type, format, enum and limits
  are equal, the same properties exist and the same are required, objects are closed alike, and
  where Dojo allows ``null`` we do too. (Where we take ``null`` as "absent" and Dojo's schema does
  not mention it, that is our documented leniency, docs/api.md "Request bodies".)
- ``ANSWER``: what we answer must be valid under Dojo's schema: our type, format, enum, limits and
  nullability lie within Dojo's, every property Dojo requires we require, and a property Dojo's
  closed object does not list is a difference. Every property Dojo lists must be there too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.conformance.openapi_spec import Difference, Schema, Spec

REQUEST, ANSWER = "request", "answer"
LOWER_BOUNDS = ("minLength", "minimum", "minItems")
UPPER_BOUNDS = ("maxLength", "maximum", "maxItems", "maxProperties")
# Bounds an integer format already implies are no extra limit.
FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@dataclass(frozen=True)
class Place:
    """Where the walk is. Ids name the innermost Dojo component (else the operation) and the path
    below it; messages give the full path from the body's root."""

    owner: str
    below: tuple[str, ...]
    full: str

    @classmethod
    def root(cls, operation: str, direction: str) -> Place:
        return cls(f"{operation} {direction}", (), f"{operation} {direction}")

    def within(self, component: str | None, direction: str) -> Place:
        return self if component is None else Place(f"{direction} {component}", (), self.full)

    def child(self, segment: str) -> Place:
        joined = segment if segment in ("[]", "{}") else f".{segment}"
        return Place(self.owner, (*self.below, segment), self.full + joined)

    def id(self, aspect: str) -> str:
        path = "".join(s if s in ("[]", "{}") else f".{s}" for s in self.below)
        return f"{self.owner}{path} {aspect}"

    def difference(self, aspect: str, detail: str) -> Difference:
        return Difference(self.id(aspect), f"{self.full}: {detail}")


class BodyComparison:
    """Walks our schema and Dojo's together, in one mode, naming ids after ``direction``."""

    def __init__(self, ours: Spec, dojo: Spec, mode: str, direction: str) -> None:
        self.ours, self.dojo, self.mode, self.direction = ours, dojo, mode, direction

    def compare(self, ours_schema: Schema, dojo_schema: Schema, place: Place) -> list[Difference]:
        o, d = self.ours.flatten(ours_schema), self.dojo.flatten(dojo_schema)
        inner = place.within(d.get("x-component"), self.direction)
        # Whether null is allowed belongs to where a component is used (Dojo writes "nullable" beside
        # the reference), so it is named after the using property; everything else after the component.
        found = [
            (place if aspect == "nullable" else inner).difference(aspect, detail)
            for aspect, detail in constraint_differences(o, d, self.mode)
        ]
        place = inner
        if "object" in (o.get("type"), d.get("type")):
            found += self._objects(o, d, place)
        if "items" in o and "items" in d and not (self.mode == ANSWER and o.get("maxItems") == 0):
            found += self.compare(o["items"], d["items"], place.child("[]"))
        return found

    def _objects(self, o: Schema, d: Schema, place: Place) -> list[Difference]:
        o_props, d_props = o.get("properties", {}), d.get("properties", {})
        if d_props and not o_props and o.get("additionalProperties") is not False:
            return [place.difference("undocumented", f"ours is free-form; Dojo's lists {sorted(d_props)}")]
        found = [
            place.child(name).difference("extra", "ours has it; Dojo's schema does not")
            for name in sorted(o_props.keys() - d_props.keys())
            if self.mode == REQUEST or d.get("additionalProperties") is False
        ]
        found += [
            place.child(name).difference("missing", "Dojo's schema has it; ours does not")
            for name in sorted(d_props.keys() - o_props.keys())
        ]
        common = sorted(o_props.keys() & d_props.keys())
        found += self._required(o, d, place, common) + self._closed(o, d, place)
        for name in common:
            found += self.compare(o_props[name], d_props[name], place.child(name))
        o_map, d_map = o.get("additionalProperties"), d.get("additionalProperties")
        if isinstance(o_map, dict) and isinstance(d_map, dict) and d_map:
            found += self.compare(o_map, d_map, place.child("{}"))
        return found

    def _required(self, o: Schema, d: Schema, place: Place, common: list[str]) -> list[Difference]:
        o_req, d_req = set(o.get("required", [])), set(d.get("required", []))
        differing = o_req ^ d_req if self.mode == REQUEST else d_req - o_req
        return [
            place.child(name).difference("required", f"ours {name in o_req}, Dojo's {name in d_req}")
            for name in common
            if name in differing
        ]

    def _closed(self, o: Schema, d: Schema, place: Place) -> list[Difference]:
        o_closed, d_closed = o.get("additionalProperties") is False, d.get("additionalProperties") is False
        if o_closed == d_closed or (self.mode == ANSWER and o_closed):
            return []
        return [place.difference("additionalProperties", f"closed: ours {o_closed}, Dojo's {d_closed}")]


def constraint_differences(o: Schema, d: Schema, mode: str) -> list[tuple[str, str]]:
    """(aspect, detail) for each differing type, format, enum, limit or nullability."""
    o, d = _without_implied_bounds(o), _without_implied_bounds(d)
    agree = _equal if mode == REQUEST else _within
    found = [
        (key, f"ours {o.get(key)!r}, Dojo's {d.get(key)!r}")
        for key in ("type", "format", "enum", *LOWER_BOUNDS, *UPPER_BOUNDS, "pattern")
        if not agree(key, o, d)
    ]
    # Requests: where Dojo allows null we must too. Answers: we may answer null only where Dojo does.
    lenient, strict = (d, o) if mode == REQUEST else (o, d)
    if lenient["nullable"] and not strict["nullable"]:
        found.append(("nullable", f"null allowed: ours {o['nullable']}, Dojo's {d['nullable']}"))
    return found


def _equal(key: str, o: Schema, d: Schema) -> bool:
    """Request mode: the same constraint."""
    if key == "enum":
        return set(o.get("enum") or []) == set(d.get("enum") or [])
    if o.get(key) == d.get(key):
        return True
    # A limit on Dojo's free string that every value of our enum meets is reported once, as the enum.
    return o.get(key) is None and not d.get("enum") and _enum_meets(o, key, d[key])


def _within(key: str, o: Schema, d: Schema) -> bool:
    """Answer mode: every value ours allows is allowed by Dojo's constraint."""
    wanted, have = d.get(key), o.get(key)
    if wanted is None:
        return True
    if key == "enum":
        return bool(have) and set(have) <= set(wanted)
    if have is None:
        return _enum_meets(o, key, wanted)
    if key in LOWER_BOUNDS:
        return bool(have >= wanted)
    if key in UPPER_BOUNDS:
        return bool(have <= wanted)
    return bool(have == wanted)


def _enum_meets(o: Schema, key: str, limit: Any) -> bool:
    """Whether every value of our enum meets one of Dojo's limits (no enum: no)."""
    values = o.get("enum")
    if not values:
        return False
    tests = {
        "minLength": lambda v: len(v) >= limit,
        "maxLength": lambda v: len(v) <= limit,
        "minimum": lambda v: v >= limit,
        "maximum": lambda v: v <= limit,
        "pattern": lambda v: re.search(limit, v) is not None,
    }
    return key in tests and all(tests[key](v) for v in values)


def _without_implied_bounds(schema: Schema) -> Schema:
    result = {**schema, "nullable": bool(schema.get("nullable"))}
    if schema.get("type") == "integer" and schema.get("format") in FORMAT_RANGES:
        low, high = FORMAT_RANGES[schema["format"]]
        if result.get("minimum") == low:
            del result["minimum"]
        if result.get("maximum") == high:
            del result["maximum"]
    return result
