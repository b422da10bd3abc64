"""The machinery every API route shares: authentication, version, body, errors, replay header.

A route declares one ``Operation`` per HTTP method. The request passes, in order: body size (413),
API key (401), the key's rate limit (429), version header (400), media type (415) and strict JSON
(400), then the schema and a required idempotency key together (one 400 listing every field), then
the handler runs. Any failure becomes Dojo's error body.

Where the handler runs: the store is synchronous. Operations marked ``on_event_loop`` (the
payment-intent and refund API: a few milliseconds of database work) run straight on the event
loop, which saves the hop to a worker thread and the fight for the GIL there (ADR 0011). If such a
request would have to wait, it gives way before committing anything (WouldWaitError): one that
must pause (a sandbox "slow" failure) awaits the pause on the loop, holding no thread, and runs
again; one with another writer in its way (SQLite's write gate) tries again on the loop after a
short pause. On PostgreSQL the work
runs through the store's runner, in a greenlet whose database waits suspend only that request
(ADR 0014). Every other operation runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typing_extensions import TypeVar

from payintents.domain.errors import InvariantViolationError, ValidationError
from payintents.domain.idempotency import check_key, fingerprint
from payintents.domain.intent import Environment, Scope
from payintents.service.accounts import OpenedKey, open_session
from payintents.service.dependencies import Dependencies
from payintents.service.failures import FAILURES_ARMED
from payintents.service.idempotent import Answer, IdempotentRequest
from payintents.service.ports import RequestContext, StoreBusyError
from payintents.service.sandbox import CLOCK_OFFSET
from payintents.service.waiting import (
    EventLoopWork,
    SleepFirstError,
    WouldWaitError,
    run_awaiting_sleeps,
    without_waiting,
)
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
from payintents.web.request_log import log_sandbox_request
from payintents.web.wire import B, Body, Obj, validate

# A request on the event loop that found another writer in its way (the SQLite gate held by
# another worker or a thread) tries again on the loop after a pause, doubling from the first to
# the longest, and answers 503 once the store's lock timeout (``Dependencies.lock_wait_s``) has
# passed (ADR 0011). It never moves to a thread for this: a thread would queue for the same
# writer, and it did, measured, tip a loaded worker into serving everything from its thread pool
# at half the speed.
EVENT_LOOP_FIRST_PAUSE_S = 0.001
EVENT_LOOP_LONGEST_PAUSE_S = 0.004
T = TypeVar("T")
# A call's typed body; covariant, so helpers that read no body take ``ApiCall[object]``.
BodyT_co = TypeVar("BodyT_co", covariant=True, default=None)
UNAUTHORIZED_DETAIL = "A valid API key is required: send 'Authorization: Basic <your_api_key>'."


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

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

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
    # Quick database work only: run on the event loop (a sandbox pause is awaited there, threadless).
    on_event_loop: bool = False
    # A POST that writes nothing (a search): admitted among reads on PostgreSQL (ADR 0014).
    reads_only: bool = False


class ApiRoute(Route):
    """A Starlette route that remembers its operations, for the OpenAPI document."""

    def __init__(
        self, path: str, operations: dict[str, Operation[Any]], endpoint: Callable[..., Any]
    ) -> None:
        super().__init__(path, endpoint, methods=list(operations))
        self.operations = operations


def api_route(path: str, **operations: Operation[Any]) -> ApiRoute:
    """One route per path, so a wrong method answers 405 with every allowed method in Allow."""

    async def endpoint(request: Request) -> Response:
        trace_id = trace_id_of(request)
        try:
            operation = operations["GET" if request.method == "HEAD" else request.method]
            refuse_impossible_input(request)
            raw = await read_body(request)
            if inspect.iscoroutinefunction(operation.handler):
                return await _handle_async(request, operation, raw, trace_id)
            if operation.on_event_loop:
                return await _handle_on_event_loop(request, operation, raw, trace_id)
            return await run_in_threadpool(_handle, request, operation, raw, trace_id)
        except Exception as exc:
            return response_for_exception(exc, trace_id)

    return ApiRoute(path, operations, endpoint)


@dataclass(frozen=True, slots=True)
class _Session:
    """An authenticated, admitted request: who calls, on which clock, since when."""

    key: OpenedKey
    started: float

    @property
    def scope(self) -> Scope:
        """The (account, environment) the key opened."""
        return self.key.scope


async def _handle_on_event_loop(
    request: Request, operation: Operation, raw: bytes, trace_id: str
) -> Response:
    started = time.perf_counter()
    try:
        # Authentication only reads (no write lock, no row lock): it never waits for a writer.
        session = await _on_event_loop(request, _open, request, started, writes=False)
    except Exception as exc:
        return response_for_exception(exc, trace_id)

    async def attempt() -> tuple[Response, EventLoopWork] | None:
        async with _turn_of(request, operation, session.scope):
            return await _respond_on_event_loop(request, operation, raw, trace_id, session)

    try:
        # A sandbox pause is awaited here, outside the intent's turn, and the request runs again.
        done = await run_awaiting_sleeps(attempt, request.app.state.deps.sleep)
    except StoreBusyError as busy:  # not admitted within the lock timeout (ADR 0014)
        done = response_for_exception(busy, trace_id), EventLoopWork()
    if done is None:
        # It would have slept: the same request again on a thread, where it may wait.
        return await run_in_threadpool(_serve, request, operation, raw, trace_id, session)
    response, work = done
    try:
        # SQLite: the answer goes out once the loop turn's shared commit is durable (ADR 0012).
        await work.durable()
    except Exception as exc:
        response = response_for_exception(exc, trace_id)
    _log(request, raw, response, trace_id, session)
    return response


async def _respond_on_event_loop(
    request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session
) -> tuple[Response, EventLoopWork] | None:
    """The answer and the commits it waits for; None if the request must run on a thread."""
    deps: Dependencies = request.app.state.deps
    busy_at = time.monotonic() + deps.lock_wait_s
    pause_s = EVENT_LOOP_FIRST_PAUSE_S
    while True:
        try:
            with without_waiting() as work:
                response = await _on_event_loop(
                    request,
                    _respond,
                    request,
                    operation,
                    raw,
                    trace_id,
                    session,
                    writes=_writes(request, operation),
                )
                return response, work
        except WouldWaitError as would:
            if work.committed:
                # Every handler gives way before its commit; rerunning now could apply it twice.
                raise InvariantViolationError("a request gave way after it had committed") from would
            # Nothing was committed and nothing logged. A sandbox pause: the caller awaits it. A
            # sleep: rerun on a thread. Another writer in the way (it ends within milliseconds):
            # try again after a pause in which the loop serves other requests.
            if isinstance(would, SleepFirstError):
                raise
            if not would.briefly:
                return None
            if time.monotonic() >= busy_at:
                busy = StoreBusyError("another writer held the database for too long")
                return response_for_exception(busy, trace_id), work
            await asyncio.sleep(pause_s)
            pause_s = min(2 * pause_s, EVENT_LOOP_LONGEST_PAUSE_S)


async def _on_event_loop(request: Request, work: Callable[..., T], *args: Any, writes: bool) -> T:
    """Run ``work`` on the loop: through the store's runner if it has one (PostgreSQL: its waits
    for the database suspend only this request, ADR 0014), else directly."""
    deps: Dependencies = request.app.state.deps
    runner = deps.event_loop_runner
    if runner is None:
        return work(*args)
    return await runner.run(work, *args, writes=writes)


def _writes(request: Request, operation: Operation) -> bool:
    return request.method not in ("GET", "HEAD") and not operation.reads_only


def _turn_of(request: Request, operation: Operation, scope: Scope) -> AbstractAsyncContextManager[None]:
    """With a runner, writes to one payment intent take turns in the worker: a second one waits
    here, not in PostgreSQL's lock queue holding a connection (ADR 0014). Keyed by the caller's
    scope too, so another account naming the intent cannot hold up its owner. Authentication does
    not take the turn: measured, serialising it too cost a third of a hot intent's throughput."""
    deps: Dependencies = request.app.state.deps
    intent_id = request.path_params.get("paymentIntentId")
    if deps.event_loop_runner is None or intent_id is None or not _writes(request, operation):
        return nullcontext()
    return deps.event_loop_runner.in_turn(f"{scope.account_id}/{scope.environment.value}/{intent_id}")


async def _handle_async(request: Request, operation: Operation, raw: bytes, trace_id: str) -> Response:
    try:
        session = await run_in_threadpool(_open, request, time.perf_counter())
    except Exception as exc:
        return response_for_exception(exc, trace_id)
    try:
        call = _call(request, operation, raw, trace_id, session)
        answered = operation.handler(call)
        response = await answered if inspect.isawaitable(answered) else answered
    except Exception as exc:
        response = response_for_exception(exc, trace_id)
    await run_in_threadpool(_log, request, raw, response, trace_id, session)
    return response


def _call(request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session) -> ApiCall:
    """The validated call a handler receives (raises what a refused request answers)."""
    version = resolve_version(request.headers.get("version"))
    parsed = parse_json(request, raw, body_required=operation.body_required)
    document, body = _validate_request(request, operation, parsed)
    check_fields_exist_in(version, document)
    deps: Dependencies = request.app.state.deps
    context = RequestContext(session.key.clock_offset, session.key.failures_armed)
    return ApiCall(request, deps, session.scope, version, body, document, trace_id, context)


def _handle(request: Request, operation: Operation, raw: bytes, trace_id: str) -> Response:
    try:
        session = _open(request, time.perf_counter())
    except Exception as exc:
        return response_for_exception(exc, trace_id)
    return _serve(request, operation, raw, trace_id, session)


def _open(request: Request, started: float) -> _Session:
    key = _authenticate(request.app.state.deps, request.headers.get("authorization"))
    # Per-key limit (429), before any other work: a refused request is not even logged.
    request.app.state.rate_limiter.admit(key.scope)
    return _Session(key, started)


def _serve(request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session) -> Response:
    response = _respond(request, operation, raw, trace_id, session)
    _log(request, raw, response, trace_id, session)
    return response


def _respond(
    request: Request, operation: Operation, raw: bytes, trace_id: str, session: _Session
) -> Response:
    # The account's own clock (sandbox time travel) for everything this request does.
    CLOCK_OFFSET.set(session.key.clock_offset)
    FAILURES_ARMED.set(session.key.failures_armed)
    try:
        response = operation.handler(_call(request, operation, raw, trace_id, session))
        if not isinstance(response, Response):  # async handlers never come here
            raise TypeError(f"{operation.handler.__name__} is async: it runs on the event loop")
        return response
    except WouldWaitError:
        raise
    except Exception as exc:
        return response_for_exception(exc, trace_id)


def _log(request: Request, raw: bytes, response: Response, trace_id: str, session: _Session) -> None:
    if session.scope.environment is Environment.SANDBOX:
        deps: Dependencies = request.app.state.deps
        log_sandbox_request(deps, session.scope, request, raw, response, trace_id, session.started)


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
