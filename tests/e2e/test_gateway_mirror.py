"""How a gateway's mirrors learn what happened at Dojo (ADR 0033), against a real upstream
payintents on loopback (tests/gateway_support.py):

- webhooks: ``payintents accounts subscribe-upstream`` subscribes the gateway at the upstream (once,
  however often it runs); a shopper paying at the upstream's checkout reaches the mirror by the
  upstream's webhook, with the gateway's own outbox event (fan-out to its subscribers); a delivery
  not signed by the subscription is refused with 401 in Dojo's shape (the negative control of the
  signature check: the same body correctly signed is taken);
- on SQLite and PostgreSQL, each on a gateway and upstream of its own;
- reads: with no webhook and no polling, a read through the gateway refreshes the stale mirror;
- polling: with the gateway's subscription deleted at the upstream, the
  housekeeping's poll still brings the mirror to Captured (and ``serve`` warned at start of the
  accounts without a subscription);
- ``payintents reconcile --account``: no difference after ordinary flows (exit 0); a refund made
  directly at the upstream with its own key is reported (exit 1, table, JSON, metrics file);
- a subscription that cannot be made (no public URL; Dojo's one subscription per event) fails
  with its reason; ``accounts remove-upstream`` deletes the subscription at the upstream.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import outbox_events, upstream_webhooks
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.intent import Environment, Scope
from payintents.domain.webhook_signing import dojo_signature
from payintents.service.upstream_webhooks import subscribe_upstream
from tests.conftest import BACKENDS
from tests.gateway_support import (
    CLIENT_TIMEOUT_S,
    SECRET_KEY,
    Upstream,
    add_upstream_account,
    run_gateway_command,
    running_gateway,
    running_upstream,
)
from tests.support import Api, RunningServer, backend_database_url, migrate_database

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("gateway_mirror")]

# No housekeeping pass during the module (so neither polling nor expiry), no dispatcher.
QUIET_GATEWAY = {"PAYINTENTS_EXPIRY_INTERVAL_S": "3600", "PAYINTENTS_DISPATCHER": "off"}
POLLING_GATEWAY = {
    "PAYINTENTS_EXPIRY_INTERVAL_S": "0.5",
    "PAYINTENTS_UPSTREAM_POLL_INTERVAL_S": "1",
    "PAYINTENTS_DISPATCHER": "off",
}
WAIT_S = 20.0
RECEIVER = "/upstream/dojo/webhooks/{account}"


@dataclass
class Gateway:
    upstream: Upstream
    server: RunningServer
    engine: Engine
    # Subscribed at the upstream; the second account never is.
    subscribed: Api
    subscribed_id: str
    unsubscribed: Api
    unsubscribed_id: str

    def mirror_status(self, account_id: str, intent_id: str) -> str:
        with SqlUnitOfWork(self.engine, read_only=True) as uow:
            intent = uow.intents.get(Scope(account_id, Environment.PRODUCTION), intent_id)
        assert intent is not None
        return intent.status.value

    def events_of(self, intent_id: str) -> list[str]:
        """The gateway's outbox events of the intent, as ``name:paymentStatus``."""
        events = outbox_events
        query = select(events.c.name, events.c.payload).where(events.c.payment_intent_id == intent_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(events.c.created_at)).all()
        return [f"{name}:{json.loads(payload).get('paymentStatus')}" for name, payload in rows]

    def stored_subscription_id(self) -> str:
        query = select(upstream_webhooks.c.subscription_id)
        with self.engine.connect() as connection:
            return str(connection.execute(query).scalar_one())


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> float:
    """Seconds until ``condition`` held; fails the test past ``timeout_s``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "condition not reached in time"
        time.sleep(0.05)
    return time.monotonic() - started


def subscribe_in_process(database_url: str, account_id: str, public_url: str) -> str:
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url, secret_keys=(SECRET_KEY,)), engine=engine)
    try:
        return asyncio.run(subscribe_upstream(deps, account_id, public_url)).subscription_id
    finally:
        deps.runner().close()
        engine.dispose()


@contextmanager
def running_gateway_of_two_accounts(backend: str, folder: Path, env: dict[str, str]) -> Iterator[Gateway]:
    with running_upstream(folder) as upstream, backend_database_url(backend, folder, "gateway") as url:
        migrate_database(url)
        base_url, key = upstream.server.base_url, upstream.api.key
        first, second = (add_upstream_account(url, base_url, key) for _ in range(2))
        engine = make_engine(url, pool_size=2)
        with (
            running_gateway(url, folder, env=env) as server,
            httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT_S) as http,
        ):
            yield Gateway(
                upstream,
                server,
                engine,
                Api(http, first["prodKey"]),
                first["accountId"],
                Api(http, second["prodKey"]),
                second["accountId"],
            )
        engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway_of_two_accounts(
        request.param, tmp_path_factory.mktemp(f"mirror-{request.param}"), QUIET_GATEWAY
    ) as started:
        done = run_gateway_command(
            started.server.database_url,
            "accounts",
            "subscribe-upstream",
            started.subscribed_id,
            public_url=started.server.base_url,
        )
        assert done.returncode == 0, done.stderr
        yield started


def upstream_subscriptions(gateway: Gateway) -> list[dict[str, object]]:
    listed = gateway.upstream.api.get("/webhooks")
    assert listed.status_code == 200, listed.text
    return list(listed.json())


def paid_at_the_upstream(gateway: Gateway, api: Api, value: int = 1000) -> str:
    intent_id = str(api.create_intent(value)["id"])
    paid = gateway.upstream.api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
    return intent_id


def test_the_gateway_is_subscribed_once_at_the_upstream_however_often_it_subscribes(gateway: Gateway) -> None:
    receiver = gateway.server.base_url + RECEIVER.format(account=gateway.subscribed_id)
    (before,) = upstream_subscriptions(gateway)
    assert (before["url"], before["events"]) == (receiver, ["payment_intent.status_updated"])
    again = subscribe_in_process(gateway.server.database_url, gateway.subscribed_id, gateway.server.base_url)
    (after,) = upstream_subscriptions(gateway)
    assert after["id"] == again == gateway.stored_subscription_id() != before["id"]


def test_a_payment_at_the_upstream_reaches_the_mirror_by_webhook(gateway: Gateway) -> None:
    intent_id = paid_at_the_upstream(gateway, gateway.subscribed)
    took_s = wait_until(lambda: gateway.mirror_status(gateway.subscribed_id, intent_id) == "Captured")
    print(f"webhook to mirror: {took_s:.2f} s")
    # The mirror's change is the gateway's own event, for its own subscribers.
    assert "payment_intent.status_updated:Captured" in gateway.events_of(intent_id)
    assert gateway.subscribed.intent(intent_id)["status"] == "Captured"


def _deliver(gateway: Gateway, account_id: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["dojo-signature"] = signature
    path = RECEIVER.format(account=account_id)
    return gateway.subscribed.client.post(path, content=body, headers=headers)


def test_a_delivery_not_signed_by_the_subscription_is_refused(gateway: Gateway) -> None:
    (subscription,) = upstream_subscriptions(gateway)
    secrets = gateway.upstream.api.get(f"/webhooks/{subscription['id']}/secrets").json()["secrets"]
    secret = next(s["value"] for s in secrets if s["isActive"])
    intent_id = str(gateway.subscribed.create_intent(400)["id"])
    event = {"id": "evt_x", "event": "payment_intent.status_updated", "data": {"paymentIntentId": intent_id}}
    body = json.dumps(event).encode()
    refused = [
        _deliver(gateway, gateway.subscribed_id, body, dojo_signature("not-the-secret", body)),
        _deliver(gateway, gateway.subscribed_id, body, None),
        _deliver(gateway, gateway.subscribed_id, body + b" ", dojo_signature(secret, body)),
        _deliver(gateway, gateway.unsubscribed_id, body, dojo_signature(secret, body)),
        _deliver(gateway, "acc_nobody", body, dojo_signature(secret, body)),
        _deliver(gateway, "acc%00nul", body, dojo_signature(secret, body)),
        _deliver(gateway, "a" * 200, body, dojo_signature(secret, body)),
    ]
    for answer in refused:
        assert answer.status_code == 401, answer.text
        problem = answer.json()
        assert (problem["status"], problem["title"]) == (401, "Unauthorized") and problem["traceId"]
    no_intent = b'{"data":{}}'
    assert (
        _deliver(gateway, gateway.subscribed_id, no_intent, dojo_signature(secret, no_intent)).status_code
        == 400
    )
    # The negative control: the same delivery signed with the subscription's secret is taken.
    taken = _deliver(gateway, gateway.subscribed_id, body, dojo_signature(secret, body).lower())
    assert taken.status_code == 200, taken.text
    assert gateway.server.log_problems() == []


def test_a_stale_read_is_refreshed_from_the_upstream(gateway: Gateway) -> None:
    intent_id = paid_at_the_upstream(gateway, gateway.unsubscribed)
    # No webhook for this account and no polling: only the read can learn it.
    assert gateway.mirror_status(gateway.unsubscribed_id, intent_id) == "Created"
    assert gateway.unsubscribed.intent(intent_id)["status"] == "Captured"
    assert gateway.mirror_status(gateway.unsubscribed_id, intent_id) == "Captured"
    assert "payment_intent.status_updated:Captured" in gateway.events_of(intent_id)


def _reconcile(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    url = gateway.server.database_url
    return run_gateway_command(url, "reconcile", "--account", gateway.subscribed_id, *args)


def test_reconcile_reports_a_refund_made_at_the_upstream_directly(gateway: Gateway, tmp_path: Path) -> None:
    refunded = paid_at_the_upstream(gateway, gateway.subscribed, 1000)
    assert gateway.subscribed.refund(refunded, 300).status_code == 200
    canceled = str(gateway.subscribed.create_intent(500)["id"])
    headers = gateway.subscribed.headers()
    assert (
        gateway.subscribed.client.delete(f"/payment-intents/{canceled}", headers=headers).status_code == 200
    )
    clean = _reconcile(gateway, "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    report = json.loads(clean.stdout)
    assert report["differences"] == [] and report["compared"] >= 2 and report["notCompared"] == []

    out_of_band = gateway.upstream.api.refund(refunded, 200)
    assert out_of_band.status_code == 200, out_of_band.text
    metrics = tmp_path / "reconcile.prom"
    found = _reconcile(gateway, "--metrics-file", str(metrics))
    assert found.returncode == 1, found.stdout + found.stderr
    rows = {tuple(line.split()) for line in found.stdout.splitlines() if line.startswith(refunded)}
    assert rows == {(refunded, "refundedAmount", "300", "500"), (refunded, "refunds", "1", "2")}
    assert "2 difference(s)" in found.stdout.splitlines()[0]
    assert f"gateway difference on {refunded} refundedAmount: 300 here, 500 at Dojo" in found.stderr
    assert 'payintents_upstream_differences{field="refundedAmount"} 1.0' in metrics.read_text()
    assert 'payintents_upstream_differences{field="status"} 0.0' in metrics.read_text()


def test_a_subscription_that_cannot_be_made_fails_with_its_reason(gateway: Gateway) -> None:
    url = gateway.server.database_url
    no_url = run_gateway_command(url, "accounts", "subscribe-upstream", gateway.unsubscribed_id)
    assert no_url.returncode == 1 and "PAYINTENTS_PUBLIC_URL" in no_url.stderr and "polling" in no_url.stderr
    # Both gateway accounts share the upstream's merchant here, and Dojo takes one subscription
    # per event: the first account's holds it.
    base_url = gateway.server.base_url
    taken = run_gateway_command(
        url, "accounts", "subscribe-upstream", gateway.unsubscribed_id, public_url=base_url
    )
    assert taken.returncode == 1 and "Dojo did not subscribe" in taken.stderr, taken.stderr
    assert len(upstream_subscriptions(gateway)) == 1


def test_removing_the_upstream_deletes_the_subscription_at_the_upstream(gateway: Gateway) -> None:
    done = run_gateway_command(
        gateway.server.database_url, "accounts", "remove-upstream", gateway.subscribed_id
    )
    assert done.returncode == 0, done.stderr
    assert upstream_subscriptions(gateway) == []


@pytest.fixture(scope="module", params=BACKENDS)
def polling_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp(f"polling-{request.param}")
    with running_gateway_of_two_accounts(request.param, folder, POLLING_GATEWAY) as started:
        yield started


def test_with_the_subscription_deleted_at_the_upstream_polling_brings_the_mirror(
    polling_gateway: Gateway,
) -> None:
    gateway = polling_gateway
    # Started before any subscription: serve said so for each account.
    started_log = gateway.server.log_path.read_text()
    assert f"{gateway.subscribed_id} has no webhook subscription at Dojo" in started_log
    subscription_id = subscribe_in_process(
        gateway.server.database_url, gateway.subscribed_id, gateway.server.base_url
    )
    deleted = gateway.upstream.api.client.delete(
        f"/webhooks/{subscription_id}", headers=gateway.upstream.api.headers()
    )
    assert deleted.status_code == 204, deleted.text
    assert upstream_subscriptions(gateway) == []
    intent_id = paid_at_the_upstream(gateway, gateway.subscribed)
    took_s = wait_until(lambda: gateway.mirror_status(gateway.subscribed_id, intent_id) == "Captured")
    print(f"poll to mirror: {took_s:.2f} s")
    assert "payment_intent.status_updated:Captured" in gateway.events_of(intent_id)
    assert gateway.server.log_problems() == []
