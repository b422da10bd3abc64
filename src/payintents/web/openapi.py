"""The OpenAPI 3.0 document of the API this server actually serves, built from its routes.

Request bodies come from the same ``wire`` rules that validate them, so the document cannot
drift from the server; operations Dojo does not have carry ``x-payintents-extension: true``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.routing import BaseRoute

from payintents import __version__
from payintents.web.endpoint import ApiRoute, Operation
from payintents.web.openapi_schemas import RESPONSE_SCHEMAS, JsonSchema, ref

# Every API operation can answer these: bad version header, bad key, store busy.
COMMON_ERRORS = (400, 401, 503)
_PATH_PARAM = re.compile(r"{(\w+)}")


def build_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        if isinstance(route, ApiRoute):
            paths[route.path] = {
                method.lower(): _operation(route.path, method, op) for method, op in route.operations.items()
            }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "payintents",
            "version": __version__,
            "description": "Dojo's card-payments API as served by payintents; extensions are marked "
            "with x-payintents-extension.",
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
        "components": {
            "schemas": RESPONSE_SCHEMAS,
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Basic <raw API key>, e.g. Basic sk_sandbox_...",
                }
            },
        },
    }


def _operation(path: str, method: str, op: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": f"{method.lower()}_{op.handler.__module__.rsplit('.', 1)[-1]}_{op.handler.__name__}",
        "summary": op.summary,
        "parameters": _parameters(path, op),
        "responses": _responses(op),
    }
    if op.schema is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.schema.json_schema}},
        }
    if op.extension:
        document["x-payintents-extension"] = True
    return document


def _parameters(path: str, op: Operation) -> list[JsonSchema]:
    params: list[JsonSchema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(path)
    ]
    params.append(
        {
            "name": "version",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "format": "date", "example": "2024-02-05"},
        }
    )
    params.extend(
        {"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query
    )
    if op.key_required or op.idempotent:
        params.append(
            {
                "name": "idempotencyKey",
                "in": "header",
                "required": op.key_required,
                "schema": {"type": "string", "maxLength": 100},
            }
        )
    return params


def _responses(op: Operation) -> dict[str, Any]:
    status, schema_name = op.success
    success: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if schema_name is not None:
        success["content"] = {"application/json": {"schema": ref(schema_name)}}
    responses: dict[str, Any] = {str(status): success}
    for code in sorted({*COMMON_ERRORS, *op.errors}):
        responses[str(code)] = {
            "description": HTTPStatus(code).phrase,
            "content": {"application/json": {"schema": ref("Problem")}},
        }
    return responses
