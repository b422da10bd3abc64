"""What a real ``payintents serve`` does with hostile or broken clients on a raw socket: request
heads that never end, clients that send slowly or not at all, too many connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from payintents.web.http_protocol import MAX_HEAD_BYTES, MAX_HEADER_LINE_BYTES
from tests.e2e.raw_http import parse_answer, raw_connection, read_until_closed, rss_bytes
from tests.support import RunningServer, migrate_database, running_server

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One worker (so the server's memory is one process's), with read timeouts of a second."""
    folder = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'limits.db'}"
    migrate_database(url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PAYINTENTS_HEADER_TIMEOUT_S", "1")
        monkeypatch.setenv("PAYINTENTS_BODY_TIMEOUT_S", "1")
        with running_server(url, folder, workers=1) as running:
            yield running


def _assert_dojo_problem(raw: bytes, status: int) -> None:
    answer = parse_answer(raw)
    assert answer.status == status, raw[:300]
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    problem = answer.json()
    assert problem["status"] == status and problem["detail"] and problem["traceId"].startswith("00-")


def _send_endless_header(sock: socket.socket, limit_bytes: int, deadline_s: float) -> int:
    """Send one header value of up to ``limit_bytes`` until the server stops taking it; the
    number of bytes it took."""
    sent = 0
    ends_at = time.monotonic() + deadline_s
    chunk = b"a" * MiB
    try:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        while sent < limit_bytes and time.monotonic() < ends_at:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:  # reset, broken pipe or timed out: the server stopped reading
        pass
    return sent


def test_a_200_mb_header_is_refused_after_the_limit_and_memory_stays_flat(server: RunningServer) -> None:
    rss_before = rss_bytes(server.process.pid)
    with raw_connection(server.base_url, timeout_s=5) as sock:
        sent = _send_endless_header(sock, 200 * MiB, deadline_s=30)
        answer = read_until_closed(sock)
    # What the server took is its 64 KiB plus what the two kernels' socket buffers hold.
    assert sent < 32 * MiB, f"the server kept reading: {sent} bytes"
    if answer:  # a reset may overtake the answer; when it arrives it is Dojo's 431
        _assert_dojo_problem(answer, 431)
    assert rss_bytes(server.process.pid) - rss_before < 32 * MiB
    assert httpx.get(f"{server.base_url}/health/live", timeout=5).status_code == 200
    assert server.log_problems() == []


def test_a_60_mb_header_does_not_stall_other_requests(server: RunningServer) -> None:
    with raw_connection(server.base_url, timeout_s=5) as sock:
        sender = threading.Thread(target=_send_endless_header, args=(sock, 60 * MiB, 30))
        sender.start()
        with httpx.Client(base_url=server.base_url, timeout=3) as client:
            answers = [client.get("/health/live").status_code for _ in range(20)]
        sender.join()
    assert answers == [200] * 20


def test_a_head_just_over_the_limit_gets_431_in_dojo_shape(server: RunningServer) -> None:
    headers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 8000) for i in range(MAX_HEAD_BYTES // 8000 + 1))
    with raw_connection(server.base_url) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
        _assert_dojo_problem(read_until_closed(sock), 431)


def test_one_header_line_over_16_kib_gets_431(server: RunningServer) -> None:
    line = b"X-Long: " + b"l" * MAX_HEADER_LINE_BYTES
    with raw_connection(server.base_url) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n" + line + b"\r\n\r\n")
        _assert_dojo_problem(read_until_closed(sock), 431)


def test_a_request_line_over_16_kib_gets_414(server: RunningServer) -> None:
    target = b"/health/live?q=" + b"q" * MAX_HEADER_LINE_BYTES
    with raw_connection(server.base_url) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _assert_dojo_problem(read_until_closed(sock), 414)


def test_heads_within_the_limits_are_served(server: RunningServer) -> None:
    headers = {f"X-Pad-{i}": "p" * 8000 for i in range(6)}  # 48 KiB of headers, 8 KiB lines
    response = httpx.get(f"{server.base_url}/health/live", headers=headers, timeout=5)
    assert response.status_code == 200


def test_half_sent_headers_get_408_after_the_header_timeout(server: RunningServer) -> None:
    with raw_connection(server.base_url) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        _assert_dojo_problem(read_until_closed(sock), 408)
    assert server.log_problems() == []


def test_a_connection_that_sends_nothing_is_closed(server: RunningServer) -> None:
    with raw_connection(server.base_url) as sock:
        assert read_until_closed(sock) == b""


def test_a_trickled_body_gets_408_after_the_body_timeout(server: RunningServer) -> None:
    key = server.new_account()["sandboxKey"]
    head = (
        "POST /payment-intents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Version: 2024-02-05\r\nAuthorization: Basic {key}\r\nContent-Length: 100\r\n\r\n"
    )
    with raw_connection(server.base_url) as sock:
        sock.sendall(head.encode() + b'{"amount"')
        closed_at = time.monotonic() + 15
        try:  # one more byte every 0.2 s: never idle for long, never done
            while time.monotonic() < closed_at:
                sock.sendall(b" ")
                time.sleep(0.2)
        except OSError:
            pass
        _assert_dojo_problem(read_until_closed(sock), 408)
    assert server.log_problems() == []


def test_over_the_connection_limit_a_request_gets_503_then_a_slot_frees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYINTENTS_MAX_CONNECTIONS", "2")
    url = f"sqlite:///{tmp_path / 'connections.db'}"
    migrate_database(url)
    with running_server(url, tmp_path, workers=1) as server:
        with raw_connection(server.base_url) as first, raw_connection(server.base_url) as _second:
            first.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert first.recv(65536).startswith(b"HTTP/1.1 200")
            with raw_connection(server.base_url) as third:
                third.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                raw = read_until_closed(third)
            _assert_dojo_problem(raw, 503)
            assert parse_answer(raw).headers["retry-after"] == "1"
        # Both idle connections closed: a new one is served.
        time.sleep(0.5)
        assert httpx.get(f"{server.base_url}/health/live", timeout=5).status_code == 200


def test_a_large_head_then_its_body_then_a_pipelined_request_are_all_read(server: RunningServer) -> None:
    """The head limit counts the head only: a body and a next request in the same packets as a
    48 KiB head are read as usual."""
    headers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 8000) for i in range(6))
    body = b"b" * 20_000
    first = b"POST /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000\r\n" + headers + b"\r\n"
    second = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with raw_connection(server.base_url) as sock:
        sock.sendall(first + body + second)
        raw = read_until_closed(sock)
    assert raw.startswith(b"HTTP/1.1 405 ") and raw.count(b"HTTP/1.1 ") == 2, raw[:500]
    assert b"HTTP/1.1 200 OK" in raw
