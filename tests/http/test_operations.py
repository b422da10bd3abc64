"""Operating the server: health probes, Prometheus metrics, JSON access logs with the traceId."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.dependencies import Dependencies
from payintents.service.ports import StoreBusyError
from payintents.service.reporting import webhook_backlog
from payintents.web.app import build_app
from payintents.web.logs import JsonFormatter
from payintents.web.metrics import scrape_registry
from tests.support import Api

TRACE_ID = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json() == {"status": "ready"}


def test_readiness_fails_cleanly_without_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}"
    engine = make_engine(url, timeouts=Timeouts(lock_ms=100))
    with TestClient(build_app(build_dependencies(Settings(database_url=url), engine=engine))) as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "1"
    assert ready.json()["status"] == 503 and "sqlite" not in ready.text.lower()


def test_metrics_count_requests_and_replays_and_hold_no_money(api: Api, deps: Dependencies) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 250, key="metrics-key").status_code == 200
    assert api.refund(intent_id, 250, key="metrics-key").headers["Idempotent-Replayed"] == "true"
    text = generate_latest(scrape_registry(None, lambda: webhook_backlog(deps))).decode()
    route = 'route="/payment-intents/{paymentIntentId}/refunds"'
    assert re.search(
        r'payintents_http_requests_total\{method="POST",' + re.escape(route) + r',status="200"\} [1-9]', text
    )
    assert re.search(r"payintents_idempotent_replays_total [1-9]", text)
    # Operational figures only: business ones (refund counts, money, anything per account)
    # belong in the dashboard.
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    operational = (
        "payintents_http_request",
        "payintents_idempotent_replays_",
        "payintents_db_pool_connections_in_use",
        "payintents_webhook_backlog_events",
    )
    assert families and {f for f in families if not f.startswith(operational)} == set()
    assert "currency=" not in text and "acc_" not in text


def test_metrics_are_not_served_on_the_api_port(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 404 and answer.json()["status"] == 404


def test_access_log_is_json_with_the_trace_id_of_the_answer(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with caplog.at_level(logging.INFO, logger="payintents.access"):
        response = api.client.get(
            "/payment-intents/pi_sandbox_missing",
            headers={**api.headers(), "traceparent": parent},
        )
    assert response.status_code == 404
    trace_id = response.json()["traceId"]
    assert TRACE_ID.match(trace_id) and trace_id.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    records = [r for r in caplog.records if getattr(r, "traceId", None) == trace_id]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["status"] == 404 and line["route"] == "/payment-intents/{paymentIntentId}"
    assert line["level"] == "info" and line["time"].endswith("Z")


def test_a_busy_database_leaves_the_backlog_out_of_a_scrape_not_the_rest() -> None:
    def busy() -> int:
        raise StoreBusyError("busy")

    text = generate_latest(scrape_registry(None, busy)).decode()
    assert "payintents_http_requests_total" in text and "payintents_webhook_backlog_events" not in text
