"""Sending one webhook over HTTP, to the addresses that were checked, within one deadline.

The host is resolved once and every address checked against the receiver policy
(``domain.webhook_urls``). The connection then goes to one of those addresses and nowhere else:
httpcore (httpx's transport layer) is given a network backend that ignores the host name for
connecting, so a DNS answer that changes between the check and the connection (DNS rebinding)
cannot move it. The host name still goes into TLS (SNI and certificate verification) and the
``Host`` header. Every wait of the attempt (connecting, TLS, sending, reading the answer) ends at
one deadline, ``timeout_s`` after the attempt began, however slowly the receiver trickles bytes.
No redirect is followed, and the answer's body is never read.

Failures are recorded with a generic reason (``connection failed``, ``timed out``, ``HTTP 500``),
never the operating system's error text, which would tell a merchant what listens where.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment
from payintents.domain.webhook_urls import (
    SANDBOX_LOCAL_HOSTS,
    IPAddress,
    check_receiver_url,
    check_resolved,
)
from payintents.service.ports import SendResult

USER_AGENT = "payintents-webhooks/1"
CONNECTION_FAILED = "connection failed"
TIMED_OUT = "timed out"
CANNOT_RESOLVE = "cannot resolve host"


class HttpWebhookSender:
    def __init__(
        self,
        timeout_s: float = 15.0,
        sandbox_hosts: frozenset[str] = SANDBOX_LOCAL_HOSTS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._sandbox_hosts = sandbox_hosts
        # Made once (loading the CA bundle takes a while): certifi's bundle, as httpx verifies.
        self._ssl_context = ssl_context or httpcore.default_ssl_context()

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        started = time.monotonic()
        deadline = Deadline(started + self._timeout_s)
        try:
            check_receiver_url(url, environment, self._sandbox_hosts)
            host = urlsplit(url).hostname or ""
            addresses = _resolve(host)
            check_resolved(host, addresses, environment, self._sandbox_hosts)
        except ValidationError as refused:
            return SendResult(None, 0, "refused: " + "; ".join(refused.errors.get("url", [])))
        except (OSError, ValueError):  # ValueError: UnicodeError from the IDNA codec
            return SendResult(None, _ms_since(started), CANNOT_RESOLVE)
        try:
            status, retry_after = self._post(url, addresses, deadline, body, headers)
        except httpcore.TimeoutException:
            return SendResult(None, _ms_since(started), TIMED_OUT)
        except (httpcore.NetworkError, httpcore.ProtocolError):  # refused, reset, TLS, not HTTP
            return SendResult(None, _ms_since(started), CONNECTION_FAILED)
        failure = None if 200 <= status < 300 else f"HTTP {status}"
        return SendResult(status, _ms_since(started), failure, _retry_after_s(retry_after))

    def _post(
        self,
        url: str,
        addresses: list[IPAddress],
        deadline: Deadline,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, str | None]:
        """The answer's status and Retry-After; raises httpcore's errors."""
        parts = urlsplit(url)
        sent_headers = [*headers.items(), ("User-Agent", USER_AGENT), ("Host", parts.netloc)]
        backend = PinnedBackend(addresses, deadline)
        # A pool of one connection per attempt: a connection is never reused for another attempt,
        # whose addresses may differ.
        with (
            httpcore.ConnectionPool(ssl_context=self._ssl_context, network_backend=backend) as pool,
            pool.stream("POST", url, headers=sent_headers, content=body) as response,
        ):
            return response.status, _header(response.headers, b"retry-after")


class Deadline:
    """The moment an attempt must be over, and the timeout each wait may still use."""

    def __init__(self, at: float) -> None:
        self.at = at

    def clamp(self, timeout: float | None, expired: type[httpcore.TimeoutException]) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise expired("the attempt's deadline has passed")
        return left if timeout is None else min(timeout, left)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses, whatever host httpcore asks for; every wait on the
    connection ends at the deadline."""

    def __init__(self, addresses: list[IPAddress], deadline: Deadline) -> None:
        self._addresses = addresses
        self._deadline = deadline
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._addresses:  # in the resolver's order, as a connection by name would
            try:
                wait_s = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
                stream = self._system.connect_tcp(str(address), port, wait_s, local_address, socket_options)
            except httpcore.ConnectError as refused:
                failure = refused
                continue
            return DeadlineStream(stream, self._deadline)
        raise failure or httpcore.ConnectError("no address to connect to")


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake waits at most until the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host name: SNI and certificate checks are for it, not the IP.
        wait_s = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait_s), self._deadline)

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


def _resolve(host: str) -> list[IPAddress]:
    """Every address of ``host``, in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(addresses))


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
