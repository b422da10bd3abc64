"""The gateway's pure parts: a mirror follows what Dojo reports, only forwards (domain/mirror.py),
and an operation takes the id the processor gave what it created (MoneyOperation.named)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payintents.domain.intent import CaptureMode, Status
from payintents.domain.mirror import UpstreamCapture, UpstreamState, follow
from payintents.domain.money_operation import MoneyOperation
from tests.fakes import pending_operation
from tests.unit.test_lifecycle import NOW, SCOPE, opened

LATER = NOW + timedelta(minutes=1)
DETAILS = {"transactionId": "tx_dojo", "message": "DEPOSITED"}


def test_a_payment_at_dojo_captures_the_mirror_with_dojos_capture() -> None:
    intent = opened(1000)
    state = UpstreamState("pi_1", Status.CAPTURED, (UpstreamCapture("cp_dojo", 1000, None),), DETAILS)
    assert follow(intent, state, LATER)
    assert (intent.status, intent.refundable_amount, intent.payment_details) == (
        Status.CAPTURED,
        1000,
        DETAILS,
    )
    assert [c.id for c in intent.captures] == ["cp_dojo"]
    assert not follow(intent, state, LATER)  # nothing new the second time


def test_an_authorization_at_dojo_and_then_a_reversal_are_followed() -> None:
    intent = opened(1000, mode=CaptureMode.MANUAL)
    assert follow(intent, UpstreamState("pi_1", Status.AUTHORIZED, (), DETAILS), LATER)
    assert intent.status is Status.AUTHORIZED
    assert follow(intent, UpstreamState("pi_1", Status.REVERSED), LATER)
    assert intent.status is Status.REVERSED


def test_the_mirror_never_goes_back_over_refunds_recorded_here() -> None:
    intent = opened(1000)
    follow(
        intent,
        UpstreamState("pi_1", Status.CAPTURED, (UpstreamCapture("cp_dojo", 1000, None),), DETAILS),
        LATER,
    )
    intent.refunded_amount = 300
    assert not follow(intent, UpstreamState("pi_1", Status.REVERSED), LATER)
    assert not follow(intent, UpstreamState("pi_1", Status.AUTHORIZED), LATER)
    assert intent.status is Status.CAPTURED


def operation(body: bytes) -> MoneyOperation:
    return pending_operation(SCOPE, NOW, body=body, deadline_at=LATER)


def test_an_operation_named_by_the_processor_carries_its_id_in_the_answer() -> None:
    ours = operation(b'{"paymentIntentId":"pi_1","refundId":"rfnd_ours","notes":"n"}')
    named = ours.named("rfnd_dojo")
    assert named.object_id == "rfnd_dojo"
    assert named.answer.body == b'{"paymentIntentId":"pi_1","refundId":"rfnd_dojo","notes":"n"}'
    assert ours.named(None) is ours and ours.named("rfnd_ours") is ours


def test_an_answer_that_does_not_name_the_object_once_is_refused() -> None:
    with pytest.raises(ValueError, match="does not name"):
        operation(b'{"refundId":"rfnd_other"}').named("rfnd_dojo")
