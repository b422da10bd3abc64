"""Per-request observation: a traceId for every request, one JSON access-log line, metrics.

A pure ASGI middleware, so it sees every answer, including Starlette's own 404 and 405.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payintents.domain.card import mask_card_numbers
from payintents.web.metrics import LATENCY, REPLAYS, REQUESTS
from payintents.web.problems import CLIENT_CLOSED_REQUEST, new_trace_id

access_log = logging.getLogger("payintents.access")


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        trace_id = new_trace_id(headers.get("traceparent"))
        scope.setdefault("state", {})["trace_id"] = trace_id
        started = time.perf_counter()
        outcome: dict[str, object] = {"status": 500, "replayed": False}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                outcome["replayed"] = any(k.lower() == b"idempotent-replayed" for k, _ in message["headers"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except ClientDisconnect:
            # The client left while sending its request (a route that does not catch it, like the
            # dashboard's form reading): nothing to answer, and no server error.
            outcome["status"] = CLIENT_CLOSED_REQUEST
        finally:
            self._record(scope, trace_id, outcome, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, trace_id: str, outcome: dict[str, object], elapsed_s: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        method = scope["method"]
        REQUESTS.labels(method, template, str(outcome["status"])).inc()
        LATENCY.labels(method, template).observe(elapsed_s)
        if outcome["replayed"]:
            REPLAYS.inc()
        # The path only (never the query string), card numbers masked: a client may put one there.
        access_log.info(
            "%s %s %s",
            method,
            mask_card_numbers(scope["path"]),
            outcome["status"],
            extra={
                "traceId": trace_id,
                "method": method,
                "route": template,
                "status": outcome["status"],
                "durationMs": round(elapsed_s * 1000, 2),
                "replayed": outcome["replayed"],
            },
        )
