"""The sandbox request log: what a developer's integration sent and what it got back.

Card data is masked in the path, the query string and both bodies, on their decoded values
(``card_masking``); bodies are cut at MAX_BODY_CHARS. Writing the entry never
changes the answer: a failure to log is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from payintents.domain.card import mask_card_numbers
from payintents.domain.intent import Scope
from payintents.service.dependencies import Dependencies
from payintents.service.ports import RequestContext, RequestLogEntry, StoreBusyError
from payintents.service.sandbox import record_request
from payintents.web.card_masking import mask_body, mask_query

log = logging.getLogger("payintents.request_log")
MAX_BODY_CHARS = 65_536
# The columns' sizes: a longer path or key is cut, never a reason to lose the entry (PostgreSQL
# refuses an over-long value where SQLite would store it).
MAX_PATH_CHARS = 2048
MAX_KEY_CHARS = 200
# Reading the log is not itself worth logging.
UNLOGGED_PATHS = ("/sandbox/requests",)


def log_sandbox_request(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    request: Request,
    raw_body: bytes,
    response: Response,
    trace_id: str,
    started: float,
) -> None:
    if request.url.path in UNLOGGED_PATHS:
        return
    try:
        record_request(
            deps, scope, _entry(request, raw_body, response, trace_id, started, ctx.now(deps.clock))
        )
    except StoreBusyError:
        # Expected while the database is down or saturated; the answer itself went out fine.
        log.warning("sandbox request log skipped: the store is busy (traceId %s)", trace_id)
    except Exception:
        log.exception("could not write the sandbox request log (traceId %s)", trace_id)


def _entry(
    request: Request, raw_body: bytes, response: Response, trace_id: str, started: float, at: datetime
) -> RequestLogEntry:
    response_text = _text(bytes(response.body), response.headers.get("content-type", ""))
    query = request.url.query
    path = mask_card_numbers(request.url.path) + (f"?{mask_query(query)}" if query else "")
    key = request.headers.get("idempotencykey")
    return RequestLogEntry(
        trace_id=trace_id,
        at=at,
        method=request.method,
        path=path[:MAX_PATH_CHARS],
        status=response.status_code,
        duration_ms=int((time.perf_counter() - started) * 1000),
        idempotency_key=None if key is None else _storable(key)[:MAX_KEY_CHARS],
        replayed=response.headers.get("Idempotent-Replayed") == "true",
        payment_intent_id=_intent_id(request, response_text),
        request_body=_text(raw_body, request.headers.get("content-type", "")),
        response_body=response_text,
    )


def _text(body: bytes, content_type: str) -> str:
    return _storable(mask_body(body.decode("utf-8", errors="replace"), content_type))[:MAX_BODY_CHARS]


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL (a UTF-16 body is full of them, and a refused key may carry
    one): the log shows it as U+FFFD, as it shows bytes that are not UTF-8."""
    return text.replace("\x00", "\ufffd")


def _intent_id(request: Request, response_text: str) -> str | None:
    """The intent a request was about: from the path, else from the answer (create)."""
    from_path = request.path_params.get("paymentIntentId")
    if from_path:
        return str(from_path)[:64]
    try:
        answer = json.loads(response_text)
    except ValueError:
        return None
    if isinstance(answer, dict):
        for key in ("paymentIntentId", "id"):
            value = answer.get(key)
            if isinstance(value, str) and value.startswith("pi_"):
                return value[:64]
    return None
