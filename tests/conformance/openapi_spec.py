"""Reading two OpenAPI documents side by side: ours and Dojo's published one
(docs/conformance.md).

Finds Dojo's file, flattens schemas ($ref, allOf, single-branch oneOf/anyOf) and pairs each of our
operations that is not an extension with Dojo's operation of the same method and path.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payintents.web.app import build_app
from payintents.web.openapi import build_document
from tests.fakes import fake_world

Schema = dict[str, Any]

SPEC_ENV = "PAYINTENTS_DOJO_SPEC"
REQUIRE_ENV = "PAYINTENTS_REQUIRE_DOJO_SPEC"
# Without $PAYINTENTS_DOJO_SPEC: shared/dojo/dojo-api.json beside the repository's folder.
DEFAULT_SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "dojo" / "dojo-api.json"
METHODS = ("get", "put", "post", "delete", "patch")
_COMPOSITIONS = ("$ref", "allOf", "oneOf", "anyOf")


@dataclass(frozen=True)
class Difference:
    """One way our document differs from Dojo's: a stable id (the allow-list key) and what differs."""

    id: str
    detail: str


@dataclass(frozen=True)
class MatchedOperation:
    """One operation both documents have: our path template and both operation objects."""

    method: str
    path: str
    ours: Schema
    dojo: Schema
    dojo_path_item: Schema

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def dojo_spec_path() -> Path:
    return Path(os.environ.get(SPEC_ENV) or DEFAULT_SPEC)


def our_document() -> Schema:
    """What GET /openapi.json serves: that endpoint builds the same document from the same routes."""
    return build_document(build_app(fake_world().deps).routes)


def load_spec(path: Path) -> Schema:
    return dict(json.loads(path.read_text(encoding="utf-8")))


class Spec:
    """One OpenAPI document whose schemas can be flattened."""

    def __init__(self, document: Schema) -> None:
        self.document = document

    def lookup(self, pointer: str) -> Schema:
        node: Any = self.document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)

    def flatten(self, schema: Schema) -> Schema:
        """The schema with references and compositions merged in. ``x-component`` names the
        innermost component it came from; ``nullable`` holds if any layer allows null."""
        own = {key: value for key, value in schema.items() if key not in _COMPOSITIONS}
        parts = [self.flatten(part) for part in self._parts(schema)]
        merged: Schema = {}
        for part in parts:
            merged = _merge(merged, part)
        if len(parts) > 1:
            merged.pop("x-component", None)
        if "$ref" in schema:
            merged["x-component"] = schema["$ref"].rsplit("/", 1)[-1]
        return _merge(merged, own)

    def _parts(self, schema: Schema) -> list[Schema]:
        if "$ref" in schema:
            return [self.lookup(schema["$ref"])]
        parts = list(schema.get("allOf", []))
        for key in ("oneOf", "anyOf"):
            if len(schema.get(key, [])) == 1:
                parts.extend(schema[key])
        return parts

    def parameter(self, parameter: Schema) -> Schema:
        """A parameter with its reference followed; ``x-component`` names a shared one."""
        if "$ref" not in parameter:
            return parameter
        return {
            **self.lookup(parameter["$ref"]),
            **parameter,
            "x-component": parameter["$ref"].rsplit("/", 1)[-1],
        }


def _merge(base: Schema, extra: Schema) -> Schema:
    merged = {**base, **extra}
    properties = {**base.get("properties", {}), **extra.get("properties", {})}
    merged.pop("properties", None)
    if properties:
        merged["properties"] = properties
    required = {*base.get("required", []), *extra.get("required", [])}
    if required:
        merged["required"] = sorted(required)
    if base.get("additionalProperties") is False or extra.get("additionalProperties") is False:
        merged["additionalProperties"] = False
    merged["nullable"] = bool(base.get("nullable") or extra.get("nullable"))
    return merged


def matched_operations(ours: Schema, dojo: Schema) -> list[MatchedOperation]:
    """Our operations that are not extensions, each with Dojo's operation of the same method and
    path (path parameters are paired by position here and compared by name as parameters)."""
    index = {(method, _shape(path)): path for path, method, _ in _operations(dojo)}
    found = []
    for path, method, operation in _operations(ours):
        dojo_path = index.get((method, _shape(path)))
        if dojo_path is not None and not operation.get("x-payintents-extension"):
            item = dojo["paths"][dojo_path]
            found.append(MatchedOperation(method, path, operation, item[method], item))
    return found


def misplaced_operations(ours: Schema, dojo: Schema) -> list[str]:
    """Operations marked as extensions that Dojo has, and unmarked ones Dojo does not have."""
    dojo_shapes = {(method, _shape(path)) for path, method, _ in _operations(dojo)}
    return [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(ours)
        if ((method, _shape(path)) in dojo_shapes) == bool(operation.get("x-payintents-extension"))
    ]


def _operations(document: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _shape(path: str) -> str:
    return re.sub(r"{\w+}", "{}", path)
