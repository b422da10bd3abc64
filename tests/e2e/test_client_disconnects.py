"""A client that disconnects while sending its body is a client abort, not a server error: no
500 in the metrics, no ERROR line or traceback in the log, on every kind of route."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from payintents.testbed.processes import free_port
from tests.e2e.raw_http import raw_connection
from tests.support import Api, migrate_database, running_server

pytestmark = pytest.mark.e2e


def _abort_mid_body(base_url: str, path: str, headers: dict[str, str]) -> None:
    """Announce 1000 bytes of body, send 10, close."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 1000"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with raw_connection(base_url) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"amount":')


def test_a_client_leaving_mid_body_is_no_server_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_port = free_port()
    monkeypatch.setenv("PAYINTENTS_METRICS_ADDRESS", f"127.0.0.1:{metrics_port}")
    url = f"sqlite:///{tmp_path / 'aborts.db'}"
    migrate_database(url)
    with running_server(url, tmp_path, workers=1) as server:
        key = server.new_account()["sandboxKey"]
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            intent_id = Api(client, key).captured_intent(1000)
            open_intent = Api(client, key).create_intent(1000)["id"]
        api_headers = {
            "Authorization": f"Basic {key}",
            "Version": "2024-02-05",
            "Content-Type": "application/json",
        }
        aborted = {
            "/payment-intents/search": api_headers,
            "/payment-intents": api_headers,
            f"/payment-intents/{intent_id}/refunds": {**api_headers, "idempotencyKey": "k1"},
            f"/checkout/{open_intent}/pay": {"Content-Type": "application/json"},
            "/dashboard/sign-in": {"Content-Type": "application/x-www-form-urlencoded"},
        }
        for path, headers in aborted.items():
            _abort_mid_body(server.base_url, path, headers)
        time.sleep(1)  # the server notices each disconnect as its connection closes
        assert server.log_problems() == []
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    statuses = re.findall(r'payintents_http_requests_total\{.*?status="(\d+)"\} ([0-9.]+)', text)
    assert not [s for s, _ in statuses if s.startswith("5")], text
    assert sum(float(n) for s, n in statuses if s == "499") == len(aborted), text
