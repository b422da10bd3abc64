"""Per-key rate limiting through the real app on both stores (ADR 0008), with the limiter's
monotonic clock under test control: 429 with ``Retry-After`` in Dojo's error shape, other keys
unaffected, a limited refund storing nothing and running no write statement, sandbox keys unlimited
by default, and 429 documented on every operation of /openapi.json."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from sqlalchemy import event
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import NewAccount, create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from payintents.web.rate_limit import RateLimit, RateLimiter
from tests.fakes import FakeMonotonic
from tests.support import Api

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


@dataclass
class LimitedServer:
    http: TestClient
    deps: Dependencies
    clock: FakeMonotonic
    # Every INSERT, UPDATE or DELETE the store has run so far.
    writes: list[str]

    def account(self, name: str = "merchant") -> NewAccount:
        return create_account(self.deps, name)


Serve = Callable[..., LimitedServer]


@pytest.fixture
def serve(database_url: str) -> Iterator[Serve]:
    """Start the app with the given production and sandbox limits and a fake monotonic clock."""
    with ExitStack() as stack:
        engine = make_engine(database_url, pool_size=2)
        stack.callback(engine.dispose)
        writes: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            if statement.lstrip().upper().startswith(WRITE_VERBS):
                writes.append(statement)

        deps = build_dependencies(Settings(database_url=database_url), engine=engine)
        event.listen(engine, "before_cursor_execute", record)

        def start(production: RateLimit | None = None, sandbox: RateLimit | None = None) -> LimitedServer:
            clock = FakeMonotonic()
            app = build_app(deps, rate_limiter=RateLimiter(production, sandbox, monotonic=clock))
            http = stack.enter_context(TestClient(app, base_url="http://testserver"))
            return LimitedServer(http, deps, clock, writes)

        yield start


def exhaust(api: Api) -> None:
    """Spend the key's tokens: cheap reads until the first 429."""
    for _ in range(1000):
        if api.get("/payment-intents/pi_missing").status_code == 429:
            return
    raise AssertionError("the key was never limited")


def test_over_the_limit_the_key_gets_429_with_retry_after_in_dojos_error_shape(serve: Serve) -> None:
    server = serve(production=RateLimit(0.5, 2))
    api = Api(server.http, server.account().prod_key)
    assert [api.get("/payment-intents/pi_missing").status_code for _ in range(2)] == [404, 404]
    limited = api.get("/payment-intents/pi_missing", traceparent=f"00-{'ab' * 16}-{'cd' * 8}-01")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"  # one token every 2 s
    assert limited.headers["content-type"] == "application/json"
    body = limited.json()
    assert list(body) == ["type", "title", "status", "detail", "traceId"]
    assert body["type"] == "https://tools.ietf.org/html/rfc6585#section-4"
    assert body["title"] == "Too Many Requests" and body["status"] == 429
    assert body["detail"] == "Too many requests with this API key; nothing was done. Retry in 2 s."
    assert body["traceId"].startswith(f"00-{'ab' * 16}-")
    server.clock.advance(1.5)
    assert api.get("/payment-intents/pi_missing").headers["Retry-After"] == "1"  # 0.5 s, rounded up
    server.clock.advance(0.5)
    assert api.get("/payment-intents/pi_missing").status_code == 404


def test_another_key_is_unaffected_while_one_is_limited(serve: Serve) -> None:
    server = serve(production=RateLimit(1, 1))
    noisy = Api(server.http, server.account("noisy").prod_key)
    quiet = Api(server.http, server.account("quiet").prod_key)
    exhaust(noisy)
    assert quiet.get("/payment-intents/pi_missing").status_code == 404
    assert noisy.get("/payment-intents/pi_missing").status_code == 429


def test_a_limited_refund_stores_nothing_and_leaves_its_key_unspent(serve: Serve) -> None:
    server = serve(production=RateLimit(1, 5))
    api = Api(server.http, server.account().prod_key)
    intent_id = api.captured_intent(1000)
    exhaust(api)
    # The key's last use is written off the request, in the background: written now, so that the
    # background writer cannot write it during the next request and be taken for it.
    assert server.deps.key_usage is not None
    server.deps.key_usage.flush()
    writes_before = len(server.writes)
    key = secrets.token_hex(8)
    refused = api.refund(intent_id, 400, key=key)
    assert refused.status_code == 429 and refused.json()["status"] == 429
    assert server.writes[writes_before:] == []  # nothing inserted, updated or deleted
    server.clock.advance(60)
    assert api.intent(intent_id)["refundedAmount"] == 0
    assert api.get(f"/payment-intents/{intent_id}/refunds").json()["data"] == []
    retried = api.refund(intent_id, 400, key=key)
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
    assert any("INSERT INTO refunds" in sql for sql in server.writes[writes_before:])  # the probe works
    assert api.intent(intent_id)["refundedAmount"] == 400


def test_sandbox_keys_are_unlimited_by_default(serve: Serve) -> None:
    server = serve(production=RateLimit(1, 1))
    account = server.account()
    sandbox = Api(server.http, account.sandbox_key)
    assert {sandbox.get("/payment-intents/pi_missing").status_code for _ in range(30)} == {404}
    exhaust(Api(server.http, account.prod_key))
    assert sandbox.get("/payment-intents/pi_missing").status_code == 404


def test_a_limited_sandbox_request_is_not_written_to_the_request_log(serve: Serve) -> None:
    server = serve(sandbox=RateLimit(1, 3))
    api = Api(server.http, server.account().sandbox_key)
    exhaust(api)  # 3 × 404, then the 429
    # The 404s' entries are written off the request, in batches: written now, so the background
    # writer cannot write them during the next request and be taken for it.
    assert server.deps.request_log is not None and server.deps.key_usage is not None
    server.deps.request_log.flush()
    server.deps.key_usage.flush()  # the same for the key's last use
    writes_before = len(server.writes)
    assert api.get("/payment-intents/pi_missing").status_code == 429
    assert server.writes[writes_before:] == []
    server.clock.advance(60)
    logged = api.get("/sandbox/requests").json()["data"]
    assert sorted(entry["status"] for entry in logged) == [404, 404, 404]


def test_the_limit_applies_after_authentication(serve: Serve) -> None:
    server = serve(production=RateLimit(1, 1))
    api = Api(server.http, server.account().prod_key)
    exhaust(api)
    assert Api(server.http, "sk_prod_unknown").get("/payment-intents/pi_missing").status_code == 401
    assert server.http.get("/payment-intents/pi_missing").status_code == 401


def test_every_api_operation_documents_429_with_retry_after(serve: Serve) -> None:
    server = serve(production=RateLimit(1, 1))
    document = server.http.get("/openapi.json").json()
    operations = [(path, op) for path, ops in document["paths"].items() for op in ops.values()]
    assert len(operations) >= 18
    for path, operation in operations:
        answer = operation["responses"]["429"]
        # Dojo's terminal API answers its own error shape (docs/api.md "Terminals").
        problem_name = "ProblemDetailsTerminals" if path.startswith("/terminal") else "Problem"
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{problem_name}"
        }
        assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    api = Api(server.http, server.account().prod_key)
    exhaust(api)
    problem = {"$ref": "#/components/schemas/Problem", "components": document["components"]}
    OAS30Validator(problem).validate(api.get("/payment-intents/pi_missing").json())
