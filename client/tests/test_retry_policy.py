"""The retry policy and the error tree, through httpx's MockTransport (no network): what is retried,
what never is, that one logical refund keeps one idempotency key across retries, the headers every
call sends, and how error answers become typed errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from payintents_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    ValidationFailedError,
)

REFUND_OK = {
    "paymentIntentId": "pi_1",
    "refundId": "rfnd_1",
    "refundReason": None,
    "notes": None,
    "message": "m",
}
TRACE = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, detail: str | None = None, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"type": "https://tools.ietf.org/html/rfc7231", "title": "T", "status": status}
    if detail:
        body["detail"] = detail
    return {**body, **extra, "traceId": TRACE}


class Script:
    """Answers requests in order from a list of responses or exceptions, recording every request."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client_for(script: Script, max_retries: int = 2) -> Client:
    return Client(
        "sk_sandbox_test",
        base_url="http://api.test",
        transport=httpx.MockTransport(script),
        max_retries=max_retries,
        backoff_s=0.001,
    )


def ok(body: object = REFUND_OK, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_every_call_sends_basic_auth_the_pinned_version_and_json() -> None:
    script = Script(ok())
    client_for(script).refunds.create("pi_1", 1000, "Demo refund", "Duplicate transaction")
    request = script.requests[0]
    assert request.headers["Authorization"] == "Basic sk_sandbox_test"
    assert request.headers["Version"] == "2024-02-05"
    assert request.headers["Content-Type"] == "application/json"
    assert request.url.path == "/payment-intents/pi_1/refunds"
    assert json.loads(request.content) == {
        "amount": 1000,
        "refundReason": "Demo refund",
        "notes": "Duplicate transaction",
    }
    assert len(request.headers["IdempotencyKey"]) == 36  # a uuid4


def test_the_version_can_be_chosen_and_must_look_like_a_date() -> None:
    script = Script(ok())
    Client(
        "k", base_url="http://api.test", version="2026-02-27", transport=httpx.MockTransport(script)
    ).refunds.create("pi_1", 1)
    assert script.requests[0].headers["Version"] == "2026-02-27"
    with pytest.raises(ConfigurationError):
        Client("k", version="v3")


def test_no_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYINTENTS_API_KEY", raising=False)
    monkeypatch.delenv("DOJO_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PAYINTENTS_API_KEY"):
        Client()
    monkeypatch.setenv("DOJO_API_KEY", "sk_sandbox_from_env")
    assert Client().settings.api_key == "sk_sandbox_from_env"


def test_a_refund_retried_after_a_dropped_answer_keeps_its_one_idempotency_key() -> None:
    script = Script(httpx.RemoteProtocolError("server disconnected"), httpx.ReadTimeout("slow"), ok())
    refund = client_for(script).refunds.create("pi_1", 1000)
    assert refund.refund_id == "rfnd_1"
    keys = {r.headers["IdempotencyKey"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1


def test_two_logical_refunds_get_two_keys_and_a_callers_key_is_used_as_given() -> None:
    script = Script(ok(), ok(), ok())
    client = client_for(script)
    client.refunds.create("pi_1", 100)
    client.refunds.create("pi_1", 100)
    client.refunds.create("pi_1", 100, idempotency_key="656565gfyd65")
    keys = [r.headers["IdempotencyKey"] for r in script.requests]
    assert keys[0] != keys[1] and keys[2] == "656565gfyd65"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_keyed_writes(status: int) -> None:
    script = Script(ok(problem(status), status), ok())
    assert client_for(script).refunds.create("pi_1", 1000).refund_id == "rfnd_1"
    assert len(script.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 415])
def test_rule_breaks_are_never_retried(status: int) -> None:
    script = Script(ok(problem(status, "no"), status), ok())
    with pytest.raises(Exception) as raised:
        client_for(script).refunds.create("pi_1", 1000)
    assert getattr(raised.value, "status", None) == status
    assert len(script.requests) == 1


def test_a_409_with_retry_after_means_in_flight_and_is_retried() -> None:
    busy = httpx.Response(409, json=problem(409, "in flight"), headers={"Retry-After": "0"})
    script = Script(busy, ok())
    assert client_for(script).refunds.create("pi_1", 1000).refund_id == "rfnd_1"
    assert len({r.headers["IdempotencyKey"] for r in script.requests}) == 1


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("payintents_client._client.time.sleep", waits.append)
    busy = httpx.Response(503, json=problem(503), headers={"Retry-After": "1"})
    client_for(Script(busy, ok())).refunds.create("pi_1", 1000)
    assert waits == [1.0]


def test_backoff_grows_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("payintents_client._client.time.sleep", waits.append)
    script = Script(*(httpx.ConnectError("refused") for _ in range(6)))
    client = Client(
        "k",
        base_url="http://api.test",
        transport=httpx.MockTransport(script),
        max_retries=5,
        backoff_s=1.0,
        max_backoff_s=4.0,
    )
    with pytest.raises(TransportError) as raised:
        client.payment_intents.get("pi_1")
    assert raised.value.attempts == 6
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]  # doubling from backoff_s, capped at max_backoff_s
    assert len(waits) == len(ceilings)
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling  # jitter keeps at least half


def test_an_unkeyed_non_idempotent_write_is_not_resent_after_its_request_may_have_arrived() -> None:
    script = Script(httpx.ReadTimeout("slow"), ok())
    with pytest.raises(TransportError):
        client_for(script).webhooks.generate_secret("ws_1")
    assert len(script.requests) == 1


def test_an_unkeyed_write_is_resent_when_the_connection_was_refused_or_503_retry_after() -> None:
    secrets = {"id": "ws_1", "secrets": []}
    busy = httpx.Response(503, json=problem(503), headers={"Retry-After": "0"})
    script = Script(httpx.ConnectError("refused"), busy, ok(secrets))
    assert client_for(script).webhooks.generate_secret("ws_1").id == "ws_1"
    assert len(script.requests) == 3


def test_a_429_with_retry_after_is_waited_out_and_retried_even_for_an_unkeyed_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr("payintents_client._client.time.sleep", waits.append)
    limited = httpx.Response(429, json=problem(429, "Too many requests"), headers={"Retry-After": "3"})
    script = Script(limited, ok({"id": "ws_1", "secrets": []}))
    assert client_for(script).webhooks.generate_secret("ws_1").id == "ws_1"
    assert len(script.requests) == 2 and waits == [3.0]


def test_a_429_becomes_a_rate_limited_error_when_retries_run_out_or_no_retry_after_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("payintents_client._client.time.sleep", lambda _s: None)
    limited = [httpx.Response(429, json=problem(429), headers={"Retry-After": "1"}) for _ in range(3)]
    script = Script(*limited)
    with pytest.raises(RateLimitedError) as raised:
        client_for(script, max_retries=2).refunds.create("pi_1", 1000)
    assert raised.value.status == 429 and len(script.requests) == 3
    assert len({r.headers["IdempotencyKey"] for r in script.requests}) == 1
    bare = Script(ok(problem(429), 429), ok())
    with pytest.raises(RateLimitedError):
        client_for(bare).payment_intents.get("pi_1")
    assert len(bare.requests) == 1


def test_retries_stop_at_max_retries_with_the_last_error() -> None:
    script = Script(*(ok(problem(503, "busy"), 503) for _ in range(3)))
    with pytest.raises(ServiceUnavailableError, match="busy"):
        client_for(script, max_retries=2).payment_intents.get("pi_1")
    assert len(script.requests) == 3


def test_error_bodies_become_typed_errors_with_detail_field_errors_and_trace_id() -> None:
    body = problem(400, errors={"amount": ["The amount must be a positive integer."]})
    with pytest.raises(ValidationFailedError) as raised:
        client_for(Script(ok(body, 400))).refunds.create("pi_1", 1)
    error = raised.value
    assert error.status == 400 and error.trace_id == TRACE
    assert error.errors == {"amount": ["The amount must be a positive integer."]}
    assert str(error) == f"400 T [amount: The amount must be a positive integer.] (traceId {TRACE})"
    for status, kind in [(401, AuthenticationError), (404, NotFoundError), (409, ConflictError)]:
        with pytest.raises(kind):
            client_for(Script(ok(problem(status), status))).payment_intents.get("pi_1")


def test_an_error_answer_that_is_not_json_still_gives_status_and_title() -> None:
    script = Script(*(httpx.Response(502, text="<html>bad gateway</html>") for _ in range(3)))
    with pytest.raises(ServerError) as raised:
        client_for(script).payment_intents.get("pi_1")
    assert raised.value.status == 502 and raised.value.title == "Bad Gateway"
    assert raised.value.body == "<html>bad gateway</html>"


def test_ids_are_escaped_into_the_path() -> None:
    script = Script(ok(problem(404), 404))
    with pytest.raises(NotFoundError):
        client_for(script).refunds.get("../webhooks")
    assert script.requests[0].url.raw_path == b"/payment-intents/refunds/..%2Fwebhooks"


def test_the_async_client_follows_the_same_policy() -> None:
    script = Script(httpx.RemoteProtocolError("dropped"), ok(problem(500), 500), ok())

    async def run() -> str:
        async with AsyncClient(
            "k", base_url="http://api.test", transport=httpx.MockTransport(script), backoff_s=0.001
        ) as client:
            return (await client.refunds.create("pi_1", 1000)).refund_id

    assert asyncio.run(run()) == "rfnd_1"
    assert len({r.headers["IdempotencyKey"] for r in script.requests}) == 1 and len(script.requests) == 3


def _tls_context(client: Client | AsyncClient) -> object:
    return client._http._transport._pool._ssl_context  # type: ignore[union-attr]


def test_clients_share_one_tls_context_instead_of_loading_the_ca_bundle_each() -> None:
    """A suite that makes a client per test (the pytest plugin's ``payintents``) paid tens of
    milliseconds per client for the CA bundle; now the process loads it once."""
    first = Client("sk_sandbox_x", base_url="https://api.dojo.tech")
    second = Client("sk_sandbox_x", base_url="http://127.0.0.1:8000")
    third = AsyncClient("sk_sandbox_x")
    assert _tls_context(first) is _tls_context(second) is _tls_context(third)
    first.close()
    second.close()
    asyncio.run(third.aclose())
