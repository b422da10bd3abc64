"""The refund use case on the in-memory fakes: what an applied refund writes, that a rejected one
writes nothing (so its key stays unspent), replays, key conflicts, scoping, and reading refunds."""

from __future__ import annotations

import json

import pytest

from payintents.domain import lifecycle
from payintents.domain.errors import IdempotencyConflictError, NotFoundError, RuleBrokenError
from payintents.domain.events import EventName
from payintents.domain.idempotency import StoredResponse, fingerprint
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Currency, Money
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service import checkout
from payintents.service.idempotent import Answer, IdempotentRequest
from tests.fakes import FakeWorld
from tests.unit import sync_use_cases as sync

SCOPE = Scope("acc_1", Environment.SANDBOX)
SUCCESS = checkout.CardDetails("5200000000001005", "12/29", "020", None)


def render_intent(intent: PaymentIntent) -> StoredResponse:
    return StoredResponse(200, json.dumps({"id": intent.id}).encode())


def render(outcome: RefundOutcome) -> StoredResponse:
    body = {
        "paymentIntentId": outcome.refund.payment_intent_id,
        "refundId": outcome.refund.id,
        "message": f"refund for {outcome.reference}",
    }
    return StoredResponse(200, json.dumps(body).encode())


def new_intent(world: FakeWorld, amount: int = 1000, *, pay: bool = True) -> str:
    spec = IntentSpec(
        Money(amount, Currency.GBP), "Order 234", CaptureMode.AUTO, None, (), None, None, None, {}
    )
    request = IdempotentRequest(None, "create", fingerprint("create", {}))
    answer = sync.create_intent(world.deps, SCOPE, spec, request, render_intent)
    intent_id = str(json.loads(answer.response.body)["id"])
    if pay:
        sync.pay(world.deps, intent_id, SUCCESS)
    return intent_id


def refund(
    world: FakeWorld,
    intent_id: str,
    amount: int,
    key: str = "k1",
    scope: Scope = SCOPE,
    notes: str | None = None,
) -> Answer:
    body = {"amount": amount, "notes": notes}
    request = IdempotentRequest(
        key, intent_id, fingerprint(f"POST /payment-intents/{intent_id}/refunds", body)
    )
    wanted = RefundRequest(amount, "Demo refund", notes)
    return sync.create_refund(world.deps, scope, intent_id, wanted, request, render)


def snapshot(world: FakeWorld) -> tuple[int, str]:
    return world.store.commits, repr(world.store.state)


def test_partial_refund_writes_refund_and_one_refund_created_event(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    outbox_before = len(world.store.state.outbox)
    answer = refund(world, intent_id, 400)
    assert not answer.replayed
    body = json.loads(answer.response.body)
    assert body["message"] == "refund for Order 234"
    intent = world.store.state.intents[intent_id]
    assert intent.status is Status.CAPTURED and intent.refunded_amount == 400
    [stored] = world.store.state.refunds.values()
    assert (stored.id, stored.amount, stored.refund_reason) == (body["refundId"], 400, "Demo refund")
    assert stored.id.startswith("rfnd_") and stored.created_at == world.clock.now()
    new_events = world.store.state.outbox[outbox_before:]
    assert [e.name for e in new_events] == [EventName.REFUND_CREATED]
    assert new_events[0].data == {
        "paymentIntentId": intent_id,
        "refundId": stored.id,
        "amount": 400,
        "refundedAmount": 400,
    }


def test_full_refund_also_writes_status_updated_refunded(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    refund(world, intent_id, 400, key="a")
    outbox_before = len(world.store.state.outbox)
    refund(world, intent_id, 600, key="b")
    refunded = world.store.state.intents[intent_id]
    assert (refunded.status, refunded.refunded_amount) == (Status.REFUNDED, 1000)
    events = world.store.state.outbox[outbox_before:]
    assert [e.name for e in events] == [EventName.REFUND_CREATED, EventName.PAYMENT_INTENT_STATUS_UPDATED]
    assert events[1].data == {
        "paymentIntentId": intent_id,
        "paymentStatus": "Refunded",
        "captureMode": "Auto",
    }


@pytest.mark.parametrize(
    ("setup", "amount", "error", "words"),
    [
        ("captured", 1001, RuleBrokenError, "remaining refundable amount 1000"),
        ("created", 1, RuleBrokenError, "Created"),
        ("refunded", 1, RuleBrokenError, "already been fully refunded"),
        ("missing", 1, NotFoundError, "does not exist"),
        ("canceled", 1, NotFoundError, "does not exist"),
    ],
)
def test_a_rejected_refund_changes_nothing_and_spends_no_key(
    world: FakeWorld, setup: str, amount: int, error: type[Exception], words: str
) -> None:
    intent_id = (
        "pi_missing" if setup == "missing" else new_intent(world, pay=setup not in ("created", "canceled"))
    )
    if setup == "refunded":
        refund(world, intent_id, 1000, key="full")
    if setup == "canceled":
        sync.change_intent(
            world.deps,
            SCOPE,
            intent_id,
            lifecycle.cancel,
            IdempotentRequest(None, intent_id, "x"),
            render_intent,
        )
    before = snapshot(world)
    with pytest.raises(error, match=words):
        refund(world, intent_id, amount, key="retry-me")
    assert snapshot(world) == before
    assert not any(k[3] == "retry-me" for k in world.store.state.keys)


def test_the_key_of_a_rejected_refund_can_be_reused(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    with pytest.raises(RuleBrokenError):
        refund(world, intent_id, 5000, key="same")
    answer = refund(world, intent_id, 400, key="same")
    assert not answer.replayed
    assert world.store.state.intents[intent_id].refunded_amount == 400


def test_same_key_same_body_replays_and_changes_nothing(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    first = refund(world, intent_id, 400, key="656565gfyd65")
    before = repr(world.store.state)
    again = refund(world, intent_id, 400, key="656565gfyd65")
    assert again == Answer(first.response, replayed=True)
    assert again.response.body == first.response.body
    # The unit that found the key commits like any unit (the runner's rule), writing nothing.
    assert repr(world.store.state) == before
    assert world.store.state.intents[intent_id].refunded_amount == 400
    assert len(world.store.state.refunds) == 1


def test_same_key_different_body_is_a_conflict_and_changes_nothing(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    refund(world, intent_id, 400, key="k")
    before = repr(world.store.state)
    with pytest.raises(IdempotencyConflictError):
        refund(world, intent_id, 401, key="k")
    with pytest.raises(IdempotencyConflictError):
        refund(world, intent_id, 400, key="k", notes="changed")
    assert repr(world.store.state) == before


def test_keys_are_scoped_per_intent(world: FakeWorld) -> None:
    one, two = new_intent(world), new_intent(world)
    refund(world, one, 100, key="k")
    assert not refund(world, two, 100, key="k").replayed
    assert world.store.state.intents[two].refunded_amount == 100


def test_another_account_or_environment_sees_not_found(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    for scope in (Scope("acc_2", Environment.SANDBOX), Scope("acc_1", Environment.PRODUCTION)):
        before = snapshot(world)
        with pytest.raises(NotFoundError, match="does not exist"):
            refund(world, intent_id, 1, scope=scope)
        assert snapshot(world) == before


def test_refunds_are_read_back_by_id_and_listed_per_intent(world: FakeWorld) -> None:
    intent_id = new_intent(world)
    first = json.loads(refund(world, intent_id, 100, key="a").response.body)["refundId"]
    world.clock.advance(minutes=1)
    second = json.loads(refund(world, intent_id, 200, key="b").response.body)["refundId"]
    assert sync.get_refund(world.deps, SCOPE, first).amount == 100
    listed = sync.list_refunds(world.deps, SCOPE, intent_id)
    assert [(r.id, r.amount) for r in listed] == [(first, 100), (second, 200)]
    with pytest.raises(NotFoundError, match="refund does not exist"):
        sync.get_refund(world.deps, Scope("acc_2", Environment.SANDBOX), first)
    with pytest.raises(NotFoundError):
        sync.list_refunds(world.deps, SCOPE, "pi_unknown")
