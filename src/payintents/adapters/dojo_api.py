"""A client of Dojo's REST API (the same paths payintents serves), for the gateway (ADR 0031).

Every call sends ``Authorization: Basic <the account's Dojo key>`` and ``version``; refunds also
send ``idempotencyKey`` (the only operation Dojo declares it on). Answers become typed results or
one of four errors (ADR 0032):

- ``DojoRefusedError``: Dojo answered 4xx, it did nothing; carries Dojo's ``detail``.
- ``DojoUnavailableError``: Dojo certainly did nothing: the connection was never made, or Dojo
  answered 502/503 (it could not reach its own processor) or refused our key (401/403).
- ``DojoOutcomeUnknownError``: the request may have been applied: the connection broke after it
  was sent, Dojo answered 500 or 504, or kept answering 429.
- a timeout (``httpx.TimeoutException`` from the read) is ``DojoOutcomeUnknownError`` too; the
  money path's own deadline usually ends the call first (its read timeout is set above it). So are
  a 2xx whose body is not in Dojo's documented shape (it may be a refund made), a 409 to a keyed
  refund (Dojo is still at work on that key, or has used it: it says nothing of the outcome), and
  a "nothing done" answer to a retry after an attempt that may have been applied.

Only idempotent calls are retried, a bounded number of times (reads, and refunds under their
key), and only when the answer was lost, ambiguous (500, 504, 429) or the connection failed.
The key never appears in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

API_VERSION = "2024-02-05"
# Attempts of a call that may be repeated (reads; refunds with their key), and the first pause.
ATTEMPTS = 3
FIRST_RETRY_PAUSE_S = 0.2
CONNECT_TIMEOUT_S = 5.0
# Dojo's answers where it certainly did nothing.
NOTHING_DONE = frozenset({401, 403, 502, 503})
# Dojo's answer to a request whose idempotency key it is still working on or has used.
KEY_CONFLICT = 409
T = TypeVar("T")


class DojoError(Exception):
    """Base of the client's errors; ``status`` is Dojo's HTTP status, None without an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DojoRefusedError(DojoError):
    """Dojo refused the request (4xx): nothing was done. ``str()`` is Dojo's own detail."""


class DojoUnavailableError(DojoError):
    """Dojo did nothing: unreachable, its processor failed (502/503), or it refused our key."""


class DojoOutcomeUnknownError(DojoError):
    """The request may have been applied at Dojo: its answer was lost or ambiguous."""


@dataclass(frozen=True, slots=True)
class DojoIntent:
    """A payment intent as Dojo answered it; ``body`` is the whole answer."""

    id: str
    status: str
    captured_amount: int
    refunded_amount: int
    body: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class DojoRefund:
    refund_id: str
    payment_intent_id: str
    body: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class DojoSubscription:
    id: str
    url: str
    events: list[str]
    body: dict[str, Any] = field(repr=False)


class DojoApi:
    """One account's Dojo: its base URL and key. ``read_timeout_s`` bounds a whole answer."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        read_timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
        self._transport = transport
        # One client per event loop, kept while its loop lives: a connection pool belongs to the
        # loop that opened it, and the server's requests and its housekeeping thread each run
        # on a loop of their own, at the same time.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"DojoApi({self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def create_intent(self, body: Mapping[str, Any], version: str = API_VERSION) -> DojoIntent:
        """Not retried: Dojo takes no idempotency key on creation."""
        return _read(_intent, await self._call("POST", "/payment-intents", body, version=version))

    async def get_intent(self, intent_id: str) -> DojoIntent:
        return _read(_intent, await self._call("GET", f"/payment-intents/{intent_id}", retried=True))

    async def cancel_intent(self, intent_id: str) -> DojoIntent:
        return _read(_intent, await self._call("DELETE", f"/payment-intents/{intent_id}"))

    async def refund(self, intent_id: str, body: Mapping[str, Any], idempotency_key: str) -> DojoRefund:
        """Retried with the same key: Dojo applies one refund per key."""
        path = f"/payment-intents/{intent_id}/refunds"
        answer = await self._call("POST", path, body, idempotency_key=idempotency_key, retried=True)
        return _read(_refund, answer)

    async def get_refund(self, refund_id: str) -> DojoRefund:
        return _read(_refund, await self._call("GET", f"/payment-intents/refunds/{refund_id}", retried=True))

    async def capture(self, intent_id: str, amount: int, tips_amount: int | None = None) -> str:
        body: dict[str, Any] = {"amount": amount}
        if tips_amount is not None:
            body["tipsAmount"] = tips_amount
        answer = await self._call("POST", f"/payment-intents/{intent_id}/captures", body)
        return _read(lambda named: str(named["captureId"]), answer)

    async def reverse(self, intent_id: str) -> str:
        answer = await self._call("POST", f"/payment-intents/{intent_id}/reversal")
        return _read(lambda named: str(named["reversalId"]), answer)

    async def subscribe(
        self, url: str, events: list[str], description: str | None = None
    ) -> DojoSubscription:
        body: dict[str, Any] = {"url": url, "events": events}
        if description is not None:
            body["description"] = description
        return _read(_subscription, await self._call("POST", "/webhooks", body))

    async def subscriptions(self) -> list[DojoSubscription]:
        answer = await self._call("GET", "/webhooks", retried=True)
        return [_read(_subscription, item) for item in answer] if isinstance(answer, list) else []

    async def unsubscribe(self, subscription_id: str) -> None:
        await self._call("DELETE", f"/webhooks/{subscription_id}")

    async def aclose(self) -> None:
        """Close the connections opened on the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    # --- the one request path -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        version: str = API_VERSION,
        idempotency_key: str | None = None,
        retried: bool = False,
    ) -> Any:
        """Dojo's JSON answer; retried (same key) on an answer that may be repeated safely."""
        headers = {"Authorization": f"Basic {self._key}", "version": version}
        if idempotency_key is not None:
            headers["idempotencyKey"] = idempotency_key
        content = None if body is None else json.dumps(body).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        pause_s, maybe_applied = FIRST_RETRY_PAUSE_S, False
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._once(method, path, content, headers)
            except DojoUnavailableError as failed:
                if maybe_applied:
                    # An earlier attempt may have been applied: this one not taken says nothing
                    # of it, and "nothing done" would have the caller send a new refund.
                    lost = f"{failed}, after an answer that was lost"
                    raise DojoOutcomeUnknownError(lost, failed.status) from None
                # Dojo's own "nothing done" answers (502, 503, 401, 403, a redirect) go back to
                # the caller, who retries with its key; a connection never made is tried again.
                if not retried or attempt == ATTEMPTS or failed.status is not None:
                    raise
            except DojoOutcomeUnknownError:
                maybe_applied = True
                if not retried or attempt == ATTEMPTS:
                    raise
            await asyncio.sleep(pause_s)
            pause_s *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _once(self, method: str, path: str, content: bytes | None, headers: dict[str, str]) -> Any:
        client = self._http()
        try:
            response = await client.request(method, path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise DojoUnavailableError(f"Dojo at {self._base_url} could not be reached") from None
        except httpx.TransportError as lost:
            # Sent, or partly: Dojo may have applied it. The exception's text names no header.
            raise DojoOutcomeUnknownError(f"Dojo's answer was lost ({type(lost).__name__})") from None
        return _answer(response, keyed="idempotencyKey" in headers)

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self._base_url, timeout=self._timeout, transport=self._transport
            )
            self._clients[loop] = client
        return client

    # --- for the mirror's refresh paths (ADR 0033) -----------------------------------------------

    async def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        """The intent's refunds, where the upstream lists them (payintents' extension,
        ``GET /payment-intents/{id}/refunds``; Dojo's own API has no such list: DojoRefusedError)."""
        answer = await self._call("GET", f"/payment-intents/{intent_id}/refunds", retried=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise DojoRefusedError("the upstream listed no refunds", 404)
        return [dict(item) for item in data]


def _answer(response: httpx.Response, *, keyed: bool) -> Any:
    status = response.status_code
    if 200 <= status < 300:
        return _read(lambda r: r.json() if r.content else None, response)
    detail = _detail(response)
    if keyed and status == KEY_CONFLICT:
        raise DojoOutcomeUnknownError(f"Dojo answered {status} for this idempotency key: {detail}", status)
    if status in NOTHING_DONE:
        text = "Dojo refused the gateway's key for this account" if status in (401, 403) else detail
        raise DojoUnavailableError(text, status)
    if 300 <= status < 400:
        # A redirect is an answer that the request was not carried out there (never followed:
        # the key would go wherever it points). Taken as "may be done" it would hold every
        # operation pending, and a pending operation keeps the URL from being corrected.
        where = response.headers.get("location", "elsewhere")
        raise DojoUnavailableError(
            f"the upstream URL redirects ({status} to {where}): set the account's upstream URL to "
            "Dojo's API address itself",
            status,
        )
    if 400 <= status < 500 and status != 429:
        raise DojoRefusedError(detail, status)
    raise DojoOutcomeUnknownError(f"Dojo answered {status}: {detail}", status)


def _detail(response: httpx.Response) -> str:
    """Dojo's error body in one line: its detail, else its field errors, else its title."""
    try:
        problem = response.json()
    except ValueError:
        return f"Dojo answered {response.status_code}"
    if not isinstance(problem, dict):
        return f"Dojo answered {response.status_code}"
    if problem.get("detail"):
        return str(problem["detail"])
    errors = problem.get("errors")
    if isinstance(errors, dict) and errors:
        return " ".join(str(m) for messages in errors.values() for m in messages)
    return str(problem.get("title") or f"Dojo answered {response.status_code}")


def _read(parse: Callable[[Any], T], answer: Any) -> T:
    """``answer`` parsed; one in a shape Dojo does not document may still be a success (a refund
    made), so it is an unknown outcome, never a refusal nor an error of another kind."""
    try:
        return parse(answer)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise DojoOutcomeUnknownError("Dojo's answer was not in the shape Dojo documents") from None


def _intent(answer: Any) -> DojoIntent:
    captured = sum(
        int(c.get("amount", 0)) + int(c.get("tipsAmount") or 0) for c in answer.get("captures") or []
    )
    if not captured and answer.get("status") in ("Captured", "Refunded"):
        captured = int(answer["totalAmount"]["value"])
    return DojoIntent(
        id=str(answer["id"]),
        status=str(answer["status"]),
        captured_amount=captured,
        refunded_amount=int(answer.get("refundedAmount") or 0),
        body=dict(answer),
    )


def _refund(answer: Any) -> DojoRefund:
    return DojoRefund(str(answer["refundId"]), str(answer.get("paymentIntentId", "")), dict(answer))


def _subscription(answer: Any) -> DojoSubscription:
    return DojoSubscription(
        str(answer["id"]), str(answer["url"]), list(answer.get("events") or []), dict(answer)
    )
