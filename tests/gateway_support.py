"""The gateway's end-to-end set-up: a real payintents as the upstream "Dojo" (its sandbox key is
the upstream key) and a gateway payintents in front of it, whose account has that upstream; the
gateway's clients use the account's production key. The upstream always runs on SQLite with one
worker; the gateway on the backend asked for (SQLite or PostgreSQL).

The shopper pays at the upstream's own checkout (``POST {upstream}/checkout/{id}/pay``), as on
Dojo's hosted page.
"""

from __future__ import annotations

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


@dataclass
class GatewayPair:
    upstream: RunningServer
    gateway: RunningServer
    # The upstream's own client (its sandbox key: what the gateway's account sends to "Dojo").
    at_upstream: Api
    # The gateway's client: the gateway account's production key.
    at_gateway: Api
    account_id: str

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
    upstream_url = f"sqlite:///{folder / 'upstream.db'}"
    migrate_database(upstream_url)
    upstream_key = new_account(upstream_url, "merchant at dojo")["sandboxKey"]
    quiet = {"PAYINTENTS_METRICS_ADDRESS": "off"}
    with (
        running_server(upstream_url, folder, workers=1, env=quiet) as upstream,
        backend_database_url(backend, folder, "gateway") as gateway_url,
    ):
        migrate_database(gateway_url)
        account = add_upstream_account(gateway_url, upstream.base_url, upstream_key)
        env = {**quiet, "PAYINTENTS_SECRET_KEY": SECRET_KEY, **(gateway_env or {})}
        with (
            running_server(
                gateway_url, folder, workers=gateway_workers, app_module=app_module, env=env
            ) as gateway,
            httpx.Client(base_url=upstream.base_url, timeout=CLIENT_TIMEOUT_S) as upstream_client,
            httpx.Client(base_url=gateway.base_url, timeout=CLIENT_TIMEOUT_S) as gateway_client,
        ):
            yield GatewayPair(
                upstream,
                gateway,
                Api(upstream_client, upstream_key),
                Api(gateway_client, account["prodKey"]),
                account["accountId"],
            )
