"""The gateway's end-to-end set-up: a real payintents as the upstream "Dojo" (its sandbox key is
the upstream key) and a gateway payintents in front of it, whose account has that upstream; the
gateway's clients use the account's production key. The upstream always runs on SQLite with one
worker; the gateway on the backend asked for (SQLite or PostgreSQL).

The shopper pays at the upstream's own checkout (``POST {upstream}/checkout/{id}/pay``), as on
Dojo's hosted page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.upstreams import set_upstream
from tests.support import (
    Api,
    RunningServer,
    backend_database_url,
    migrate_database,
    new_account,
    running_server,
)

# A test secret key (PAYINTENTS_SECRET_KEY) of the gateway: at least 32 characters.
SECRET_KEY = "gateway-test-secret-key-0123456789abcdef"
CLIENT_TIMEOUT_S = 60.0
QUIET = {"PAYINTENTS_METRICS_ADDRESS": "off"}


@dataclass
class GatewayPair:
    upstream: RunningServer
    gateway: RunningServer
    # The upstream's own client (its sandbox key: what the gateway's account sends to "Dojo").
    at_upstream: Api
    # The gateway's client: the gateway account's production key.
    at_gateway: Api
    account_id: str
    # The same account's sandbox key, which keeps the built-in sandbox.
    sandbox_key: str

    def captured_intent(self, value: int = 1000) -> str:
        """An intent created through the gateway and paid at the upstream's checkout."""
        intent = self.at_gateway.create_intent(value)
        paid = self.at_upstream.pay(str(intent["id"]))
        assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
        return str(intent["id"])


def add_upstream_account(database_url: str, upstream_url: str, upstream_key: str) -> dict[str, str]:
    """A gateway account (made in this process, as ``payintents accounts create --upstream dojo``
    makes it) whose production payments go to ``upstream_url``."""
    account = new_account(database_url, "gateway")
    engine = make_engine(database_url, pool_size=1)
    try:
        settings = Settings(database_url=database_url, secret_keys=(SECRET_KEY,))
        set_upstream(
            build_dependencies(settings, engine=engine), account["accountId"], upstream_url, upstream_key
        )
    finally:
        engine.dispose()
    return account


@dataclass
class Upstream:
    server: RunningServer
    api: Api


@contextmanager
def running_upstream(folder: Path) -> Iterator[Upstream]:
    """The upstream "Dojo": a payintents on SQLite with one worker, and a client of its merchant."""
    upstream_url = f"sqlite:///{folder / 'upstream.db'}"
    migrate_database(upstream_url)
    upstream_key = new_account(upstream_url, "merchant at dojo")["sandboxKey"]
    with (
        running_server(upstream_url, folder, workers=1, env=QUIET) as upstream,
        httpx.Client(base_url=upstream.base_url, timeout=CLIENT_TIMEOUT_S) as client,
    ):
        yield Upstream(upstream, Api(client, upstream_key))


@contextmanager
def running_gateway(
    database_url: str,
    folder: Path,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    app_module: str | None = None,
) -> Iterator[RunningServer]:
    """A gateway on ``database_url`` (migrated, its upstream accounts added) with the test secret key."""
    gateway_env = {**QUIET, "PAYINTENTS_SECRET_KEY": SECRET_KEY, **(env or {})}
    with running_server(
        database_url, folder, workers=workers, app_module=app_module, env=gateway_env
    ) as gateway:
        yield gateway


@contextmanager
def gateway_pair(
    backend: str,
    folder: Path,
    *,
    gateway_workers: int = 1,
    gateway_env: Mapping[str, str] | None = None,
    app_module: str | None = None,
) -> Iterator[GatewayPair]:
    """The upstream and the gateway running; ``gateway_env`` and ``app_module`` shape the gateway."""
    with (
        running_upstream(folder) as upstream,
        backend_database_url(backend, folder, "gateway") as gateway_url,
    ):
        migrate_database(gateway_url)
        account = add_upstream_account(gateway_url, upstream.server.base_url, upstream.api.key)
        with (
            running_gateway(
                gateway_url, folder, workers=gateway_workers, env=gateway_env, app_module=app_module
            ) as gateway,
            httpx.Client(base_url=gateway.base_url, timeout=CLIENT_TIMEOUT_S) as gateway_client,
        ):
            yield GatewayPair(
                upstream.server,
                gateway,
                upstream.api,
                Api(gateway_client, account["prodKey"]),
                account["accountId"],
                account["sandboxKey"],
            )


@dataclass(frozen=True)
class RefundComparison:
    """One intent's refunds at the upstream and at the gateway: the gateway is right when both
    hold the same refunds (Dojo's ids) for the same total."""

    upstream_ids: frozenset[str]
    upstream_total: int
    gateway_ids: frozenset[str]
    gateway_total: int

    @property
    def consistent(self) -> bool:
        return self.upstream_ids == self.gateway_ids and self.upstream_total == self.gateway_total


def compare_refunds(at_upstream: Api, at_gateway: Api, intent_id: str) -> RefundComparison:
    upstream = at_upstream.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    gateway = at_gateway.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    return RefundComparison(
        frozenset(str(r["refundId"]) for r in upstream),
        sum(int(r["amount"]) for r in upstream),
        frozenset(str(r["refundId"]) for r in gateway),
        int(at_gateway.intent(intent_id)["refundedAmount"]),
    )


def run_gateway_command(
    database_url: str, *args: str, public_url: str = ""
) -> subprocess.CompletedProcess[str]:
    """``payintents ARGS --database URL`` with the gateway's secret key (and public URL)."""
    env = {**os.environ, "PAYINTENTS_SECRET_KEY": SECRET_KEY, "PAYINTENTS_PUBLIC_URL": public_url}
    command = [sys.executable, "-m", "payintents.cli", *args, "--database", database_url]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
