"""A real, scriptable webhook receiver on 127.0.0.1 for the end-to-end and fault tests.

It records every request it reads (headers, raw body, the answer it chose) and can be switched at
any moment between answering 200, 500 or 410, sleeping past the sender's timeout, trickling a 200
out one byte at a time, and being down (listening socket closed, so connections are refused) — and
back up on the same port.

It also counts requests in flight and watches for concurrent deliveries of one event: a request
that arrives while another request with the same ``webhook-id`` is in flight counts as an overlap.
A request is in flight from when its body has been read until just before the last byte of its
answer's head is written: within the time the sender waits for that answer, so the receiver never
counts more requests at once than senders really had in flight. (Counting until after the write,
as it once did, let a sender that had its answer start its next request before the handler thread
got to its bookkeeping: a client sending one request at a time was counted as two, and two
dispatchers of 8 sends each once showed 17.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payintents.testbed.processes import free_port
from tests.support import Api

OK, ERROR, GONE, TIMEOUT, TRICKLE = "ok", "error", "gone", "timeout", "trickle"
ANSWERS = {OK: 200, ERROR: 500, GONE: 410, TRICKLE: 200}
TRICKLED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answer: str  # ok / error / gone / timeout / trickle
    arrived: float  # time.monotonic()
    overlapped: bool  # another request with the same webhook-id was in flight

    @property
    def status(self) -> int | None:
        return ANSWERS.get(self.answer)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for handlers sleeping through a "timeout"
    allow_reuse_address = True
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.receiver.handle(self, headers, body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class WebhookReceiver:
    """Start with ``running_receiver()``; ``url`` is stable across ``go_down()`` / ``come_up()``."""

    def __init__(self, *, timeout_sleep_s: float = 3.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.mode = OK
        self.delay_s = 0.0  # every answer waits this long (a slow receiver)
        self.timeout_sleep_s = timeout_sleep_s
        self.trickle_s = 1.0  # in TRICKLE mode, the pause before each byte of the answer
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._in_flight: Counter[str] = Counter()
        self.peak_in_flight = 0  # most requests handled at once, any event
        self._gate = threading.Event()  # while cleared, requests wait (hold() / release())
        self._gate.set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------------

    def come_up(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def go_down(self) -> None:
        """Close the listening socket: new connections are refused until ``come_up()``."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # handling ------------------------------------------------------------------------------------

    def handle(self, handler: _Handler, headers: dict[str, str], body: bytes) -> None:
        answer = self.mode
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            overlapped = self._in_flight[webhook_id] > 0
            self._in_flight[webhook_id] += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight.total())
            received = Received(handler.path, headers, body, answer, time.monotonic(), overlapped)
            self._requests.append(received)
        landed = threading.Event()  # set once this request no longer counts as in flight

        def land() -> None:
            with self._lock:
                if not landed.is_set():
                    landed.set()
                    self._in_flight[webhook_id] -= 1

        try:
            self._gate.wait(timeout=30)
            if self.delay_s:
                time.sleep(self.delay_s)
            self._answer(handler, answer, land)
        except OSError:
            pass  # the sender gave up on us
        finally:
            land()

    def _answer(self, handler: _Handler, answer: str, land: Callable[[], None]) -> None:
        """Write the answer; ``land()`` just before the last byte the sender waits for."""
        if answer == TIMEOUT:
            time.sleep(self.timeout_sleep_s)
            handler.close_connection = True
            return
        if answer == TRICKLE:
            handler.close_connection = True
            for byte in TRICKLED_ANSWER[:-1]:
                time.sleep(self.trickle_s)
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            land()
            handler.wfile.write(TRICKLED_ANSWER[-1:])
            return
        handler.send_response(ANSWERS[answer])
        handler.send_header("Content-Length", "0")
        handler.send_header("Connection", "close")  # no kept-alive socket outlives go_down()
        land()  # the head is still buffered: the sender cannot have its answer yet
        handler.end_headers()

    def hold(self) -> None:
        """Keep every request waiting (after it is recorded) until ``release()``."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    # what was received ---------------------------------------------------------------------------

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def delivered(self) -> list[Received]:
        """Requests answered with a 2xx, in arrival order."""
        return [r for r in self.requests() if r.answer == OK]

    def delivered_ids(self) -> Counter[str]:
        return Counter(r.webhook_id for r in self.delivered())

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight.total()

    def overlaps(self) -> int:
        return sum(1 for r in self.requests() if r.overlapped)

    def wait_for(self, expected_ids: set[str], timeout_s: float) -> set[str]:
        """Wait until every id in ``expected_ids`` was delivered; returns the ids still missing."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = expected_ids - set(self.delivered_ids())
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def wait_for_count(self, count: int, timeout_s: float) -> int:
        """Wait until ``count`` distinct events were delivered; returns how many were."""
        deadline = time.monotonic() + timeout_s
        while len(self.delivered_ids()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.delivered_ids())


@contextmanager
def running_receiver(*, timeout_sleep_s: float = 3.0) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(timeout_sleep_s=timeout_sleep_s)
    receiver.come_up()
    try:
        yield receiver
    finally:
        receiver.go_down()


# what a receiver does with a delivery -----------------------------------------------------------


def dojo_signature_ok(secret_value: str, body: bytes, header: str) -> bool:
    """Recompute ``dojo-signature`` as docs/webhooks.md defines it, independently of the server's code."""
    digest = hmac.new(secret_value.encode("utf-8"), body, hashlib.sha256).hexdigest()
    received = header.removeprefix("sha256=").replace("-", "").lower()
    return header.startswith("sha256=") and hmac.compare_digest(digest, received)


def standard_webhooks_ok(secret_value: str, received: Received) -> bool:
    """Verify with the independent ``standardwebhooks`` package (secret in its ``whsec_`` form)."""
    secret = "whsec_" + base64.b64encode(secret_value.encode("utf-8")).decode()
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    return True


def subscribe(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """Subscribe ``url`` for ``events`` (default: every event the server offers)."""
    if events is None:
        listed = api.get("/webhooks/events")
        assert listed.status_code == 200, listed.text
        catalogue = listed.json()
        events = [name for model in catalogue for name in model["events"]]
    response = api.post("/webhooks", {"events": events, "url": url, "description": "test receiver"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def deliveries(api: Api, subscription_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/webhooks/{subscription_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
