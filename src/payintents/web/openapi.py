"""The OpenAPI 3.0 document of the API this server actually serves, built from its routes.

Request bodies come from the same ``wire`` rules that validate them, so the document cannot
drift from the server; operations Dojo does not have carry ``x-payintents-extension: true`` and
the tag "payintents extension", Dojo's own the tag "Dojo API".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from starlette.routing import BaseRoute

from payintents import __version__
from payintents.domain.idempotency import MAX_KEY_LENGTH
from payintents.web.customer_openapi import CUSTOMER_SCHEMAS
from payintents.web.customer_routes import MAX_ID_LENGTH
from payintents.web.endpoint import ApiRoute, Auth, Operation
from payintents.web.http_input import SUPPORTED_VERSIONS
from payintents.web.openapi_links import add_links
from payintents.web.openapi_schemas import RESPONSE_SCHEMAS, JsonSchema, ref
from payintents.web.openapi_terminal_schemas import TERMINAL_SCHEMAS
from payintents.web.refund_routes import MAX_REFUND_ID_LENGTH
from payintents.web.setup_intent_routes import MAX_SETUP_INTENT_ID_LENGTH

# Every API operation can answer these: bad version header, bad key, body too large (413) or not
# JSON (415) whether or not the operation takes one, key's rate limit, store busy.
COMMON_ERRORS = (400, 401, 413, 415, 429, 503)
# Answers that always say when to try again.
RETRY_AFTER_ERRORS = (429, 503)
_RETRY_AFTER = {"description": "Whole seconds to wait before retrying.", "schema": {"type": "integer"}}
_PATH_PARAM = re.compile(r"{(\w+)}")
# What check_key accepts: printable ASCII, space included, not only spaces (they are trimmed).
PRINTABLE_ASCII = "^[ -~]*[!-~][ -~]*$"
PRINTABLE_ASCII_OR_EMPTY = "^[ -~]*$"
# Path parameters the route itself limits (longer ones answer 400); the rest are plain strings.
_PATH_PARAM_SCHEMAS: dict[str, JsonSchema] = {
    "refundId": {"type": "string", "maxLength": MAX_REFUND_ID_LENGTH},
    "customerId": {"type": "string", "maxLength": MAX_ID_LENGTH},
    "paymentMethodId": {"type": "string", "maxLength": MAX_ID_LENGTH},
    "setupIntentId": {"type": "string", "maxLength": MAX_SETUP_INTENT_ID_LENGTH},
}
DOJO_TAG = "Dojo API"
EXTENSION_TAG = "payintents extension"
TAGS = [
    {"name": DOJO_TAG, "description": "Dojo's card-payments API, as Dojo publishes it."},
    {"name": EXTENSION_TAG, "description": "What payintents adds; Dojo's API does not have it."},
]


def build_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        if isinstance(route, ApiRoute):
            paths[route.path] = {
                method.lower(): _operation(route.path, method, op) for method, op in route.operations.items()
            }
    add_links(paths)
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
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": {**RESPONSE_SCHEMAS, **TERMINAL_SCHEMAS, **CUSTOMER_SCHEMAS},
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Basic <raw API key>, e.g. Basic sk_sandbox_...",
                },
                "CustomerSecretAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Basic <customer secret>, e.g. Basic cs_sandbox_... "
                    "(POST /customers/{customerId}/create-secret)",
                },
            },
        },
    }


def _operation(path: str, method: str, op: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": f"{method.lower()}_{op.handler.__module__.rsplit('.', 1)[-1]}_{op.handler.__name__}",
        "summary": op.summary,
        "tags": [EXTENSION_TAG if op.extension else DOJO_TAG],
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
    if op.auth is Auth.CUSTOMER_SECRET:
        document["security"] = [{"CustomerSecretAuth": []}]
    elif op.auth is Auth.NONE:
        document["security"] = []  # the id in the path is the capability
    return document


def _parameters(path: str, op: Operation) -> list[JsonSchema]:
    params: list[JsonSchema] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAM_SCHEMAS.get(name, {"type": "string"}),
        }
        for name in _PATH_PARAM.findall(path)
    ]
    params.append(
        {
            "name": "version",
            "in": "header",
            "required": True,
            # The published versions; a later date also works (it picks the newest on or before it).
            "schema": {
                "type": "string",
                "format": "date",
                "enum": [v.isoformat() for v in SUPPORTED_VERSIONS],
            },
            "example": SUPPORTED_VERSIONS[-1].isoformat(),
        }
    )
    params.extend(
        {"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query
    )
    params.extend(
        {
            "name": name,
            "in": "header",
            "required": required,
            # A required header must carry a value; an empty one is refused as a missing one is.
            "schema": {"type": "string", "maxLength": 100, **({"minLength": 1} if required else {})},
        }
        for name, required in op.headers
    )
    if op.key_required or op.idempotent:
        params.append(
            {
                "name": "idempotencyKey",
                "in": "header",
                "required": op.key_required,
                "schema": _key_schema(op.key_required),
            }
        )
    return params


def _key_schema(required: bool) -> JsonSchema:
    """What check_key accepts; where the key is optional, an empty (or all-space) one means none."""
    if not required:
        return {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": PRINTABLE_ASCII_OR_EMPTY}
    return {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": PRINTABLE_ASCII}


def _responses(op: Operation) -> dict[str, Any]:
    status, schema_name = op.success
    success: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if schema_name is not None:
        success["content"] = {"application/json": {"schema": ref(schema_name)}}
    responses: dict[str, Any] = {str(status): success}
    for code in sorted({*COMMON_ERRORS, *op.errors}):
        responses[str(code)] = {
            "description": HTTPStatus(code).phrase,
            "content": {"application/json": {"schema": ref(op.problem_schema)}},
        }
        if code in RETRY_AFTER_ERRORS:
            responses[str(code)]["headers"] = {"Retry-After": _RETRY_AFTER}
    return responses
