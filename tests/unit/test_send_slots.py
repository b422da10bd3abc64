"""The dispatcher's sending slots (``workers/dispatcher.py``, ADR 0022): free slots, the room each
subscription has (8 sends at once; 1 while its receiver's last attempt failed), and recovery."""

from __future__ import annotations

from datetime import UTC, datetime

from payintents.domain.events import EventName, status_event
from payintents.domain.intent import CaptureMode, Environment, Scope, Status
from payintents.service.ports import DeliveryJob
from payintents.workers import dispatcher
from payintents.workers.dispatcher import PER_FAILING_SUBSCRIPTION, PER_SUBSCRIPTION, SendSlots

SCOPE = Scope("acc_1", Environment.SANDBOX)


def job(subscription_id: str) -> DeliveryJob:
    event = status_event(
        "evt_1", EventName.PAYMENT_INTENT_CREATED, SCOPE, "pi_1", Status.CREATED, CaptureMode.AUTO,
        datetime(2026, 3, 2, tzinfo=UTC),
    )  # fmt: skip
    return DeliveryJob(event, subscription_id, "https://hooks.example.com/", "sc_1", "secret", 0)


def test_a_subscription_fills_its_room_and_no_more() -> None:
    slots = SendSlots(slots=32)
    for _ in range(PER_SUBSCRIPTION):
        slots.started(job("ws_a"))
    free, room = slots.room()
    assert free == 32 - PER_SUBSCRIPTION
    assert room.of("ws_a") == 0 and room.full() == ["ws_a"]
    assert room.of("ws_b") == PER_SUBSCRIPTION
    slots.finished(job("ws_a"), "delivered")
    free, room = slots.room()
    assert (free, room.of("ws_a"), room.full()) == (32 - PER_SUBSCRIPTION + 1, 1, [])


def test_a_failing_receiver_gets_one_slot_until_it_answers_again() -> None:
    slots = SendSlots()
    for outcome in ("retry", "failed", "error"):
        slots.started(job("ws_a"))
        slots.finished(job("ws_a"), outcome)
        assert slots.room()[1].of("ws_a") == PER_FAILING_SUBSCRIPTION
    slots.started(job("ws_a"))
    assert slots.room()[1].full() == ["ws_a"]
    slots.finished(job("ws_a"), "lease-lost")  # says nothing about the receiver
    assert slots.room()[1].of("ws_a") == PER_FAILING_SUBSCRIPTION
    slots.started(job("ws_a"))
    slots.finished(job("ws_a"), "delivered")
    assert slots.room()[1].of("ws_a") == PER_SUBSCRIPTION


def test_failing_marks_are_bounded() -> None:
    slots = SendSlots()
    remembered = dispatcher.FAILING_REMEMBERED
    for n in range(remembered + 5):
        slots.started(job(f"ws_{n}"))
        slots.finished(job(f"ws_{n}"), "retry")
    _, room = slots.room()
    assert len(room.left) == remembered
    assert room.of("ws_0") == PER_SUBSCRIPTION  # the oldest marks were forgotten first
    assert room.of(f"ws_{remembered + 4}") == PER_FAILING_SUBSCRIPTION
