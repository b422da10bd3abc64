"""The Dojo client and processor (adapters/dojo_api.py, adapters/dojo_processor.py, ADR 0032)
against a scripted transport: headers, which answers are retried (only lost or ambiguous ones,
only for reads and keyed refunds, always with the same key), how answers map to the processor
port's errors, and when a lookup answers. The key never appears in an error or a repr."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from payintents.adapters import dojo_api
from payintents.adapters.dojo_api import (
    DojoApi,
    DojoOutcomeUnknownError,
    DojoRefusedError,
    DojoUnavailableError,
)
from payintents.adapters.dojo_processor import DojoProcessor
from payintents.domain.intent import Environment, Scope
from payintents.domain.money_operation import MoneyOperation, OperationKind, ProcessorOutcome
from payintents.service.ports import (
    ProcessorDeclinedError,
    ProcessorOutcomeUnknownError,
    ProcessorUnavailableError,
)
from tests.fakes import FakeClock, pending_operation

KEY = "sk_prod_secret-dojo-key"
Script = Callable[[httpx.Request], httpx.Response]
REFUND = {"paymentIntentId": "pi_1", "refundId": "rfnd_dojo", "refundReason": None, "notes": None}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dojo_api, "FIRST_RETRY_PAUSE_S", 0.0)


class Recorded:
    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def api_of(script: Recorded) -> DojoApi:
    return DojoApi("https://dojo.test", KEY, transport=httpx.MockTransport(script))


def problem(status: int, detail: str | None = None, **errors: list[str]) -> httpx.Response:
    body: dict[str, object] = {"type": "t", "title": "Title", "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return httpx.Response(status, json=body)


def test_a_refund_sends_the_key_headers_and_body() -> None:
    script = Recorded(httpx.Response(200, json=REFUND))
    refund = asyncio.run(api_of(script).refund("pi_1", {"amount": 300}, "payintents-op_1"))
    sent = script.requests[0]
    assert refund.refund_id == "rfnd_dojo"
    assert (sent.method, sent.url.path) == ("POST", "/payment-intents/pi_1/refunds")
    assert sent.headers["authorization"] == f"Basic {KEY}" and sent.headers["version"] == "2024-02-05"
    assert sent.headers["idempotencykey"] == "payintents-op_1" and json.loads(sent.content) == {"amount": 300}


def test_a_lost_or_ambiguous_refund_answer_is_asked_again_under_the_same_key() -> None:
    script = Recorded(httpx.ReadError("reset"), problem(500), httpx.Response(200, json=REFUND))
    refund = asyncio.run(api_of(script).refund("pi_1", {"amount": 300}, "payintents-op_1"))
    assert refund.refund_id == "rfnd_dojo"
    assert [r.headers["idempotencykey"] for r in script.requests] == ["payintents-op_1"] * 3


def test_retries_are_bounded_and_end_as_an_unknown_outcome() -> None:
    script = Recorded(problem(504))
    with pytest.raises(DojoOutcomeUnknownError):
        asyncio.run(api_of(script).get_intent("pi_1"))
    assert len(script.requests) == dojo_api.ATTEMPTS


@pytest.mark.parametrize("status", [401, 403, 502, 503])
def test_dojos_nothing_done_answers_are_not_retried(status: int) -> None:
    script = Recorded(problem(status, "acquirer down"))
    with pytest.raises(DojoUnavailableError) as caught:
        asyncio.run(api_of(script).refund("pi_1", {"amount": 1}, "k"))
    assert len(script.requests) == 1 and caught.value.status == status and KEY not in str(caught.value)


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_redirect_is_nothing_done_never_followed_and_says_where(status: int) -> None:
    moved = httpx.Response(status, headers={"location": "https://elsewhere.test/payment-intents"})
    script = Recorded(moved)
    with pytest.raises(DojoUnavailableError, match=r"elsewhere\.test") as caught:
        asyncio.run(api_of(script).refund("pi_1", {"amount": 1}, "k"))
    assert len(script.requests) == 1 and caught.value.status == status
    assert [r.url.host for r in script.requests] == ["dojo.test"]


def test_a_capture_which_dojo_takes_no_key_for_is_never_repeated() -> None:
    script = Recorded(problem(500))
    with pytest.raises(DojoOutcomeUnknownError):
        asyncio.run(api_of(script).capture("pi_1", 100))
    assert len(script.requests) == 1


def test_a_refusal_carries_dojos_detail_or_field_errors() -> None:
    with pytest.raises(DojoRefusedError, match="Refund amount exceeds"):
        asyncio.run(api_of(Recorded(problem(400, "Refund amount exceeds the remaining 5"))).get_refund("r"))
    with pytest.raises(DojoRefusedError, match="The Amount field is required"):
        asyncio.run(api_of(Recorded(problem(400, Amount=["The Amount field is required."]))).get_refund("r"))


def test_an_unreachable_dojo_is_nothing_done_and_names_no_key() -> None:
    script = Recorded(httpx.ConnectError("refused"))
    with pytest.raises(DojoUnavailableError) as caught:
        asyncio.run(api_of(script).capture("pi_1", 100))
    assert KEY not in str(caught.value) and KEY not in repr(api_of(script))


def operation(clock: FakeClock, kind: OperationKind = OperationKind.REFUND) -> MoneyOperation:
    scope = Scope("acc_1", Environment.PRODUCTION)
    return pending_operation(scope, clock.now(), kind=kind, details={"notes": "n"})


@pytest.mark.parametrize(
    "answer, error",
    [
        (problem(400, "no"), ProcessorDeclinedError),
        (problem(502, "down"), ProcessorUnavailableError),
        (problem(500), ProcessorOutcomeUnknownError),
    ],
)
def test_the_processor_maps_dojos_answers_to_the_ports_errors(answer: httpx.Response, error: type) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    processor = DojoProcessor(api_of(Recorded(answer)), clock)
    with pytest.raises(error):
        asyncio.run(processor.perform(operation(clock)))


def test_a_lookup_answers_only_past_the_deadline_by_sending_the_refund_again() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    script = Recorded(httpx.Response(200, json=REFUND))
    processor = DojoProcessor(api_of(script), clock)
    pending = operation(clock)
    assert asyncio.run(processor.lookup(pending)) is None and script.requests == []
    clock.advance(seconds=5)
    found = asyncio.run(processor.lookup(pending))
    assert found is not None and (found.outcome, found.object_id) == (ProcessorOutcome.SUCCEEDED, "rfnd_dojo")
    assert script.requests[0].headers["idempotencykey"] == pending.processor_key
    assert json.loads(script.requests[0].content) == {"amount": 300, "notes": "n"}


def test_a_lookup_refused_is_declined_and_one_dojo_cannot_answer_stays_pending() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = operation(clock)
    clock.advance(seconds=5)
    refused = asyncio.run(DojoProcessor(api_of(Recorded(problem(400, "no"))), clock).lookup(late))
    assert refused is not None and refused.outcome is ProcessorOutcome.DECLINED
    with pytest.raises(ProcessorUnavailableError):
        asyncio.run(DojoProcessor(api_of(Recorded(problem(503))), clock).lookup(late))


def test_a_capture_is_judged_from_the_intent_at_dojo_and_takes_dojos_capture_id() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = operation(clock, OperationKind.CAPTURE)
    clock.advance(seconds=5)
    captures = [{"id": "cp_other", "amount": 100}, {"id": "cp_dojo", "amount": 300}]
    intent = {"id": "pi_1", "status": "Captured", "captures": captures}
    found = asyncio.run(DojoProcessor(api_of(Recorded(httpx.Response(200, json=intent))), clock).lookup(late))
    assert found is not None and (found.outcome, found.object_id) == (ProcessorOutcome.SUCCEEDED, "cp_dojo")


def test_a_capture_dojo_does_not_show_stays_pending_a_while_then_is_released() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = operation(clock, OperationKind.CAPTURE)
    authorized = {"id": "pi_1", "status": "Authorized", "captures": []}
    processor = DojoProcessor(api_of(Recorded(httpx.Response(200, json=authorized))), clock)
    clock.advance(seconds=5)  # past the deadline (4 s), not past the grace (4 s + 3 x 4 s)
    with pytest.raises(ProcessorUnavailableError, match="not seen at Dojo yet"):
        asyncio.run(processor.lookup(late))
    clock.advance(seconds=12)
    judged = asyncio.run(processor.lookup(late))
    assert judged is not None and judged.outcome is ProcessorOutcome.DECLINED


@pytest.mark.parametrize(
    "later",
    [httpx.ConnectError("refused"), problem(503, "down"), problem(502), problem(401)],
    ids=["unreachable", "503", "502", "401"],
)
def test_a_nothing_done_answer_after_a_lost_one_is_still_an_unknown_outcome(
    later: httpx.Response | Exception,
) -> None:
    """The first send may have refunded: a later attempt Dojo did not take says nothing of it, so
    the call must not end as "nothing done" (the operation would be released and its caller's key
    with it, and the caller's retry, a new operation, would refund a second time)."""
    script = Recorded(httpx.ReadError("reset"), later)
    with pytest.raises(DojoOutcomeUnknownError):
        asyncio.run(api_of(script).refund("pi_1", {"amount": 300}, "payintents-op_1"))
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    processor = DojoProcessor(api_of(Recorded(problem(500), later)), clock)
    with pytest.raises(ProcessorOutcomeUnknownError):
        asyncio.run(processor.perform(operation(clock)))


def test_a_conflict_on_a_keyed_refund_is_no_refusal() -> None:
    """Dojo's answer to a key it is still working on, or has used (409, as its conventions have
    it), says nothing about whether the refund was made: neither the call nor the lookup that
    sends it again may take it for "nothing done"."""
    conflict = problem(409, "A request with this idempotency key is in progress")
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ProcessorOutcomeUnknownError):
        asyncio.run(DojoProcessor(api_of(Recorded(conflict)), clock).perform(operation(clock)))
    late = operation(clock)
    clock.advance(seconds=5)
    with pytest.raises(ProcessorUnavailableError):
        asyncio.run(DojoProcessor(api_of(Recorded(conflict)), clock).lookup(late))
    # A 409 to a call without a key stays Dojo's refusal.
    with pytest.raises(DojoRefusedError):
        asyncio.run(api_of(Recorded(conflict)).capture("pi_1", 100))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>proxy</html>"),
        httpx.Response(200, json={"message": "ok"}),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["not-json", "no-refund-id", "a-list"],
)
def test_a_success_dojo_answered_in_a_shape_it_does_not_have_is_an_unknown_outcome(
    answer: httpx.Response,
) -> None:
    """A 2xx whose body cannot be read (a proxy's page, a missing id) may be a refund made: the
    operation stays pending (never a 500 with the reservation stuck and no error type to tell)."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ProcessorOutcomeUnknownError):
        asyncio.run(DojoProcessor(api_of(Recorded(answer)), clock).perform(operation(clock)))
    with pytest.raises(DojoOutcomeUnknownError):
        asyncio.run(api_of(Recorded(answer)).get_intent("pi_1"))


def test_a_lost_capture_is_not_taken_for_an_earlier_capture_of_the_same_amount() -> None:
    """Partial captures of one amount: the one the intent had before this operation (named in
    it) is not this one; taking it for this one would record a capture Dojo never made, under an
    id the intent already has."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = dataclasses.replace(operation(clock, OperationKind.CAPTURE), details={"priorCaptureIds": ["cp_a"]})
    captured_once = {"id": "pi_1", "status": "Captured", "captures": [{"id": "cp_a", "amount": 300}]}
    processor = DojoProcessor(api_of(Recorded(httpx.Response(200, json=captured_once))), clock)
    clock.advance(seconds=5)
    with pytest.raises(ProcessorUnavailableError, match="not seen at Dojo yet"):
        asyncio.run(processor.lookup(late))
    clock.advance(seconds=12)
    judged = asyncio.run(processor.lookup(late))
    assert judged is not None and judged.outcome is ProcessorOutcome.DECLINED


def test_a_capture_without_tips_matches_dojos_capture_with_tips_of_zero() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    late = operation(clock, OperationKind.CAPTURE)
    clock.advance(seconds=5)
    captures = [{"id": "cp_dojo", "amount": 300, "tipsAmount": 0}]
    intent = {"id": "pi_1", "status": "Captured", "captures": captures}
    found = asyncio.run(DojoProcessor(api_of(Recorded(httpx.Response(200, json=intent))), clock).lookup(late))
    assert found is not None and (found.outcome, found.object_id) == (ProcessorOutcome.SUCCEEDED, "cp_dojo")
