"""Benchmark: every dashboard page with 10,000 payments in the account (the bar in
docs/performance.md: < 100 ms).

Seeds N payment intents (mostly captured, some created, refunded or canceled, with their
captures, status events and some refunds) straight into the tables with bulk inserts, signs in
through the sign-in form, then times each page: the list's first page, a filtered list, the 50th
page reached through the keyset cursors, a search that matches nothing (a scan of the account),
a payment's detail and its refund form. Prints p50 / p95 / max per page.

    .venv/bin/python -m tests.harness.dashboard_bench                      # SQLite file, in-process
    .venv/bin/python -m tests.harness.dashboard_bench --server             # real `payintents serve`
    .venv/bin/python -m tests.harness.dashboard_bench --postgres           # fresh PostgreSQL schema
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.schema import captures, payment_events, payment_intents, refunds
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.support import postgres_schema_url, running_server

NOW = datetime.now(UTC).replace(microsecond=0)
STATUSES = ["Captured"] * 14 + ["Created"] * 3 + ["Refunded"] * 2 + ["Canceled"]


def seed(engine: Engine, account_id: str, count: int) -> str:
    """Insert ``count`` sandbox intents; return the id of a captured, partly refunded one."""
    rng = random.Random(7)
    rows: dict[str, list[dict[str, Any]]] = {"intents": [], "captures": [], "events": [], "refunds": []}
    sample = ""
    for n in range(count):
        intent_id = f"pi_sandbox_bench{n:017d}"
        status = rng.choice(STATUSES)
        amount = rng.randint(100, 100_000)
        created = NOW - timedelta(minutes=n * 13 + rng.randint(0, 12))
        captured = amount if status in ("Captured", "Refunded") else 0
        refunded = captured if status == "Refunded" else 0
        if status == "Captured" and n % 10 == 0:
            refunded = amount // 4
            rows["refunds"].append(_refund(intent_id, account_id, refunded, created))
            sample = sample or intent_id
        rows["intents"].append(_intent(intent_id, account_id, status, amount, captured, refunded, created, n))
        if captured:
            rows["captures"].append(_capture(intent_id, amount, created))
            rows["events"] += [
                _event(intent_id, 0, "Authorized", created),
                _event(intent_id, 1, "Captured", created),
            ]
    with engine.begin() as conn:
        for table, key in (
            (payment_intents, "intents"),
            (captures, "captures"),
            (payment_events, "events"),
            (refunds, "refunds"),
        ):
            for start in range(0, len(rows[key]), 2000):
                conn.execute(insert(table), rows[key][start : start + 2000])
    return sample


def _intent(
    intent_id: str,
    account_id: str,
    status: str,
    amount: int,
    captured: int,
    refunded: int,
    created: datetime,
    n: int,
) -> dict[str, Any]:
    reference = f"Order {n:05d}"
    document = {"amount": {"value": amount, "currencyCode": "GBP"}, "reference": reference}
    return {
        "id": intent_id,
        "account_id": account_id,
        "environment": "sandbox",
        "status": status,
        "capture_mode": "Auto",
        "currency": "GBP",
        "amount": amount,
        "tips_amount": None,
        "total_amount": amount,
        "requested_amount": None,
        "refundable_amount": captured,
        "refunded_amount": refunded,
        "reference": reference,
        "created_at": created,
        "updated_at": created,
        "expire_at": created + timedelta(days=30),
        "auto_expire_in": None,
        "auto_expire_action": None,
        "auto_expire_at": None,
        "authorized_at": created if captured else None,
        "captured_at": created if captured else None,
        "client_session_secret": None,
        "client_session_secret_expires_at": None,
        "pending_challenge": False,
        "reversal_id": None,
        "payment_details": None,
        "document": json.dumps(document),
        "version": 1,
    }


def _capture(intent_id: str, amount: int, at: datetime) -> dict[str, Any]:
    return {
        "id": "cp_sandbox_" + intent_id[-22:],
        "payment_intent_id": intent_id,
        "position": 0,
        "amount": amount,
        "tips_amount": None,
        "status": "Successful",
        "created_at": at,
    }


def _event(intent_id: str, position: int, event_type: str, at: datetime) -> dict[str, Any]:
    return {
        "payment_intent_id": intent_id,
        "position": position,
        "event_type": event_type,
        "at": at,
        "transaction_id": None,
        "card": None,
    }


def _refund(intent_id: str, account_id: str, amount: int, at: datetime) -> dict[str, Any]:
    return {
        "id": "rfnd_" + intent_id[-22:],
        "account_id": account_id,
        "environment": "sandbox",
        "payment_intent_id": intent_id,
        "position": 0,
        "amount": amount,
        "refund_reason": "damaged",
        "notes": "bench",
        "previous_transaction_id": None,
        "created_at": at + timedelta(minutes=1),
    }


def sign_in(http: httpx.Client, key: str) -> None:
    page = http.get("/dashboard/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    answer = http.post(
        "/dashboard/sign-in", data={"csrf_token": token.group(1), "method": "key", "api_key": key}
    )
    assert answer.status_code == 303, answer.text


def page_50(http: httpx.Client) -> str:
    url = "/dashboard/payments"
    for _ in range(49):
        link = re.search(r'href="([^"]+)" rel="next"', http.get(url).text)
        assert link is not None, "fewer than 50 pages"
        url = link.group(1).replace("&amp;", "&")
    return url


def measure(http: httpx.Client, url: str, rounds: int) -> list[float]:
    for _ in range(3):
        assert http.get(url).status_code == 200, url
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = http.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return timings


def run(http: httpx.Client, sample: str, rounds: int) -> None:
    pages = {
        "list, first page": "/dashboard/payments",
        "list, filtered": "/dashboard/payments?q=order+01&status=Captured&min=10&max=500",
        "list, page 50 by cursor": page_50(http),
        "list, search without match": "/dashboard/payments?q=no+such+order",
        "payment detail": f"/dashboard/payments/{sample}",
        "refund form": f"/dashboard/payments/{sample}/refund",
    }
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, url in pages.items():
        timings = sorted(measure(http, url, rounds))
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(f"{name:<28} {statistics.median(timings):8.1f} {p95:8.1f} {timings[-1]:8.1f}")


@contextmanager
def database(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    if args.postgres:
        with postgres_schema_url() as url:
            yield url
    else:
        yield args.database or f"sqlite:///{folder / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--database", help="an empty database URL (default: a new SQLite file)")
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh schema in $PAYINTENTS_TEST_POSTGRES_URL"
    )
    parser.add_argument("--server", action="store_true", help="time a real `payintents serve` over HTTP")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args, Path(tmp)) as url:
        engine = make_engine(url, pool_size=2)
        upgrade(engine)
        deps = build_dependencies(Settings(database_url=url), engine=engine)
        account = create_account(deps, "bench")
        started = time.perf_counter()
        sample = seed(engine, account.account_id, args.payments)
        backend = url.split(":", 1)[0]
        print(f"seeded {args.payments} payments in {time.perf_counter() - started:.1f} s ({backend})")
        if args.server:
            with (
                running_server(url, Path(tmp), workers=1) as server,
                httpx.Client(base_url=server.base_url) as http,
            ):
                sign_in(http, account.sandbox_key)
                run(http, sample, args.rounds)
        else:
            with TestClient(build_app(deps), follow_redirects=False) as http:
                sign_in(http, account.sandbox_key)
                run(http, sample, args.rounds)
        engine.dispose()


if __name__ == "__main__":
    main()
