"""Sending a ``Call``: headers, the retry policy, and turning error answers into typed errors.

Retry policy (stripe-python style, the same for both clients):

* a call that is safe to send twice — a read, ``PUT``/``PATCH``/``DELETE``, or a write carrying an
  idempotency key — is retried after connection failures, timeouts, 5xx answers, and 409 answers
  that carry ``Retry-After`` (a server saying "in flight, try again");
* any other call is retried only when the request certainly never arrived (connection refused) or
  the server said ``503`` or ``429`` + ``Retry-After`` (it did nothing and asks for a retry later:
  busy, or this key's rate limit);
* a 4xx rule break (400, 401, 403, 404, 405, a 409 without ``Retry-After``) is never retried;
* waits grow exponentially from ``backoff_s``, capped at ``max_backoff_s``, with jitter, and honour
  ``Retry-After`` up to ``MAX_RETRY_AFTER_S``.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from payintents_client._operations import Call
from payintents_client._version import __version__
from payintents_client.errors import ApiError, ConfigurationError, TransportError, error_class_for

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.dojo.tech"
DEFAULT_VERSION = "2024-02-05"
API_KEY_ENV = ("PAYINTENTS_API_KEY", "DOJO_API_KEY")
BASE_URL_ENV = "PAYINTENTS_BASE_URL"
MAX_RETRY_AFTER_S = 60.0
_VERSION_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: str
    base_url: str
    version: str
    timeout: float
    max_retries: int
    backoff_s: float
    max_backoff_s: float


def settings_from(
    api_key: str | None,
    base_url: str | None,
    version: str,
    timeout: float,
    max_retries: int,
    backoff_s: float,
    max_backoff_s: float,
) -> Settings:
    key = api_key or next((os.environ[name] for name in API_KEY_ENV if os.environ.get(name)), "")
    if not key.strip():
        raise ConfigurationError(
            f"no API key: pass api_key= or set {' or '.join(API_KEY_ENV)}", setting="api_key"
        )
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigurationError(
            f"base_url (or {BASE_URL_ENV}) must be an http(s) URL such as http://127.0.0.1:8000, not {url!r}",
            setting="base_url",
        )
    if not _VERSION_SHAPE.match(version):
        raise ConfigurationError(
            f"version must be a date like {DEFAULT_VERSION}, not {version!r}", setting="version"
        )
    if max_retries < 0:
        raise ConfigurationError("max_retries must be 0 or more")
    return Settings(key.strip(), url, version, timeout, max_retries, backoff_s, max_backoff_s)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context (CA bundle loaded, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured) for every
    client of the process: loading the bundle costs tens of milliseconds per client otherwise,
    which a test suite making a client per test pays on every test. A context is safe to share."""
    return httpx.create_ssl_context()


def default_headers(settings: Settings) -> dict[str, str]:
    return {
        "Authorization": f"Basic {settings.api_key}",
        "Version": settings.version,
        "Accept": "application/json",
        "User-Agent": f"payintents-client/{__version__} httpx/{httpx.__version__}",
    }


def epos_headers(software_house_id: str | None, reseller_id: str | None) -> dict[str, str]:
    """Dojo's terminal API wants the EPOS's ``software-house-id`` (and ``reseller-id``)."""
    named = {"software-house-id": software_house_id, "reseller-id": reseller_id}
    return {name: value for name, value in named.items() if value}


def request_arguments(call: Call[Any]) -> dict[str, Any]:
    headers: dict[str, str] = {}
    content: bytes | None = None
    if call.body is not None:
        content = json.dumps(call.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    if call.idempotency_key is not None:
        headers["IdempotencyKey"] = call.idempotency_key
    if call.authorization is not None:
        headers["Authorization"] = call.authorization
    return {
        "method": call.method,
        "url": call.path,
        "params": dict(call.params) if call.params else None,
        "content": content,
        "headers": headers,
    }


def retry_after_transport_error(call: Call[Any], exc: httpx.TransportError) -> bool:
    return isinstance(exc, _NOT_SENT) or call.replay_safe


def retry_after_answer(call: Call[Any], response: httpx.Response) -> bool:
    status = response.status_code
    asked = "retry-after" in response.headers
    if status in (429, 503) and asked:
        return True
    if not call.replay_safe:
        return False
    return status >= 500 or (status == 409 and asked)


def backoff_delay(settings: Settings, retry: int, response: httpx.Response | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (0-based)."""
    asked = _retry_after(response) if response is not None else None
    if asked is not None:
        return min(asked, MAX_RETRY_AFTER_S)
    ceiling = min(settings.max_backoff_s, settings.backoff_s * 2.0**retry)
    return ceiling * (0.5 + random.random() / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    waited: float = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, waited)


def parse_answer(call: Call[T], response: httpx.Response) -> T:
    """The parsed model of a 2xx answer (``None`` for an empty body)."""
    if not response.content:
        return call.parse(None)
    try:
        data = response.json()
    except ValueError:
        raise TransportError(
            f"{call.method} {call.path} answered {response.status_code} with a body that is not JSON",
            attempts=1,
        ) from None
    return call.parse(data)


def api_error(response: httpx.Response) -> ApiError:
    """Dojo's error body as a typed error; a body in another shape still gives status and title."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    data = body if isinstance(body, dict) else {}
    errors = data.get("errors")
    return error_class_for(response.status_code)(
        status=int(data.get("status") or response.status_code),
        title=str(data.get("title") or response.reason_phrase or "Error"),
        detail=data.get("detail") if isinstance(data.get("detail"), str) else None,
        errors=errors if isinstance(errors, dict) else None,
        trace_id=data.get("traceId") if isinstance(data.get("traceId"), str) else None,
        body=body,
    )


def transport_failure(call: Call[Any], exc: httpx.TransportError, attempts: int) -> TransportError:
    noun = "attempt" if attempts == 1 else "attempts"
    return TransportError(
        f"{call.method} {call.path} failed after {attempts} {noun}: {type(exc).__name__}: {exc}",
        attempts=attempts,
    )
