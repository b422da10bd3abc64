"""The load generator: a separate process that sends HTTP/1.1 requests over keep-alive sockets.

It is deliberately tiny (asyncio streams, no HTTP library) so that on a small machine the client
takes as little CPU from the server as possible. Run as ``python -m payintents.benchmark.load``
with a JSON ``LoadPlan`` on stdin; it prints a JSON ``LoadResult`` on stdout and a progress bar
on stderr.

Two ways of sending: closed loop (``concurrency`` clients, each sending its next request when the
last was answered: the maximum rate) and open loop (refunds due on a fixed schedule at
``arrival_rate_per_s`` whether or not earlier ones were answered: the latency a steady load
sees; each latency counts from when the refund was due, so a refund that waited for a free
connection behind a slow one counts that wait).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from payintents.benchmark.progress import ProgressBar

REQUEST_TIMEOUT_S = 30.0
TIMEOUT_STATUS = "timeout"
ERROR_STATUS = "connection error"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What to send: ``count`` refunds spread over ``intent_ids``, then ``gets`` reads of them;
    with ``arrival_rate_per_s`` the refunds are sent open loop at that rate (and no reads)."""

    host: str
    port: int
    api_key: str
    intent_ids: list[str]
    count: int
    concurrency: int
    max_amount: int
    gets: int = 0
    label: str = "refunds"
    seed: int = 1
    arrival_rate_per_s: float = 0.0


@dataclass(slots=True)
class PhaseResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def record(self, status: str, started: float) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass(slots=True)
class LoadResult:
    refunds: PhaseResult
    gets: PhaseResult
    client_cpu_s: float


def refund_request(plan: LoadPlan, index: int, rng: random.Random) -> bytes:
    """One refund of a partial amount with its own idempotency key, as raw HTTP/1.1 bytes."""
    intent_id = plan.intent_ids[index % len(plan.intent_ids)]
    body = json.dumps({"amount": rng.randint(1, plan.max_amount), "notes": f"bench {index}"}).encode()
    head = (
        f"POST /payment-intents/{intent_id}/refunds HTTP/1.1\r\nHost: {plan.host}\r\n"
        f"Authorization: Basic {plan.api_key}\r\nVersion: 2024-02-05\r\n"
        f"IdempotencyKey: bench-{plan.seed}-{plan.label}-{index}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(plan: LoadPlan, index: int) -> bytes:
    intent_id = plan.intent_ids[index % len(plan.intent_ids)]
    return (
        f"GET /payment-intents/{intent_id} HTTP/1.1\r\nHost: {plan.host}\r\n"
        f"Authorization: Basic {plan.api_key}\r\nVersion: 2024-02-05\r\n\r\n"
    ).encode()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> str:
    """Send one request and read its whole response; the status code as text."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status_line.split(" ", 2)[1]


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def send(plan: LoadPlan, connection: Connection, request: bytes) -> tuple[str, Connection]:
    """One exchange with a deadline; the status, and the connection to use next (a new one if
    this one timed out or broke)."""
    try:
        status = await asyncio.wait_for(exchange(*connection, request), REQUEST_TIMEOUT_S)
    except TimeoutError:
        status = TIMEOUT_STATUS
    except (OSError, asyncio.IncompleteReadError):
        status = ERROR_STATUS
    if status in (TIMEOUT_STATUS, ERROR_STATUS):
        connection[1].close()
        connection = await asyncio.open_connection(plan.host, plan.port)
    return status, connection


async def run_phase(plan: LoadPlan, total: int, build: Any, bar: ProgressBar | None) -> PhaseResult:
    """``plan.concurrency`` connections take the next request number until ``total`` were sent."""
    result = PhaseResult()
    if total == 0:
        return result
    next_index = iter(range(total))
    rng = random.Random(plan.seed)

    async def client() -> None:
        connection = await asyncio.open_connection(plan.host, plan.port)
        try:
            for index in next_index:
                started = time.perf_counter()
                status, connection = await send(plan, connection, build(index, rng))
                result.record(status, started)
                if bar is not None:
                    bar.advance()
        finally:
            connection[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(plan.concurrency, max(total, 1)))))
    result.elapsed_s = time.perf_counter() - started
    return result


async def run_open_loop(plan: LoadPlan, bar: ProgressBar | None) -> PhaseResult:
    """Refund ``i`` is due ``i / arrival_rate_per_s`` seconds after the start and goes out then
    on the first free one of ``plan.concurrency`` connections."""
    result = PhaseResult()
    rng = random.Random(plan.seed)
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(plan.concurrency):
        free.put_nowait(await asyncio.open_connection(plan.host, plan.port))

    async def due(index: int, due_at: float) -> None:
        status, connection = await send(plan, await free.get(), refund_request(plan, index, rng))
        result.record(status, due_at)
        free.put_nowait(connection)
        if bar is not None:
            bar.advance()

    started = time.perf_counter()
    sent = []
    for index in range(plan.count):
        due_at = started + index / plan.arrival_rate_per_s
        await asyncio.sleep(max(due_at - time.perf_counter(), 0))
        sent.append(asyncio.create_task(due(index, due_at)))
    await asyncio.gather(*sent)
    result.elapsed_s = time.perf_counter() - started
    while not free.empty():
        free.get_nowait()[1].close()
    return result


async def run_plan(plan: LoadPlan, show_progress: bool) -> LoadResult:
    cpu_before = _cpu_s()
    bar = ProgressBar(plan.label, plan.count) if show_progress and plan.count else None
    if plan.arrival_rate_per_s:
        refunds = await run_open_loop(plan, bar)
    else:
        refunds = await run_phase(plan, plan.count, lambda i, rng: refund_request(plan, i, rng), bar)
    if bar is not None:
        bar.finish()
    bar = ProgressBar(f"{plan.label}: GET", plan.gets) if show_progress and plan.gets else None
    gets = await run_phase(plan, plan.gets, lambda i, _rng: get_request(plan, i), bar)
    if bar is not None:
        bar.finish()
    return LoadResult(refunds, gets, _cpu_s() - cpu_before)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    spec: dict[str, Any] = json.load(sys.stdin)
    show_progress = bool(spec.pop("show_progress", False))
    result = asyncio.run(run_plan(LoadPlan(**spec), show_progress))
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
