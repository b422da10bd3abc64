"""Prometheus metrics: request counts and latency per route, replays, pool use, money totals.

With several uvicorn workers, ``payintents serve`` sets PROMETHEUS_MULTIPROC_DIR so every worker
writes its samples there and any worker can answer a scrape for all of them. Money totals are
read from the database at scrape time, so they are the same whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from payintents.service.dependencies import Dependencies
from payintents.service.reporting import MoneyTotals, money_totals

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


class _MoneyCollector(Collector):
    """Refund and outbox figures computed from the store when scraped."""

    def __init__(self, totals: MoneyTotals) -> None:
        self._totals = totals

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        refunds = CounterMetricFamily("payintents_refunds", "Refunds stored", labels=["currency"])
        amounts = CounterMetricFamily(
            "payintents_refunded_amount_minor", "Refunded amount in minor units", labels=["currency"]
        )
        for currency, count, amount in self._totals.refunds_by_currency:
            refunds.add_metric([currency], count)
            amounts.add_metric([currency], amount)
        backlog = GaugeMetricFamily("payintents_webhook_backlog_events", "Outbox events not yet delivered")
        backlog.add_metric([], self._totals.outbox_pending)
        yield from (refunds, amounts, backlog)


def metrics_endpoint(pool_in_use: Callable[[], int]) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        deps: Dependencies = request.app.state.deps
        POOL_IN_USE.set(pool_in_use())
        totals = await run_in_threadpool(money_totals, deps)
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            for collector in (REQUESTS, LATENCY, REPLAYS, POOL_IN_USE):
                registry.register(collector)
        registry.register(_MoneyCollector(totals))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return endpoint
