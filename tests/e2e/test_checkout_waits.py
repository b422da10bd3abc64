"""Shoppers waiting on the sandbox's timeout card hold no worker thread (ADR 0021, sandbox
pauses): against a real ``payintents serve`` (one worker, so every
request shares its thread pool of 40), sixty concurrent key-less pays with the timeout card each
wait ``PAYINTENTS_SANDBOX_TIMEOUT_S`` seconds, and meanwhile readiness, the dashboard, an API read
on the event loop and one on a thread all answer at once. Before, the sixty sleeps took every
thread and each of those answers waited for a sleep to end. Functional, not a benchmark: the
bound (1 s against a 4 s wait) and "no pay had finished" leave a busy machine room."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Api, RunningServer, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOPPERS = 60
TIMEOUT_S = 4
TIMEOUT_CARD = {"cardNumber": "4111110000000127", "expiryDate": "12/29", "cvv": "123"}
ANSWER_BOUND_S = 1.0


@pytest.fixture
def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("PAYINTENTS_SANDBOX_TIMEOUT_S", str(TIMEOUT_S))
    with running_server(database_url, tmp_path, workers=1) as running:
        yield running


async def timed_get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    response = await client.get(path, headers=headers)
    return response.status_code, time.monotonic() - started


async def shoppers_and_probes(server: RunningServer, api: Api, intents: list[str]) -> None:
    limits = httpx.Limits(max_connections=SHOPPERS + 10)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
        pays = [
            asyncio.create_task(client.post(f"/checkout/{intent_id}/pay", json=TIMEOUT_CARD))
            for intent_id in intents
        ]
        await asyncio.sleep(1.0)  # every shopper is waiting on the processor by now
        probes = {
            "ready": ("/health/ready", {}),
            "dashboard": ("/dashboard/sign-in", {}),
            "intent (event loop)": (f"/payment-intents/{intents[0]}", api.headers()),
            "webhooks (thread)": ("/webhooks", api.headers()),
        }
        for name, (path, headers) in probes.items():
            status, took_s = await timed_get(client, path, headers)
            assert status == 200, name
            assert took_s < ANSWER_BOUND_S, f"{name} took {took_s:.2f} s behind the waiting shoppers"
        assert not any(pay.done() for pay in pays), "the probes answered only once shoppers were done"
        answers = await asyncio.gather(*pays)
    assert [answer.status_code for answer in answers] == [504] * SHOPPERS


def test_sixty_shoppers_on_the_timeout_card_leave_the_server_answering(server: RunningServer) -> None:
    key = server.new_account()["sandboxKey"]
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        api = Api(http, key)
        intents = [str(api.create_intent(1000)["id"]) for _ in range(SHOPPERS)]
        asyncio.run(shoppers_and_probes(server, api, intents))
        assert {api.intent(intent_id)["status"] for intent_id in intents} == {"Created"}
    assert server.log_problems() == []
