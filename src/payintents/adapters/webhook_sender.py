"""Sending one webhook over HTTP with httpx, after checking where the host really points.

The host is resolved first and every address checked against the receiver policy
(``domain.webhook_urls``); only then is the request made, with no redirects followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment
from payintents.domain.webhook_urls import IPAddress, check_receiver_url, check_resolved
from payintents.service.ports import SendResult

USER_AGENT = "payintents-webhooks/1"


class HttpWebhookSender:
    def __init__(self, timeout_s: float = 15.0) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        started = time.perf_counter()
        try:
            check_receiver_url(url, environment)
            host = urlsplit(url).hostname or ""
            check_resolved(host, _resolve(host), environment)
        except ValidationError as refused:
            return SendResult(None, 0, "refused: " + "; ".join(refused.errors.get("url", [])))
        except (OSError, ValueError) as failure:  # ValueError: UnicodeError from the IDNA codec
            return SendResult(None, _ms_since(started), f"cannot resolve host: {failure}")
        try:
            # Only the status line and headers matter: the body is never read, so a receiver that
            # trickles out a long body cannot hold the dispatcher past its lease.
            with self._client.stream(
                "POST", url, content=body, headers={**headers, "User-Agent": USER_AGENT}
            ) as response:
                status, retry_after = response.status_code, response.headers.get("retry-after")
        except httpx.TimeoutException:
            return SendResult(None, _ms_since(started), "timed out")
        except (httpx.HTTPError, httpx.InvalidURL) as failure:
            return SendResult(None, _ms_since(started), f"{type(failure).__name__}: {failure}")
        return SendResult(status, _ms_since(started), None, _retry_after_s(retry_after))

    def close(self) -> None:
        self._client.close()


def _resolve(host: str) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


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
    return int((time.perf_counter() - started) * 1000)
