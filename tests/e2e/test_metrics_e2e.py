"""The metrics of a real ``payintents serve``: on their own loopback address, complete with one
worker or two, and no temporary files left behind when it stops."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from payintents.testbed.processes import free_port
from tests.support import migrate_database, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _count_of_health_requests(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=10).text
    found = re.search(
        r'payintents_http_requests_total\{method="GET",route="/health/live",status="200"\} ([0-9.e+]+)', text
    )
    assert found, text
    return float(found.group(1))


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_every_workers_requests_on_their_own_address(
    workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_port = free_port()
    monkeypatch.setenv("PAYINTENTS_METRICS_ADDRESS", f"127.0.0.1:{metrics_port}")
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate_database(url)
    with running_server(url, tmp_path, workers=workers) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for _ in range(20):  # new connections, so that both workers answer some
                assert httpx.get(f"{server.base_url}/health/live", timeout=10).status_code == 200
            assert client.get("/metrics").status_code == 404
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        assert _count_of_health_requests(metrics_url) >= 20
        assert "payintents_webhook_backlog_events 0.0" in httpx.get(metrics_url, timeout=10).text
        assert server.log_problems() == []


def test_the_temporary_metrics_directory_is_removed_when_serve_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("PAYINTENTS_METRICS_ADDRESS", "off")
    url = f"sqlite:///{tmp_path / 'stops.db'}"
    migrate_database(url)
    with running_server(url, tmp_path, workers=2) as server:
        assert [p.name for p in temporary.iterdir() if p.name.startswith("payintents-metrics-")]
    assert server.process.returncode == 0
    assert [p.name for p in temporary.iterdir() if p.name.startswith("payintents-metrics-")] == []
