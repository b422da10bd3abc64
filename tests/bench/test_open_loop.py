"""The open-loop load: refunds go out on a fixed schedule whatever the server does, and a refund's
latency counts from when it was due, so a slow server's queue shows in the figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from payintents.benchmark.load import LoadPlan, PhaseResult, run_open_loop


@asynccontextmanager
async def answering_server(answer_after_s: float) -> AsyncIterator[int]:
    """A loopback HTTP/1.1 server that answers every request 200 after ``answer_after_s``, one
    request at a time per connection; its port."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
                await reader.readexactly(int(length[0].split(b":")[1]) if length else 0)
                await asyncio.sleep(answer_after_s)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _plan(port: int, count: int, rate_per_s: float, connections: int) -> LoadPlan:
    return LoadPlan("127.0.0.1", port, "sk", ["pi_1"], count, connections, 100, arrival_rate_per_s=rate_per_s)


def _run(answer_after_s: float, count: int, rate_per_s: float, connections: int) -> PhaseResult:
    async def main() -> PhaseResult:
        async with answering_server(answer_after_s) as port:
            return await run_open_loop(_plan(port, count, rate_per_s, connections), None)

    return asyncio.run(main())


def test_refunds_go_out_on_the_schedule_and_are_all_counted() -> None:
    result = _run(answer_after_s=0.0, count=20, rate_per_s=100.0, connections=4)
    assert result.statuses == {"200": 20}
    # The 20th refund is due 0.19 s after the first: the run cannot be shorter than its schedule.
    assert 0.19 <= result.elapsed_s < 2.0


def test_a_server_slower_than_the_arrivals_shows_as_growing_latency() -> None:
    # One connection, 50 ms an answer, a refund due every 10 ms: each waits behind the last.
    result = _run(answer_after_s=0.05, count=10, rate_per_s=100.0, connections=1)
    assert result.statuses == {"200": 10}
    # A closed loop would report about 50 ms for each; the last one was due at 90 ms and answered
    # at about 500 ms, so it waited some 400 ms.
    assert result.latencies_ms[-1] > 300 and max(result.latencies_ms) == result.latencies_ms[-1]
