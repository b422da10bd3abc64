"""The machinery every API route shares: authentication, version, body, errors, replay header.

A route declares one ``Operation`` per HTTP method. The request passes, in order: body size (413),
API key (401), the key's rate limit (429), version header (400), media type (415) and strict JSON
(400), then the schema and a required idempotency key together (one 400 listing every field), then
the handler runs. Any failure becomes Dojo's error body.

Where the handler runs: an ``async def`` handler (the payment-intent and refund API) runs on the
event loop and awaits its use case, which runs its units of work through the transaction runner
(``Dependencies.runner``): the runner decides where the database work happens, and a sandbox pause
is a plain ``await``. A plain handler (webhooks, sandbox controls) runs on a worker thread. Either
gets the request's clock offset and armed-failure flag explicitly, in ``ApiCall.context``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Any, Generic

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typing_extensions import TypeVar

from payintents.domain.errors import ValidationError
from payintents.domain.idempotency import check_key, fingerprint
from payintents.domain.intent import Environment, Scope
from payintents.service.accounts import OpenedKey, open_session
from payintents.service.customers import open_customer_session
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest
from payintents.service.ports import RequestContext
from payintents.web import public_url
from payintents.web.http_input import (
    check_fields_exist_in,
    parse_json,
    read_body,
    refuse_impossible_input,
    resolve_version,
)
from payintents.web.presenters import to_json_bytes
from payintents.web.problems import RequestRefusedError, response_for_exception, trace_id_of
from payintents.web.request_log_entries import log_sandbox_request
from payintents.web.wire import B, Body, Obj, validate

# A call's typed body; covariant, so helpers that read no body take ``ApiCall[object]``.
BodyT_co = TypeVar("BodyT_co", covariant=True, default=None)
UNAUTHORIZED_DETAIL = "A valid API key is required: send 'Authorization: Basic <your_api_key>'."
# How many comma-joined credentials one Authorization header may carry to be looked at.
MAX_CREDENTIALS = 3
UNAUTHORIZED_CUSTOMER_DETAIL = (
    "A valid customer secret is required: send 'Authorization: Basic <customer secret>' "
    "(POST /customers/{customerId}/create-secret issues one)."
)


@dataclass(frozen=True, slots=True)
class ApiCall(Generic[BodyT_co]):
    """Everything a handler needs about one authenticated, validated request.

    ``body`` is the request body as its operation's dataclass (None without a schema);
    ``document`` the same body as validated JSON with canonical property names, which is what
    the idempotency fingerprint covers and what is stored.
    """

    request: Request
    deps: Dependencies
    scope: Scope
    version: date
    body: BodyT_co
    document: dict[str, Any]
    trace_id: str
    # The request's clock offset and armed-failure flag, for use cases that take them explicitly.
    context: RequestContext
    # The customer a customer secret opened (Auth.CUSTOMER_SECRET operations only).
    customer_id: str | None = None

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def limited_path_param(self, name: str, max_length: int) -> str:
        """A path parameter Dojo limits in length; a longer one is a 400 naming it."""
        value = self.path_param(name)
        if len(value) > max_length:
            raise ValidationError({name: [f"The {name} must be at most {max_length} characters."]})
        return value

    @property
    def base_url(self) -> str:
        """Where clients reach this server, for absolute links (public_url.py)."""
        return public_url.base_url(self.request)

    def idempotent(self, target: str, *, required: bool = False) -> IdempotentRequest:
        """The caller's ``idempotencyKey`` (any header case) bound to this exact request."""
        key = check_key(self.request.headers.get("idempotencykey"), required=required)
        operation = f"{self.request.method} {self.request.url.path}"
        return IdempotentRequest(key, target, fingerprint(operation, self.document))


# A plain handler runs where its operation says; an async one runs on the event loop and awaits
# its use case, which runs its units of work through ``Dependencies.runner()``.
Handler = Callable[[ApiCall[B]], Response] | Callable[[ApiCall[B]], Awaitable[Response]]


class Auth(Enum):
    """What authorises an operation: an API key (most), a customer secret (a customer's own saved
    cards), or nothing but the object's id, which is then the capability (public setup intents)."""

    API_KEY = "api_key"
    CUSTOMER_SECRET = "customer_secret"  # noqa: S105 (a name)
    NONE = "none"


# The scope of a request nobody authenticated (Auth.NONE): production, so it is never logged as
# a sandbox request; its use case finds the object by id and works in the object's own scope.
ANONYMOUS_SCOPE = Scope("anonymous", Environment.PRODUCTION)


@dataclass(frozen=True, slots=True)
class Operation(Generic[B]):
    """One method on one path: how to handle it, and how /openapi.json documents it."""

    handler: Handler[B]
    # The body's schema and the dataclass the handler reads it as; None: an empty body or none.
    schema: Body[B] | None = None
    body_required: bool = False
    key_required: bool = False
    # The handler honours an optional idempotencyKey (documented; required ones use key_required).
    idempotent: bool = False
    # Query parameters the handler reads: (name, JSON Schema), for the document.
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    summary: str = ""
    # Success status and the name of its response schema (None: no body).
    success: tuple[int, str | None] = (200, None)
    # Failure statuses beyond the ones every operation has (400 version, 401 key, 429 limit, 503 busy).
    errors: tuple[int, ...] = ()
    # True for what Dojo's own API does not have; marked x-payintents-extension in the document.
    extension: bool = False
    # Headers the handler reads besides the common ones: (name, required), for the document.
    headers: tuple[tuple[str, bool], ...] = ()
    # The schema of its error bodies (the terminal API's have every member, some null).
    problem_schema: str = "Problem"
    auth: Auth = Auth.API_KEY


class ApiRoute(Route):
    """A Starlette route that remembers its operations, for the OpenAPI document."""

    def __init__(
        self, path: str, operations: dict[str, Operation[Any]], endpoint: Callable[..., Any]
    ) -> None:
        super().__init__(path, endpoint, methods=list(operations))
        self.operations = operations


def api_route(
    path: str, *, finish: Callable[[Response], Response] | None = None, **operations: Operation[Any]
) -> ApiRoute:
    """One route per path, so a wrong method answers 405 with every allowed method in Allow.
    ``finish`` sees every answer last (the terminal API completes its error bodies there)."""

    async def answer(request: Request) -> Response:
        trace_id = trace_id_of(request)
        try:
            operation = operations["GET" if request.method == "HEAD" else request.method]
            refuse_impossible_input(request)
            raw = await read_body(request)
            if inspect.iscoroutinefunction(operation.handler):
                return await _handle_async(request, operation, raw, trace_id)
            return await run_in_threadpool(_handle, request, operation, raw, trace_id)
        except Exception as exc:
            return response_for_exception(exc, trace_id)

    async def endpoint(request: Request) -> Response:
        response = await answer(request)
        return response if finish is None else finish(response)

    return ApiRoute(path, operations, endpoint)


@dataclass(frozen=True, slots=True)
class _Session:
    """An authenticated, admitted request: who calls, on which clock, since when."""

    key: OpenedKey
    started: float
    customer_id: str | None = None

    @property
    def scope(self) -> Scope:
        """The (account, environment) the key opened."""
        return self.key.scope

    @property
    def context(self) -> RequestContext:
        """The key's account clock and whether a sandbox failure may be armed for it."""
        return RequestContext(self.key.clock_offset, self.key.failures_armed)


async def _handle_async(request: Request, operation: Operation, raw: bytes, trace_id: str) -> Response:
    deps: Dependencies = request.app.state.deps
    started = time.perf_counter()
    try:
        # Authentication only reads: where the runner runs reads (SQLite: right here).
        session = await deps.runner().look_up(lambda: _open(request, started, operation.auth))
    except Exception as exc:
        return response_for_exception(exc, trace_id)
    try:
        call = _call(request, operation, raw, trace_id, session)
        answered = operation.handler(call)
        response = await answered if inspect.isawaitable(answered) else answered
    except Exception as exc:
        response = response_for_exception(exc, trace_id)
    if deps.request_log is None:  # each entry written at once: not on the loop
        await run_in_threadpool(_log, request, raw, response, trace_id, session)
    else:
        _log(request, raw, response, trace_id, session)  # queued for the request log's writer
    return response


def _call(request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session) -> ApiCall:
    """The validated call a handler receives (raises what a refused request answers)."""
    version = resolve_version(request.headers.get("version"))
    parsed = parse_json(request, raw, body_required=operation.body_required)
    document, body = _validate_request(request, operation, parsed)
    check_fields_exist_in(version, document)
    deps: Dependencies = request.app.state.deps
    return ApiCall(
        request, deps, session.scope, version, body, document, trace_id, session.context, session.customer_id
    )


def _handle(request: Request, operation: Operation, raw: bytes, trace_id: str) -> Response:
    try:
        session = _open(request, time.perf_counter(), operation.auth)
    except Exception as exc:
        return response_for_exception(exc, trace_id)
    return _serve(request, operation, raw, trace_id, session)


def _open(request: Request, started: float, auth: Auth = Auth.API_KEY) -> _Session:
    deps: Dependencies = request.app.state.deps
    header = request.headers.get("authorization")
    customer_id = None
    if auth is Auth.NONE:
        key = OpenedKey(ANONYMOUS_SCOPE, timedelta(0), failures_armed=False)
    elif auth is Auth.CUSTOMER_SECRET:
        key, customer_id = _authenticate_customer(deps, header)
    else:
        key = _authenticate(deps, header)
    # Per-key limit (429), before any other work: a refused request is not even logged.
    request.app.state.rate_limiter.admit(key.scope)
    return _Session(key, started, customer_id)


def _serve(request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session) -> Response:
    response = _respond(request, operation, raw, trace_id, session)
    _log(request, raw, response, trace_id, session)
    return response


def _respond(
    request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session
) -> Response:
    try:
        response = operation.handler(_call(request, operation, raw, trace_id, session))
        if not isinstance(response, Response):  # async handlers never come here
            raise TypeError(f"{operation.handler.__name__} is async: it runs on the event loop")
        return response
    except Exception as exc:
        return response_for_exception(exc, trace_id)


def _log(request: Request, raw: bytes, response: Response, trace_id: str, session: _Session) -> None:
    if session.scope.environment is Environment.SANDBOX:
        deps: Dependencies = request.app.state.deps
        log_sandbox_request(
            deps, session.context, session.scope, request, raw, response, trace_id, session.started
        )


def _validate_request(
    request: Request, operation: Operation[B], parsed: Any
) -> tuple[dict[str, Any], B | None]:
    """Check the body and, where required, the idempotency key, reporting both at once; the body
    validated (canonical names) and as the operation's dataclass."""
    errors: dict[str, list[str]] = {}
    document: dict[str, Any] = {}
    body: B | None = None
    try:
        if operation.schema is None:
            document = validate(Obj({}), parsed)
        else:
            document, body = operation.schema.read_with_document(parsed)
    except ValidationError as invalid:
        errors.update(invalid.errors)
    if operation.key_required:
        try:
            check_key(request.headers.get("idempotencykey"), required=True)
        except ValidationError as invalid:
            errors.update(invalid.errors)
    if errors:
        raise ValidationError(errors)
    return document, body


def _authenticate(deps: Dependencies, header: str | None) -> OpenedKey:
    scheme, _, key = (header or "").strip().partition(" ")
    opened = open_session(deps, key.strip()) if scheme.lower() == "basic" and key else None
    if opened is None:
        raise RequestRefusedError(401, UNAUTHORIZED_DETAIL)
    return opened


def _authenticate_customer(deps: Dependencies, header: str | None) -> tuple[OpenedKey, str]:
    """``Basic <customer secret>`` (or the bare secret). Dojo's PHP SDK sends the merchant's key
    too, in the same header joined by a comma: the one credential that is a customer secret counts."""
    for credential in (header or "").split(",")[:MAX_CREDENTIALS]:
        scheme, _, rest = credential.strip().partition(" ")
        secret = rest.strip() if scheme.lower() == "basic" else scheme
        opened = open_customer_session(deps, secret) if secret else None
        if opened is not None:
            return opened
    raise RequestRefusedError(401, UNAUTHORIZED_CUSTOMER_DETAIL)


def json_response(value: Any, status_code: int = 200) -> Response:
    return Response(to_json_bytes(value), status_code, media_type="application/json")


def answer_response(answer: Answer) -> Response:
    """A use case's stored answer; replays carry ``Idempotent-Replayed: true``."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(
        answer.response.body,
        answer.response.status_code,
        headers=headers,
        media_type="application/json",
    )
