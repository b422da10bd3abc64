"""The async use cases, called as plain functions by the unit tests (each on an event loop of its
own, as a request with real time and failures looked up)."""

from __future__ import annotations

import asyncio
from typing import Any

from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import PaymentIntent
from payintents.domain.refund import Refund
from payintents.service import checkout, expiry, intents, refunds
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer
from payintents.service.mirror import Forwarded
from payintents.service.ports import RequestContext

REQUEST = RequestContext()
# What a create would send on to an upstream: the fakes have none, so it is never used.
NOT_FORWARDED = Forwarded({}, "2024-02-05", lambda body: StoredResponse(200, b"{}"))


def create_intent(deps: Dependencies, *args: Any) -> Answer:
    return asyncio.run(intents.create_intent(deps, REQUEST, *args, NOT_FORWARDED))


def change_intent(deps: Dependencies, *args: Any, **kwargs: Any) -> Answer:
    return asyncio.run(intents.change_intent(deps, REQUEST, *args, **kwargs))


def capture_intent(deps: Dependencies, *args: Any) -> Answer:
    return asyncio.run(intents.capture_intent(deps, REQUEST, *args))


def get_intent(deps: Dependencies, *args: Any, **kwargs: Any) -> PaymentIntent:
    return asyncio.run(intents.get_intent_and_sessions(deps, *args, **kwargs))[0]


def create_refund(deps: Dependencies, *args: Any) -> Answer:
    return asyncio.run(refunds.create_refund(deps, REQUEST, *args))


def get_refund(deps: Dependencies, *args: Any) -> Refund:
    return asyncio.run(refunds.get_refund(deps, *args))


def list_refunds(deps: Dependencies, *args: Any) -> list[Refund]:
    return asyncio.run(refunds.list_refunds(deps, *args))


def pay(deps: Dependencies, *args: Any) -> PaymentIntent:
    return asyncio.run(checkout.pay(deps, *args))


def reverse_intent(deps: Dependencies, *args: Any) -> Answer:
    return asyncio.run(intents.reverse_intent(deps, REQUEST, *args))


def run_expiry_pass(deps: Dependencies, *args: Any, **kwargs: Any) -> expiry.ExpiryReport:
    return asyncio.run(expiry.run_expiry_pass(deps, *args, **kwargs))
