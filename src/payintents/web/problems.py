"""Dojo's error body and the one table that maps failures to HTTP statuses.

Body: ``{type, title, status, detail?, errors?, traceId}`` as ``application/json`` (docs/api.md,
"Errors"). Nothing from an exception except a domain error's own ``detail`` ever reaches it.
"""

from __future__ import annotations

import json
import logging
import secrets
from http import HTTPStatus
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from payintents.domain.errors import (
    DomainError,
    IdempotencyConflictError,
    NotAllowedError,
    NotFoundError,
    RuleBrokenError,
    StateConflictError,
    ValidationError,
)
from payintents.domain.terminal import SessionStateError
from payintents.service.ports import (
    ConcurrentUpdateError,
    MailUnavailableError,
    ProcessorDeclinedError,
    ProcessorOutcomeUnknownError,
    ProcessorTimeoutError,
    ProcessorUnavailableError,
    StoreBusyError,
)
from payintents.web.rate_limit import RateLimitedError

log = logging.getLogger("payintents.web")

_TYPE_SECTIONS = {
    400: "rfc7231#section-6.5.1",
    401: "rfc7235#section-3.1",
    403: "rfc7231#section-6.5.3",
    404: "rfc7231#section-6.5.4",
    405: "rfc7231#section-6.5.5",
    408: "rfc7231#section-6.5.7",
    409: "rfc7231#section-6.5.8",
    413: "rfc7231#section-6.5.11",
    414: "rfc7231#section-6.5.12",
    415: "rfc7231#section-6.5.13",
    422: "rfc4918#section-11.2",
    429: "rfc6585#section-4",
    431: "rfc6585#section-5",
    500: "rfc7231#section-6.6.1",
    502: "rfc7231#section-6.6.3",
    503: "rfc7231#section-6.6.4",
    504: "rfc7231#section-6.6.5",
}

# The error table: each expected failure type and the status it answers with.
STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (ValidationError, 400),
    (RuleBrokenError, 400),
    (NotFoundError, 404),
    (NotAllowedError, 405),
    (StateConflictError, 409),
    # A terminal session in the wrong state for cancel or signature: Dojo declares 422.
    (SessionStateError, 422),
    (IdempotencyConflictError, 409),
    (ConcurrentUpdateError, 409),
    # Dojo documents no decline status for refunds or captures; 400 with a detail is what an
    # integration would get for any refused request, and 502 says "upstream failed, retry".
    (ProcessorDeclinedError, 400),
    (ProcessorTimeoutError, 504),
    (ProcessorUnavailableError, 502),
    (ProcessorOutcomeUnknownError, 502),
    (MailUnavailableError, 502),
    (RateLimitedError, 429),
    (StoreBusyError, 503),
)

RETRY_AFTER_S = 1
# nginx's "client closed request": the client went away before its request was read whole. The
# answer reaches nobody; the status is for the access log and metrics, and is no server error.
CLIENT_CLOSED_REQUEST = 499


class RequestRefusedError(Exception):
    """A failure found by the HTTP layer itself (auth, headers, body shape)."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or "")
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def new_trace_id(traceparent: str | None = None) -> str:
    """W3C traceparent shape; keeps the caller's trace id when it sent a valid traceparent."""
    trace = secrets.token_hex(16)
    if traceparent:
        parts = traceparent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and _is_hex(parts[1]) and parts[1] != "0" * 32:
            trace = parts[1].lower()
    return f"00-{trace}-{secrets.token_hex(8)}-01"


def trace_id_of(request: Request) -> str:
    """The traceId the observing middleware gave this request (or a new one without it)."""
    trace_id = getattr(request.state, "trace_id", None)
    return trace_id if isinstance(trace_id, str) else new_trace_id(request.headers.get("traceparent"))


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def problem_response(
    status: int,
    trace_id: str,
    *,
    detail: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title = "One or more validation errors occurred." if errors else HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"https://tools.ietf.org/html/{_TYPE_SECTIONS.get(status, 'rfc7231#section-6.5.1')}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body["traceId"] = trace_id
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status, headers=headers, media_type="application/json")


def response_for_exception(exc: BaseException, trace_id: str) -> Response:
    """Turn any exception into Dojo's error body; unknown ones are logged and answer 500."""
    if isinstance(exc, ClientDisconnect):
        return client_closed_response()
    if isinstance(exc, RequestRefusedError):
        return problem_response(
            exc.status, trace_id, detail=exc.detail, errors=exc.errors, headers=exc.headers
        )
    status = expected_status(exc)
    if status is not None:
        return _expected(exc, status, trace_id)
    log.exception("unexpected failure (traceId %s)", trace_id, exc_info=exc)
    return problem_response(500, trace_id, detail="An unexpected error occurred.")


def expected_status(exc: BaseException) -> int | None:
    """The status of an expected failure (the error table), or None for anything else."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return None


def client_closed_response() -> Response:
    """The answer to a request whose client disconnected while sending it (sent to nobody)."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def _expected(exc: BaseException, status: int, trace_id: str) -> Response:
    if isinstance(exc, StoreBusyError):
        return problem_response(
            503,
            trace_id,
            detail=(
                "The service is busy; retry shortly with the same idempotency key. "
                "A request sent without one may or may not have been applied: check before resending."
            ),
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, RateLimitedError):
        return problem_response(
            429,
            trace_id,
            detail=f"Too many requests with this API key; nothing was done. Retry in {exc.retry_after_s} s.",
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if isinstance(exc, ConcurrentUpdateError):
        retry = "The payment intent changed while this request ran; read it again and retry."
        return problem_response(409, trace_id, detail=retry)
    errors = exc.errors if isinstance(exc, ValidationError) else None
    detail: str | None = exc.detail if isinstance(exc, DomainError) else str(exc)
    if isinstance(exc, ValidationError) and detail == "One or more validation errors occurred.":
        detail = None
    return problem_response(status, trace_id, detail=detail, errors=errors)
