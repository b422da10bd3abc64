"""Helpers for the SDK's tests: start ``payintents serve``, pay intents through the sandbox checkout,
and a fault-injecting HTTP proxy that drops the answer to a chosen request."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from payintents.testbed.processes import free_port, stop
from payintents.testbed.readiness import wait_until_ready

from payintents_client import Client, Money

SUCCESS_CARD = {"cardNumber": "5200000000001005", "expiryDate": "12/29", "cvv": "020"}


@dataclass
class ServerUnderTest:
    base_url: str
    database_url: str
    api_key: str
    account_id: str
    log_path: Path


@contextmanager
def start_server(database_url: str, workdir: Path) -> Iterator[ServerUnderTest]:
    """``payintents serve`` on an empty database; it creates a demo account and prints its key."""
    port = free_port()
    log_path = workdir / "server.log"
    env = {**os.environ, "PAYINTENTS_DISPATCHER": "on"}
    command = [sys.executable, "-m", "payintents.cli", "serve", "--port", str(port)]
    command += ["--database", database_url, "--log-level", "warning"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process, log_path)
        log_text = log_path.read_text()
        key = re.search(r"Sandbox key \(shown once, keep it\): (sk_sandbox_\S+)", log_text)
        account = re.search(r"Created demo account (acc_[A-Za-z0-9_-]+)", log_text)
        if key is None or account is None:
            raise RuntimeError(f"no demo account in the server's welcome text:\n{log_text}")
        yield ServerUnderTest(f"http://127.0.0.1:{port}", database_url, key[1], account[1], log_path)
    finally:
        stop(process)


def pay(base_url: str, payment_intent_id: str) -> dict[str, object]:
    """Pay through the sandbox checkout with the success card (not part of Dojo's API, so not the SDK)."""
    response = httpx.post(f"{base_url}/checkout/{payment_intent_id}/pay", json=SUCCESS_CARD, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def captured_intent(client: Client, base_url: str, value: int = 1000, currency: str = "GBP") -> str:
    """An Auto intent paid with the success card: Captured for ``value``."""
    intent = client.payment_intents.create(Money(value, currency), "Order 234")
    assert pay(base_url, intent.id)["status"] == "Captured"
    return intent.id


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    dropped: bool


@dataclass
class FaultyProxy:
    """Forwards to ``upstream``; for requests ``drop_when`` picks (once each), it forwards the request
    but closes the connection instead of returning the answer: the server acted, the client never heard."""

    upstream: str
    drop_when: Callable[[str, str], bool]
    drops_left: int = 1
    seen: list[Seen] = field(default_factory=list)
    url: str = ""


@contextmanager
def faulty_proxy(
    upstream: str, drop_when: Callable[[str, str], bool], drops: int = 1
) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(upstream, drop_when, drops)
    lock = threading.Lock()
    forwarder = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            upstream_answer = forwarder.request(self.command, self.path, content=body, headers=headers)
            with lock:
                drop = proxy.drops_left > 0 and proxy.drop_when(self.command, self.path)
                if drop:
                    proxy.drops_left -= 1
                proxy.seen.append(Seen(self.command, self.path, self.headers.get("IdempotencyKey"), drop))
            if drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(upstream_answer.status_code)
            for name, value in upstream_answer.headers.items():
                if name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(upstream_answer.content)))
            self.end_headers()
            self.wfile.write(upstream_answer.content)

        def do_GET(self) -> None:
            self._relay()

        def do_POST(self) -> None:
            self._relay()

        def do_DELETE(self) -> None:
            self._relay()

        def do_PUT(self) -> None:
            self._relay()

        def do_PATCH(self) -> None:
            self._relay()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        forwarder.close()


# What a recording receiver got: each POST's headers (names lower-cased) and body.
Received = list[tuple[dict[str, str], bytes]]


@contextmanager
def recording_receiver(path: str = "/app-hooks") -> Iterator[tuple[str, Received]]:
    """A local app endpoint (its URL ends with ``path``) that records what is POSTed to it and
    answers 200."""
    received: Received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", received
    finally:
        server.shutdown()
        server.server_close()
