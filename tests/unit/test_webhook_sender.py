"""The webhook sender (``adapters/webhook_sender.py``, ADR 0022) against real receivers on
127.0.0.1: resolution checked before any connection, the connection made to the checked address
only (DNS rebinding), TLS still verified for the URL's host name, one deadline for the whole
attempt however slowly the receiver answers, and failures reported with generic reasons.

Names resolve through a patched ``socket.getaddrinfo``; everything else is real sockets."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from payintents.adapters.webhook_sender import HttpWebhookSender
from payintents.domain.intent import Environment

SANDBOX, PROD = Environment.SANDBOX, Environment.PRODUCTION
HEADERS = {"Content-Type": "application/json", "webhook-id": "evt_1"}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
PUBLIC = "93.184.216.34"


@dataclass
class Received:
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


@dataclass
class ScriptedReceiver:
    """Answers every request with ``answer``: after ``delay_s``, then byte by byte ``trickle_s``
    apart if set. Records what it read, how many connections it accepted, and the TLS SNI names."""

    answer: bytes = OK
    delay_s: float = 0.0
    trickle_s: float = 0.0
    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)

    def start(self) -> None:
        self._listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        self._listener.bind((self.host, 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                stream = self._wrap(conn)
                self.received.append(_read_request(stream))
                time.sleep(self.delay_s)
                if not self.trickle_s:
                    stream.sendall(self.answer)
                    return
                for byte in self.answer:
                    stream.sendall(bytes([byte]))
                    time.sleep(self.trickle_s)
            except (OSError, ValueError):
                return  # the sender hung up, or the TLS handshake failed

    def _wrap(self, conn: socket.socket) -> socket.socket:
        if self.tls is None:
            return conn
        self.tls.sni_callback = lambda sock, name, context: self.server_names.append(name)  # type: ignore[assignment]
        return self.tls.wrap_socket(conn, server_side=True)


def _read_request(stream: socket.socket) -> Received:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = stream.recv(65536)
        if not chunk:
            raise ValueError("closed before the headers ended")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(Received(head, b"").header("content-length") or 0)
    while len(body) < length:
        body += stream.recv(65536)
    return Received(head, body)


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    server = ScriptedReceiver()
    server.start()
    yield server
    server.stop()


@dataclass
class Resolver:
    """``socket.getaddrinfo``, answering from ``answers`` (a name's answers, one list per lookup;
    the last list repeats)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self.lookups.append(host)
        if host in ("127.0.0.1", "::1"):
            addresses = [host]
        elif host in self.answers:
            answers = self.answers[host]
            addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        else:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0))
            for a in addresses
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    fake = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


# Where the connection goes.


def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(
    receiver: ScriptedReceiver, resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers a public address when checked and loopback on any later lookup: the
    sender must connect to the public address it checked, never to the loopback receiver."""
    resolver.answers["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]
    connected_to: list[tuple[str, int]] = []
    real_create_connection = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] == PUBLIC:  # the public host is not reachable from the test machine
            connected_to.append(address)
            raise ConnectionRefusedError(111, "Connection refused")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    url = f"https://rebind.example.com:{receiver.port}/hook"
    result = HttpWebhookSender(timeout_s=2).send(url, b"{}", HEADERS, PROD)
    assert receiver.connections == 0, "the request went to the second answer (loopback)"
    assert connected_to == [(PUBLIC, receiver.port)]
    assert result.status_code is None and result.error == "connection failed"
    assert resolver.lookups == ["rebind.example.com"]


def test_the_host_name_is_kept_for_the_host_header(receiver: ScriptedReceiver, resolver: Resolver) -> None:
    resolver.answers["hooks.test"] = [["127.0.0.1"]]
    sender = HttpWebhookSender(timeout_s=2, sandbox_hosts=frozenset({"hooks.test"}))
    result = sender.send(f"http://hooks.test:{receiver.port}/in?x=1", b'{"a":1}', HEADERS, SANDBOX)
    assert result.status_code == 200 and result.error is None
    (request,) = receiver.received
    assert request.head.startswith(b"POST /in?x=1 HTTP/1.1\r\n") and request.body == b'{"a":1}'
    assert request.header("host") == f"hooks.test:{receiver.port}"
    assert request.header("webhook-id") == "evt_1"
    assert (request.header("user-agent") or "").startswith("payintents-webhooks/")


def test_an_ipv6_loopback_receiver_gets_a_bracketed_host_header() -> None:
    v6 = ScriptedReceiver(host="::1")
    v6.start()
    try:
        result = HttpWebhookSender(timeout_s=2).send(f"http://[::1]:{v6.port}/h", b"{}", HEADERS, SANDBOX)
    finally:
        v6.stop()
    assert result.status_code == 200
    assert v6.received[0].header("host") == f"[::1]:{v6.port}"


# TLS: the connection goes to the checked address, the certificate is checked for the host name.


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA, and a certificate it signed for hooks.test only (made with the openssl command)."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=payintents test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "hooks.key", "-out", "hooks.csr",
            "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test")  # fmt: skip
    openssl("x509", "-req", "-in", "hooks.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "hooks.pem", "-days", "2", "-copy_extensions", "copy")  # fmt: skip
    return folder


@pytest.fixture
def tls_receiver(certificates: Path) -> Iterator[ScriptedReceiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "hooks.pem", certificates / "hooks.key")
    server = ScriptedReceiver(tls=context)
    server.start()
    yield server
    server.stop()


def test_tls_is_verified_for_the_url_host_name_while_connecting_to_the_checked_address(
    tls_receiver: ScriptedReceiver, certificates: Path, resolver: Resolver
) -> None:
    resolver.answers["hooks.test"] = [["127.0.0.1"]]
    resolver.answers["other.test"] = [["127.0.0.1"]]
    trusting_the_test_ca = ssl.create_default_context(cafile=certificates / "ca.pem")
    sender = HttpWebhookSender(
        timeout_s=5, sandbox_hosts=frozenset({"hooks.test", "other.test"}), ssl_context=trusting_the_test_ca
    )
    good = sender.send(f"https://hooks.test:{tls_receiver.port}/", b"{}", HEADERS, SANDBOX)
    assert good.status_code == 200, good
    assert tls_receiver.server_names == ["hooks.test"] and len(tls_receiver.received) == 1
    # Same address, same certificate, but the URL names another host: the certificate is wrong.
    wrong = sender.send(f"https://other.test:{tls_receiver.port}/", b"{}", HEADERS, SANDBOX)
    assert (wrong.status_code, wrong.error) == (None, "connection failed")
    assert len(tls_receiver.received) == 1


# One deadline for the attempt.


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(receiver: ScriptedReceiver) -> None:
    """Each byte comes well within the timeout, so a per-read timeout never fires; the answer
    would take 50 × 0.25 s = 12.5 s. The attempt must end near its 1 s deadline instead."""
    receiver.answer, receiver.trickle_s = OK[:50], 0.25
    started = time.monotonic()
    result = HttpWebhookSender(timeout_s=1).send(
        f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX
    )
    elapsed_s = time.monotonic() - started
    assert elapsed_s < 5, f"the attempt took {elapsed_s:.1f} s with a 1 s timeout"
    assert (result.status_code, result.error) == (None, "timed out")


# What is reported.


def test_failures_are_reported_with_generic_reasons_not_raised(
    receiver: ScriptedReceiver, resolver: Resolver
) -> None:
    sender = HttpWebhookSender(timeout_s=1, sandbox_hosts=frozenset({"127.0.0.1", "missing.test"}))
    missing = sender.send("http://missing.test/", b"{}", HEADERS, SANDBOX)
    assert (missing.status_code, missing.error) == (None, "cannot resolve host")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the connection is refused
    refused = sender.send(f"http://127.0.0.1:{port}/", b"{}", HEADERS, SANDBOX)
    assert (refused.status_code, refused.error) == (None, "connection failed")
    receiver.answer = b"SSH-2.0-OpenSSH_9.2\r\n"  # something that is not HTTP
    not_http = sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX)
    assert (not_http.status_code, not_http.error) == (None, "connection failed")
    receiver.answer = b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
    failed = sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX)
    assert (failed.status_code, failed.error) == (500, "HTTP 500")
    receiver.delay_s = 3.0  # reads the request, then says nothing for longer than the timeout
    slow = sender.send(f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX)
    assert (slow.status_code, slow.error) == (None, "timed out")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    header: str, seconds: float | None, receiver: ScriptedReceiver
) -> None:
    receiver.answer = f"HTTP/1.1 503 Busy\r\nRetry-After: {header}\r\nContent-Length: 0\r\n\r\n".encode()
    result = HttpWebhookSender(timeout_s=2).send(
        f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX
    )
    assert result.status_code == 503 and result.retry_after_s == seconds


def test_redirects_are_not_followed(receiver: ScriptedReceiver) -> None:
    receiver.answer = (
        b"HTTP/1.1 307 Elsewhere\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
    )
    result = HttpWebhookSender(timeout_s=2).send(
        f"http://127.0.0.1:{receiver.port}/", b"{}", HEADERS, SANDBOX
    )
    assert (result.status_code, result.error) == (307, "HTTP 307") and receiver.connections == 1


# The receiver policy at send time.


@pytest.mark.parametrize("url", ["https://127.0.0.2/hook", "https://169.254.169.254/", "http://example.com/"])
def test_a_refused_url_never_reaches_the_network(url: str, resolver: Resolver) -> None:
    for environment in (SANDBOX, PROD):
        result = HttpWebhookSender(timeout_s=1).send(url, b"{}", HEADERS, environment)
        assert result.status_code is None and (result.error or "").startswith("refused")
    assert resolver.lookups == []


@pytest.mark.parametrize(
    "addresses", [["10.0.0.7"], ["169.254.169.254"], ["127.0.0.1"], ["::1"], [PUBLIC, "192.168.0.4"]]
)
@pytest.mark.parametrize("environment", [SANDBOX, PROD])
def test_a_public_name_resolving_to_a_private_address_is_refused_at_send_time(
    addresses: list[str], environment: Environment, resolver: Resolver, receiver: ScriptedReceiver
) -> None:
    resolver.answers["rebind.example.com"] = [addresses]
    url = f"https://rebind.example.com:{receiver.port}/hook"
    result = HttpWebhookSender(timeout_s=1).send(url, b"{}", HEADERS, environment)
    assert result.status_code is None and (result.error or "").startswith("refused")
    assert resolver.lookups == ["rebind.example.com"] and receiver.connections == 0


def test_sandbox_localhost_must_resolve_to_loopback_only(
    receiver: ScriptedReceiver, resolver: Resolver
) -> None:
    sender = HttpWebhookSender(timeout_s=1)
    resolver.answers["localhost"] = [["127.0.0.1"]]
    assert sender.send(f"http://localhost:{receiver.port}/h", b"{}", HEADERS, SANDBOX).status_code == 200
    resolver.answers["localhost"] = [["10.1.2.3"]]
    refused = sender.send(f"http://localhost:{receiver.port}/h", b"{}", HEADERS, SANDBOX)
    assert refused.status_code is None and receiver.connections == 1


def test_loopback_is_out_of_reach_when_the_setting_names_no_host(receiver: ScriptedReceiver) -> None:
    """PAYINTENTS_SANDBOX_WEBHOOK_HOSTS="" (a shared server): even subscriptions made before the
    setting changed reach nothing on the server's loopback."""
    sender = HttpWebhookSender(timeout_s=1, sandbox_hosts=frozenset())
    for url in (f"http://127.0.0.1:{receiver.port}/", f"http://localhost:{receiver.port}/"):
        result = sender.send(url, b"{}", HEADERS, SANDBOX)
        assert result.status_code is None and (result.error or "").startswith("refused")
    assert receiver.connections == 0


def test_a_named_sandbox_host_may_resolve_to_a_private_address(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Docker service name, say: the operator's own resolver answers for it, with a private
    address, and the sandbox sender connects there. Production keeps refusing it."""
    resolver.answers["receiver"] = [["172.18.0.5"]]
    connected_to: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected_to.append(address)
        raise ConnectionRefusedError(111, "Connection refused")  # no such network on the test machine

    monkeypatch.setattr(socket, "create_connection", create_connection)
    sender = HttpWebhookSender(timeout_s=1, sandbox_hosts=frozenset({"receiver"}))
    result = sender.send("http://receiver:8080/", b"{}", HEADERS, SANDBOX)
    assert result.error == "connection failed" and connected_to == [("172.18.0.5", 8080)]
    assert (sender.send("https://receiver/", b"{}", HEADERS, PROD).error or "").startswith("refused")
    assert connected_to == [("172.18.0.5", 8080)]
