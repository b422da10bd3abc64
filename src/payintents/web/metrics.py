"""Prometheus metrics: request counts and latency per route, replays, pool use, webhook backlog;
served on an address of their own (PAYINTENTS_METRICS_ADDRESS, loopback by default, ADR 0024),
never on the API's port, and with no business figures (no per-account counts, no money). The
gateway's reconciliation report writes its own few gauges to a file instead (ADR 0033).

Each worker counts its requests in its own process. With one worker, the scrape reads those
counters directly; with several, ``payintents serve`` points PROMETHEUS_MULTIPROC_DIR at a
temporary directory (removed when it stops) where every worker writes its samples, and the scrape
sums them. The listener runs in the ``serve`` process itself, so it answers even while every
worker is busy; the webhook backlog is read from the database at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payintents.service.ports import StoreBusyError

log = logging.getLogger("payintents.metrics")

# The Prometheus exporters' customary port; bound to loopback unless configured otherwise.
DEFAULT_METRICS_ADDRESS = ("127.0.0.1", 9464)
# How often a worker writes its pool use to the gauge.
POOL_SAMPLE_INTERVAL_S = 1.0
SAMPLES_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("payintents_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "payintents_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REPLAYS = Counter("payintents_idempotent_replays_total", "Answers replayed for a retried request")
POOL_IN_USE = Gauge(
    "payintents_db_pool_connections_in_use",
    "Database connections checked out of the pool, summed over live workers",
    multiprocess_mode="livesum",
)


def parse_metrics_address(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) or ``off``; ValueError for anything else."""
    if text.strip().lower() == "off":
        return None
    host, separator, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"must be HOST:PORT or off, not {text!r}")
    return host, int(port)


class _BacklogCollector(Collector):
    """Webhook deliveries not yet done, read from the store when scraped."""

    def __init__(self, backlog: Callable[[], int]) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = self._backlog()
        except StoreBusyError:  # the scrape still reports the rest; a gap shows the database was busy
            log.warning("webhook backlog not read for the metrics: the database is busy")
            return
        gauge = GaugeMetricFamily("payintents_webhook_backlog_events", "Outbox events not yet delivered")
        gauge.add_metric([], backlog)
        yield gauge


def scrape_registry(samples_dir: str | None, backlog: Callable[[], int]) -> CollectorRegistry:
    """What a scrape reports: the workers' samples in ``samples_dir``, or this process's own
    counters when there is none (one worker, serving in this process), and the backlog."""
    registry = CollectorRegistry()
    if samples_dir:
        multiprocess.MultiProcessCollector(registry, path=samples_dir)  # type: ignore[no-untyped-call]
    else:
        for collector in (REQUESTS, LATENCY, REPLAYS, POOL_IN_USE):
            registry.register(collector)
    registry.register(_BacklogCollector(backlog))
    return registry


@contextmanager
def worker_samples_dir(workers: int) -> Iterator[str | None]:
    """With several workers, the directory they write their samples to: the operator's own
    PROMETHEUS_MULTIPROC_DIR if set, else a temporary one, removed on the way out."""
    if workers <= 1:
        yield os.environ.get(SAMPLES_DIR_VARIABLE)
        return
    if os.environ.get(SAMPLES_DIR_VARIABLE):
        yield os.environ[SAMPLES_DIR_VARIABLE]
        return
    made = tempfile.mkdtemp(prefix="payintents-metrics-")
    # Workers are started afresh and read this as prometheus_client loads.
    os.environ[SAMPLES_DIR_VARIABLE] = made
    try:
        yield made
    finally:
        del os.environ[SAMPLES_DIR_VARIABLE]
        shutil.rmtree(made, ignore_errors=True)


@contextmanager
def serving_metrics(address: tuple[str, int] | None, registry: CollectorRegistry) -> Iterator[None]:
    """Serve ``registry`` at http://ADDRESS/metrics on a thread while the block runs. An address
    already in use (another server on this machine) is logged and skipped: the API still serves."""
    if address is None:
        yield
        return
    host, port = address
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as refused:
        log.warning("metrics not served on %s:%d: %s", host, port, refused.strerror)
        yield
        return
    log.info("metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def sample_pool_use(pool_in_use: Callable[[], int]) -> None:
    """A worker's task: keep the pool gauge current, so a scrape from another process sees it."""
    while True:
        POOL_IN_USE.set(pool_in_use())
        await asyncio.sleep(POOL_SAMPLE_INTERVAL_S)


def write_reconciliation_metrics(
    path: str, differences_by_field: dict[str, int], not_compared: int, finished_at_s: float
) -> None:
    """The last ``payintents reconcile --account`` run as a Prometheus text file (for
    node_exporter's textfile collector, which serves it with the host's metrics): differences
    per compared field, intents Dojo did not answer about, and when the run finished."""
    registry = CollectorRegistry()
    differences = Gauge(
        "payintents_upstream_differences",
        "Differences between gateway mirrors and Dojo found by the last reconciliation report",
        ["field"],
        registry=registry,
    )
    for name, count in differences_by_field.items():
        differences.labels(name).set(count)
    Gauge(
        "payintents_upstream_not_compared",
        "Intents the last reconciliation report could not compare (Dojo did not answer)",
        registry=registry,
    ).set(not_compared)
    Gauge(
        "payintents_upstream_reconcile_finished_seconds",
        "When the last reconciliation report finished (Unix time)",
        registry=registry,
    ).set(finished_at_s)
    write_to_textfile(path, registry)
