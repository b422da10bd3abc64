"""The workaround docs/webhooks.md gives Dojo's PHP SDK (whose ``Subscription`` model insists on
``https://``): a sandbox subscription to an ``https://localhost`` receiver with a self-signed
certificate, which a real ``payintents serve`` started with ``SSL_CERT_FILE`` naming that
certificate delivers to. Negative control: a listener subscription of the same server to a
receiver whose self-signed certificate nobody trusts gets no delivery, only a failed attempt."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support import Api, running_server

pytestmark = pytest.mark.e2e


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def https_receiver(cert: Path, key: Path) -> Iterator[tuple[int, list[dict[str, object]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.bodies  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_a_self_signed_https_receiver_the_server_trusts_gets_the_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusted_cert, trusted_key = self_signed(tmp_path, "trusted")
    other_cert, other_key = self_signed(tmp_path, "untrusted")
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted_cert))
    with (
        https_receiver(trusted_cert, trusted_key) as (port, bodies),
        https_receiver(other_cert, other_key) as (other_port, other_bodies),
        running_server(f"sqlite:///{tmp_path / 'tls.db'}", tmp_path, workers=1) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        api = Api(client, server.new_account()["sandboxKey"])
        # As Dojo's PHP SDK sends a CreateSubscriptionRequest: events, url, description.
        url = f"https://localhost:{port}/dojo/webhooks"
        subscribed = api.post("/webhooks", {"events": ["payment_intent.created"], "url": url})
        assert subscribed.status_code == 200, subscribed.text
        untrusted = {"events": ["payment_intent.created"], "url": f"https://localhost:{other_port}/hooks"}
        listener = api.post("/webhooks", {**untrusted, "listener": True})
        assert listener.status_code == 200, listener.text
        intent_id = api.create_intent(1000)["id"]
        deadline = time.monotonic() + 30
        while not bodies and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [body["event"] for body in bodies] == ["payment_intent.created"]
        assert bodies[0]["data"]["paymentIntentId"] == intent_id  # type: ignore[index]
        attempts: list[object] = []
        while not attempts and time.monotonic() < deadline:
            time.sleep(0.2)
            listed = api.get(f"/webhooks/{listener.json()['id']}/deliveries").json()["data"]
            attempts = listed[0]["attempts"] if listed else []
        assert attempts and other_bodies == [], attempts
