"""API benchmark: latency of each call on one connection, and refund throughput with many clients.

    python -m tests.harness.bench_api [--backend sqlite|postgres] [--workers 2] [--requests 200]
        [--clients 8]

Starts a real ``payintents serve`` on loopback, then prints, per operation, p50 / p95 / p99
latency in milliseconds over ``--requests`` sequential calls, and the throughput of ``--clients``
concurrent clients each refunding 1 minor unit at a time on its own intent. Figures go into
docs/performance.md; they are measurements, never assertions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.harness.race_common import migrated_database
from tests.support import Api, running_server


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100)
    return f"p50={cut[49]:.1f} p95={cut[94]:.1f} p99={cut[98]:.1f}"


def timed_calls(call: Callable[[int], httpx.Response], count: int) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        response = call(i)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 300:
            raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
    return samples


def latency(api: Api, count: int) -> dict[str, list[float]]:
    intent_id = api.captured_intent(10_000_000)
    created: list[str] = []
    results = {
        "create": timed_calls(
            lambda i: _remember(api.post("/payment-intents", _intent_body(i)), created), count
        ),
        "get": timed_calls(lambda i: api.get(f"/payment-intents/{intent_id}"), count),
        "pay (checkout)": timed_calls(lambda i: api.pay(created[i]), count),
        "refund": timed_calls(lambda i: api.refund(intent_id, 1, key=f"bench-{i}"), count),
        "refund replay": timed_calls(lambda i: api.refund(intent_id, 1, key=f"bench-{i}"), count),
        "list refunds": timed_calls(
            lambda i: api.get(f"/payment-intents/{intent_id}/refunds"), min(count, 50)
        ),
    }
    return results


def _intent_body(i: int) -> dict[str, object]:
    return {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": f"bench {i}"}


def _remember(response: httpx.Response, into: list[str]) -> httpx.Response:
    into.append(response.json()["id"])
    return response


def throughput(base_url: str, key: str, clients: int, per_client: int) -> float:
    def client_run(n: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            api = Api(client, key)
            intent_id = api.captured_intent(1_000_000)
            for i in range(per_client):
                answer = api.refund(intent_id, 1, key=f"tp-{n}-{i}")
                if answer.status_code != 200:
                    raise RuntimeError(answer.text)
        return per_client

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(client_run, range(clients)))
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="payintents-bench-"))
    with (
        migrated_database(args.backend, work) as url,
        running_server(url, work, workers=args.workers) as server,
    ):
        key = server.new_account()["sandboxKey"]
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            results = latency(Api(client, key), args.requests)
        rate = throughput(server.base_url, key, args.clients, args.requests // 4)
    print(f"bench_api backend={args.backend} workers={args.workers} requests={args.requests}")
    for name, samples in results.items():
        print(f"  {name:<15} {percentiles(samples)} ms")
    print(f"  refunds/s with {args.clients} concurrent clients: {rate:.0f}")


if __name__ == "__main__":
    main()
