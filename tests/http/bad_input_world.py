"""The shared world of the bad-input catalogue, how a row is sent, and the checks every row makes.

One world per backend and test module: two accounts and a handful of intents in known states, so
each hostile request can aim at a state where a well-formed request would succeed (or fail for a
reason the row names). The checks: Dojo's error shape, no internals leaked, and a database whose
every table (the sandbox request log aside, see ``request_log_since``) reads the same afterwards.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import api_keys, metadata, sandbox_requests
from payintents.bootstrap import Settings, build_dependencies, migrate
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.support import Api

# Keys the setup spends, so rows can reuse them on purpose.
KEY_REFUNDED_ON_A = "used-on-A"
KEY_CAPTURED_ON_M = "used-on-M"
REFUND_ON_A = 100
CAPTURE_ON_M = 300


@dataclass
class World:
    """A running app on one migrated database, and the names rows use for its objects.

    ids: A Auto Captured 1000 with one refund of 100 (key KEY_REFUNDED_ON_A); M Manual, 300 of 1000
    captured (key KEY_CAPTURED_ON_M) and capturable; B fully refunded; C canceled; U Created (not
    paid); X another account's captured intent; P this account's production captured intent;
    R the refund id of A's refund. Terminals: T free, TB busy with the open sale session S (of a
    Created intent of its own), TX another account's; SD a finished (Captured) unlinked refund.
    """

    client: TestClient
    engine: Engine
    deps: Dependencies
    keys: dict[str, str]
    ids: dict[str, str]

    def flush_request_log(self) -> None:
        """Write the app's waiting request-log entries, so the table shows every request so far."""
        if self.deps.request_log is not None:
            self.deps.request_log.flush()

    def last_logged_id(self) -> int:
        self.flush_request_log()
        return last_logged_id(self.engine)

    def request_log_since(self, last_id: int) -> list[tuple[int, str]]:
        """(status, traceId) of each request-log entry written after ``last_id``."""
        self.flush_request_log()
        return request_log_since(self.engine, last_id)


@contextmanager
def running_world(database_url: str) -> Iterator[World]:
    migrate(Settings(database_url=database_url))
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine)
    try:
        with TestClient(build_app(deps), base_url="http://testserver") as client:
            merchant = create_account(deps, "merchant")
            other = create_account(deps, "other")
            keys = {"sandbox": merchant.sandbox_key, "prod": merchant.prod_key, "other": other.sandbox_key}
            ids = _make_intents(Api(client, merchant.sandbox_key), Api(client, merchant.prod_key))
            ids["X"] = Api(client, other.sandbox_key).captured_intent()
            ids.update(
                _make_terminal_sessions(Api(client, merchant.sandbox_key), Api(client, other.sandbox_key))
            )
            yield World(client, engine, deps, keys, ids)
    finally:
        engine.dispose()


def _make_intents(api: Api, prod: Api) -> dict[str, str]:
    ids = {"A": api.captured_intent(), "B": api.captured_intent(), "P": prod.captured_intent()}
    refunded = api.refund(ids["A"], REFUND_ON_A, key=KEY_REFUNDED_ON_A)
    assert refunded.status_code == 200, refunded.text
    ids["R"] = refunded.json()["refundId"]
    assert api.refund(ids["B"], 1000).status_code == 200
    ids["M"] = api.create_intent(captureMode="Manual")["id"]
    assert api.pay(ids["M"]).json()["status"] == "Authorized"
    captured = api.post(
        f"/payment-intents/{ids['M']}/captures", {"amount": CAPTURE_ON_M}, IdempotencyKey=KEY_CAPTURED_ON_M
    )
    assert captured.status_code == 200, captured.text
    ids["C"] = api.create_intent()["id"]
    assert api.client.delete(f"/payment-intents/{ids['C']}", headers=api.headers()).status_code == 200
    ids["U"] = api.create_intent()["id"]
    return ids


EPOS_HEADERS = {"software-house-id": "softwareHouse1"}


def _make_terminal_sessions(api: Api, other: Api) -> dict[str, str]:
    def epos(method: str, path: str, body: Any = None, on: Api = api) -> Any:
        answer = on.client.request(method, path, json=body, headers={**on.headers(), **EPOS_HEADERS})
        assert answer.status_code == 200, answer.text
        return answer.json()

    free, busy = (terminal["id"] for terminal in epos("GET", "/terminals"))
    sale = {"sessionType": "Sale", "sale": {"paymentIntentId": api.create_intent()["id"]}}
    open_sale = epos("POST", "/terminal-sessions", {"terminalId": busy, "details": sale})["id"]
    refund = {
        "sessionType": "UnlinkedRefund",
        "unlinkedRefund": {"amount": {"value": 100, "currencyCode": "GBP"}},
    }
    done = epos("POST", "/terminal-sessions", {"terminalId": free, "details": refund})["id"]
    epos("POST", f"/sandbox/terminal-sessions/{done}/present-card", {"outcome": "Approved"})
    foreign = epos("GET", "/terminals", on=other)[0]["id"]
    return {"T": free, "TB": busy, "TX": foreign, "S": open_sale, "SD": done}


def money_and_state(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table in the schema, in a stable order, except what records that a
    request came (good or bad): the sandbox request log, and when each API key was last used
    (written in the background, once a minute: service/key_usage.py)."""
    state: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table is sandbox_requests:
                continue
            columns = [c for c in table.columns if c is not api_keys.c.last_used_at]
            state[table.name] = sorted(repr(tuple(row)) for row in conn.execute(select(*columns)))
    return state


def last_logged_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(sandbox_requests.c.id), 0))).scalar_one())


def request_log_since(engine: Engine, last_id: int) -> list[tuple[int, str]]:
    """(status, traceId) of each request-log entry written after ``last_id``."""
    log = sandbox_requests.c
    query = select(log.status, log.trace_id).where(log.id > last_id).order_by(log.id)
    with engine.connect() as conn:
        return [(int(status), str(trace_id)) for status, trace_id in conn.execute(query)]


_TRACE_ID = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")
_TYPE_SECTIONS = {
    400: "6.5.1",
    401: "3.1",
    404: "6.5.4",
    405: "6.5.5",
    409: "6.5.8",
    413: "6.5.11",
    415: "6.5.13",
}
_MEMBERS = {"type", "title", "status", "detail", "errors", "traceId"}


def check_problem(response: httpx.Response) -> dict[str, Any]:
    """Dojo's (ASP.NET problem details) error body, as docs/api.md "Errors" describes it."""
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) <= _MEMBERS, body
    status = response.status_code
    rfc = "rfc7235#section-" if status == 401 else "rfc7231#section-"
    assert body["type"] == f"https://tools.ietf.org/html/{rfc}{_TYPE_SECTIONS[status]}", body
    assert body["status"] == status and _TRACE_ID.fullmatch(body["traceId"]), body
    errors = body.get("errors")
    if errors is None:
        assert body["title"] == HTTPStatus(status).phrase, body
    else:
        assert body["title"] == "One or more validation errors occurred.", body
        assert errors and all(
            isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages)
            for messages in errors.values()
        ), body
    assert "detail" not in body or (isinstance(body["detail"], str) and body["detail"]), body
    return body


# What must never reach a caller: tracebacks, exception class names, SQL, driver names, file paths.
_LEAKS = re.compile(
    r"Traceback|File \"|\bline \d+\b|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|sqlalchemy|psycopg|sqlite"
    r"|\bSELECT\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bWHERE\b|\.py\b|site-packages"
    r"|/(?:work|usr|home|tmp|opt|var|root)/|[A-Za-z]:\\\\",
)


def find_leak(response: httpx.Response, sent_path: str) -> str | None:
    """The first internal detail in the body. The 404 detail echoes the request's own path,
    which the caller chose; that echo is removed first."""
    text = response.text.replace(sent_path, "")
    found = _LEAKS.search(text)
    return None if found is None else found.group(0)


Auth = str | Callable[[dict[str, str]], str] | None


def j(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Row:
    """One hostile request and the refusal it must get.

    ``target`` names an intent of the world (see World); ``path`` replaces the whole path. ``auth``
    is the Authorization value with ``{sandbox}``/``{prod}``/``{other}`` for the world's keys.
    ``headers`` override the defaults (None drops one). ``errors``: a key the ``errors`` map must
    hold; ``detail``: text the ``detail`` must contain.
    """

    name: str
    status: int
    body: bytes = j({"amount": 100})
    op: str = "refunds"
    target: str = "A"
    path: str | None = None
    method: str = "POST"
    auth: Auth = "Basic {sandbox}"
    headers: dict[str, str | bytes | None] = field(default_factory=dict)
    errors: str | None = None
    detail: str | None = None
    stream: bool = False
    # Refused before the key is read (path or Content-Length), so no account's log holds it.
    before_auth: bool = False
    # Sent straight to the ASGI app with the header bytes as given (the TestClient would re-encode
    # every header value as UTF-8).
    asgi: bool = False
    # The Allow header a 405 must carry.
    allow: str | None = None


def send(world: World, row: Row) -> tuple[str, httpx.Response]:
    """Send the row's request; returns the path it went to and the answer."""
    intent_id = world.ids[row.target]
    if row.path is None:
        path = f"/payment-intents/{intent_id}/{row.op}"
    else:
        path = row.path
        for name, object_id in world.ids.items():
            path = path.replace(f"{{{name}}}", object_id)
    headers: dict[str, str | bytes | None] = {
        "Authorization": _authorization(row.auth, world.keys),
        "Version": "2024-02-05",
        "Content-Type": "application/json",
        "IdempotencyKey": f"catalogue-{row.name}",
    }
    headers.update(row.headers)
    sent = [(name, value) for name, value in headers.items() if value is not None]
    if row.asgi:
        return path, asyncio.run(_send_to_app(world, row, path, sent))
    body = row.body
    if row.path is not None:
        for name, object_id in world.ids.items():
            body = body.replace(f"{{{name}}}".encode(), object_id.encode())
    content: bytes | Iterator[bytes] = _chunks(body) if row.stream else body
    return path, world.client.request(row.method, path, content=content, headers=sent)


async def _send_to_app(world: World, row: Row, path: str, headers: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=world.client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(row.method, path, content=row.body, headers=headers)


def _authorization(value: Auth, keys: dict[str, str]) -> str | None:
    if value is None or isinstance(value, str):
        return None if value is None else value.format(**keys)
    return value(keys)


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def is_logged(row: Row) -> bool:
    """The sandbox log holds every request its account made that reached the endpoint: a 401
    has no account, a production key has no sandbox log, and an impossible path (404), an
    oversized body (413) or a method the path lacks (405) is refused before the key is read."""
    production = isinstance(row.auth, str) and "{prod}" in row.auth
    refused_early = row.before_auth or row.status in (401, 405, 413)
    return row.auth is not None and not production and not refused_early
