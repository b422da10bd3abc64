"""The HTTP/1.1 protocol ``payintents serve`` speaks: uvicorn's httptools one, with the limits a
shared server needs and Dojo's error body for every request it refuses before any route runs.

- A request line or header line over MAX_HEADER_LINE_BYTES, or a request head (request line plus
  headers) over MAX_HEAD_BYTES: 414 or 431. The head is counted as it arrives, so no more than the
  limit is ever buffered; a client sending a 200 MB header is cut off after 64 KiB.
- A request head not complete within ``header_timeout_s`` of its first byte (or of the
  connection's start): 408, or a plain close if nothing was sent. A body not complete within
  ``body_timeout_s`` of its head: 408 (or a close, when the answer has begun). Slow clients
  cannot hold a connection open for ever.
- More than ``max_connections`` connections open in this worker: the newest one's request gets
  503 with ``Retry-After``, and the connection is closed.
- Requests the parser cannot read (a header name with a ``;``, a Content-Length that is not a
  number, …): 400. uvicorn would answer these in plain text.

Each refusal closes the connection, as uvicorn does for the 400: the rest of the stream cannot
be trusted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any, cast

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from payintents.web.problems import new_trace_id, problem_response

# One request line or header line (name and value), in bytes. Browsers send lines of a few KiB
# at most; 16 KiB is what common proxies accept for one line.
MAX_HEADER_LINE_BYTES = 16 * 1024
# The whole request head: request line plus every header, in bytes.
MAX_HEAD_BYTES = 64 * 1024

MALFORMED_DETAIL = "The request is not valid HTTP/1.1: a header or the message framing is malformed."
HEAD_TOO_LARGE_DETAIL = (
    f"The request headers must be at most {MAX_HEAD_BYTES} bytes in all "
    f"and {MAX_HEADER_LINE_BYTES} bytes each."
)
URL_TOO_LONG_DETAIL = f"The request line must be at most {MAX_HEADER_LINE_BYTES} bytes."
TOO_SLOW_DETAIL = "The request was not received in time."
BUSY_DETAIL = "The server has too many open connections; retry shortly."


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How long a client may take to send a request, and how many connections a worker keeps."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000


def serving_protocol(limits: HttpLimits) -> type[asyncio.Protocol]:
    """What to pass uvicorn as ``http``: it makes each connection's protocol by calling this,
    so a partial with the limits serves as the class (and pickles into spawned workers)."""
    return cast(type[asyncio.Protocol], partial(DojoErrorHttpProtocol, limits=limits))


class _RequestRefusedError(Exception):
    """Raised from a parser callback to stop reading; ``status`` is the answer to send."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class DojoErrorHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, read timeouts, a connection limit, and
    Dojo's error body for whatever it refuses itself."""

    def __init__(self, *args: Any, limits: HttpLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or HttpLimits()
        self._reading_head = True
        self._head_bytes = 0
        self._reading_body = False
        self._read_deadline: asyncio.TimerHandle | None = None
        self._refusal: _RequestRefusedError | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a whole head is closed like one that stops halfway.
        self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._reading_head:
                self._feed(data)
                return
            allowance = MAX_HEAD_BYTES - self._head_bytes
            if allowance <= 0:
                self._refuse(431, HEAD_TOO_LARGE_DETAIL)
                return
            # Feed only what the head may still take; what follows is read once the head ends.
            head, data = data[:allowance], data[allowance:]
            self._head_bytes += len(head)
            self._feed(head)

    def _feed(self, data: bytes) -> None:
        if not data or self.transport.is_closing():
            return
        super().data_received(data)
        if self.transport.is_closing() or self._read_deadline is not None:
            return
        if self._reading_body or (self._reading_head and self._head_bytes):
            self._arm_read_deadline()

    # Parser callbacks
    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_HEADER_LINE_BYTES:
            self._stop_reading(414, URL_TOO_LONG_DETAIL)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_HEADER_LINE_BYTES:
            self._stop_reading(431, HEAD_TOO_LARGE_DETAIL)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_read_deadline()
        self._reading_head, self._reading_body = False, True
        if len(self.connections) <= self.limits.max_connections:
            super().on_headers_complete()
            return
        # One over the limit: this request is answered 503 by the normal request cycle (so its
        # body is read and dropped as usual), and the connection closes after it.
        app, self.app = self.app, _too_many_connections
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm_read_deadline()
        self._reading_head, self._head_bytes, self._reading_body = True, 0, False

    def _stop_reading(self, status: int, detail: str) -> None:
        # The parser turns this into an HttpParserError, which uvicorn answers with
        # send_400_response: that answers with this status instead.
        self._refusal = _RequestRefusedError(status, detail)
        raise self._refusal

    def send_400_response(self, msg: str) -> None:
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            self._refuse(400, MALFORMED_DETAIL)
        else:
            self._refuse(refusal.status, refusal.detail)

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self._waiting_for_an_answer():
            # Pipelined: what is read now waits behind an earlier request's answer, and reading
            # is paused meanwhile. It gets a whole timeout more each time this finds it waiting.
            self._arm_read_deadline()
            return
        answer_started = self._reading_body and self.cycle is not None and self.cycle.response_started
        if (self._reading_head and not self._head_bytes) or answer_started:
            self.transport.close()
            return
        if self._reading_body and self.cycle is not None:
            # The application waiting for the body now reads a disconnect; its answer is dropped.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self._refuse(408, TOO_SLOW_DETAIL)

    def _waiting_for_an_answer(self) -> bool:
        if self._reading_body:
            return bool(self.pipeline)
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` in Dojo's shape and close the connection."""
        problem = problem_response(status, new_trace_id(), detail=detail)
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode("ascii")]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: application/json",
            b"content-length: " + str(len(problem.body)).encode("ascii"),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(problem.body))
        self.transport.close()

    def _arm_read_deadline(self) -> None:
        """The head, or the body, must now arrive whole within its timeout."""
        self._disarm_read_deadline()
        limits = self.limits
        timeout_s = limits.header_timeout_s if self._reading_head else limits.body_timeout_s
        self._read_deadline = self.loop.call_later(timeout_s, self._read_timed_out)

    def _disarm_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None


async def _too_many_connections(scope: Scope, receive: Receive, send: Send) -> None:
    problem = problem_response(
        503, new_trace_id(), detail=BUSY_DETAIL, headers={"Retry-After": "1", "Connection": "close"}
    )
    await problem(scope, receive, send)
