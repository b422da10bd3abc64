"""Service use cases on payment intents, expiry and accounts, run on the in-memory fakes: outbox
events, optimistic-concurrency retries, the expiry pass, and API keys (shown once, stored hashed)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta

import pytest

from payintents.domain import lifecycle
from payintents.domain.errors import NotFoundError, RuleBrokenError, StateConflictError
from payintents.domain.events import EventName
from payintents.domain.idempotency import StoredResponse, fingerprint
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Currency, Money
from payintents.domain.money_operation import MoneyOperation, OperationStatus
from payintents.service import accounts, checkout, intents, money_operations
from payintents.service.idempotent import MAX_ATTEMPTS, IdempotentRequest
from payintents.service.ports import (
    ConcurrentUpdateError,
    ProcessorOutcomeUnknownError,
    RequestContext,
    StoreBusyError,
)
from tests.fakes import ApprovingProcessor, FakeWorld, MemoryStore, MemoryUnitOfWork
from tests.unit import sync_use_cases as sync
from tests.unit.sync_use_cases import run_expiry_pass

SCOPE = Scope("acc_1", Environment.SANDBOX)
SUCCESS = checkout.CardDetails("5200000000001005", "12/29", "020", None)


def render(intent: PaymentIntent) -> StoredResponse:
    body = {"id": intent.id, "status": intent.status.value, "version": intent.version}
    return StoredResponse(200, json.dumps(body).encode())


def no_key(target: str = "create") -> IdempotentRequest:
    return IdempotentRequest(None, target, fingerprint("op", {}))


def spec(amount: int = 1000, mode: CaptureMode = CaptureMode.AUTO) -> IntentSpec:
    return IntentSpec(Money(amount, Currency.GBP), "Order 234", mode, None, (), None, None, None, {})


def create(world: FakeWorld, amount: int = 1000, mode: CaptureMode = CaptureMode.AUTO) -> str:
    answer = sync.create_intent(world.deps, SCOPE, spec(amount, mode), no_key(), render)
    return str(json.loads(answer.response.body)["id"])


def event_names(world: FakeWorld) -> list[EventName]:
    return [e.name for e in world.store.state.outbox]


def test_create_intent_stores_it_and_writes_one_created_event(world: FakeWorld) -> None:
    intent_id = create(world)
    assert world.store.commits == 1
    assert world.store.state.intents[intent_id].status is Status.CREATED
    [event] = world.store.state.outbox
    assert event.name is EventName.PAYMENT_INTENT_CREATED
    assert event.data == {"paymentIntentId": intent_id, "paymentStatus": "Created", "captureMode": "Auto"}
    assert event.scope == SCOPE and event.created_at == world.clock.now()


def test_create_intent_with_a_key_replays_without_a_second_intent(world: FakeWorld) -> None:
    request = IdempotentRequest("k1", "create", fingerprint("POST /payment-intents", {"a": 1}))
    first = sync.create_intent(world.deps, SCOPE, spec(), request, render)
    again = sync.create_intent(world.deps, SCOPE, spec(), request, render)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.response == first.response
    assert len(world.store.state.intents) == 1 and world.store.commits == 1


def test_status_updated_only_when_the_status_changes(world: FakeWorld) -> None:
    intent_id = create(world, 1000, CaptureMode.MANUAL)
    sync.pay(world.deps, intent_id, SUCCESS)
    assert event_names(world)[-1] is EventName.PAYMENT_INTENT_STATUS_UPDATED
    count = len(world.store.state.outbox)
    capture(world, intent_id, 400)
    assert len(world.store.state.outbox) == count + 1
    assert world.store.state.outbox[-1].data["paymentStatus"] == "Captured"
    capture(world, intent_id, 400)
    secret = intents.refresh_secret_change(world.deps)
    with pytest.raises(RuleBrokenError):  # a secret is only issued while Created
        sync.change_intent(world.deps, SCOPE, intent_id, secret, no_key(intent_id), render)
    assert len(world.store.state.outbox) == count + 1
    assert world.store.state.intents[intent_id].captured_amount == 800


def test_refresh_secret_on_a_created_intent_writes_no_event(world: FakeWorld) -> None:
    intent_id = create(world)
    secret = intents.refresh_secret_change(world.deps)
    sync.change_intent(world.deps, SCOPE, intent_id, secret, no_key(intent_id), render)
    assert event_names(world) == [EventName.PAYMENT_INTENT_CREATED]
    assert world.store.state.intents[intent_id].client_session_secret is not None


def test_change_of_another_scope_or_a_canceled_intent_is_not_found(world: FakeWorld) -> None:
    intent_id = create(world)
    other = Scope("acc_2", Environment.SANDBOX)
    prod = Scope("acc_1", Environment.PRODUCTION)
    cancel = lifecycle.cancel
    for scope in (other, prod):
        with pytest.raises(NotFoundError):
            sync.change_intent(world.deps, scope, intent_id, cancel, no_key(intent_id), render)
    sync.change_intent(world.deps, SCOPE, intent_id, cancel, no_key(intent_id), render)
    with pytest.raises(NotFoundError):
        sync.get_intent(world.deps, SCOPE, intent_id)
    assert sync.get_intent(world.deps, SCOPE, intent_id, return_canceled=True).status is Status.CANCELED


def test_a_refused_change_commits_nothing(world: FakeWorld) -> None:
    intent_id = create(world)
    before = world.store.commits
    with pytest.raises(StateConflictError):
        sync.reverse_intent(world.deps, SCOPE, intent_id, no_key(intent_id), render)
    assert world.store.commits == before


# --- optimistic concurrency ----------------------------------------------------------------------


class FlakyUnitOfWork(MemoryUnitOfWork):
    """A memory unit of work whose ``intents.save`` loses a version race while failures remain."""

    def __init__(self, store: MemoryStore, failures: list[int]) -> None:
        super().__init__(store)
        self._failures = failures

    def __enter__(self) -> FlakyUnitOfWork:
        super().__enter__()
        real_save = self.intents.save

        def save(intent: PaymentIntent, finishing: str | None = None) -> None:
            if self._failures[0] > 0:
                self._failures[0] -= 1
                raise ConcurrentUpdateError(intent.id)
            real_save(intent, finishing)

        self.intents.save = save  # type: ignore[method-assign]
        return self


def flaky(world: FakeWorld, failures: int) -> tuple[FakeWorld, list[int]]:
    budget = [failures]
    deps = dataclasses.replace(world.deps, uow=lambda: FlakyUnitOfWork(world.store, budget))
    return dataclasses.replace(world, deps=deps), budget


def capture(world: FakeWorld, intent_id: str, amount: int, key: str | None = None) -> bytes:
    request = IdempotentRequest(key, intent_id, fingerprint("capture", {"amount": amount}))
    captured = intents.capture_intent(
        world.deps, RequestContext(), SCOPE, intent_id, (amount, None), request, render
    )
    return asyncio.run(captured).response.body


def _cancel_with_key(world: FakeWorld, intent_id: str) -> bytes:
    request = IdempotentRequest("cancel-1", intent_id, fingerprint("cancel", {}))
    return sync.change_intent(world.deps, SCOPE, intent_id, lifecycle.cancel, request, render).response.body


def test_execute_once_retries_a_lost_version_race(world: FakeWorld) -> None:
    intent_id = create(world)
    commits = world.store.commits
    racing, budget = flaky(world, MAX_ATTEMPTS - 1)
    body = _cancel_with_key(racing, intent_id)
    assert budget == [0]
    assert world.store.commits == commits + 1
    assert world.store.state.intents[intent_id].status is Status.CANCELED
    assert json.loads(body)["status"] == "Canceled"
    assert len(world.store.state.keys) == 1


def test_execute_once_gives_up_as_busy_after_max_attempts(world: FakeWorld) -> None:
    intent_id = create(world)
    commits, outbox = world.store.commits, len(world.store.state.outbox)
    racing, budget = flaky(world, MAX_ATTEMPTS)
    with pytest.raises(StoreBusyError):
        _cancel_with_key(racing, intent_id)
    assert budget == [0]
    assert world.store.commits == commits and len(world.store.state.outbox) == outbox
    assert world.store.state.intents[intent_id].status is Status.CREATED
    assert world.store.state.keys == {}
    _cancel_with_key(world, intent_id)  # the key was never spent
    assert world.store.state.intents[intent_id].status is Status.CANCELED


# --- expiry --------------------------------------------------------------------------------------


def test_expiry_pass_cancels_due_created_and_releases_due_authorized(world: FakeWorld) -> None:
    stale = create(world)
    authorized = create(world, 500, CaptureMode.MANUAL)
    sync.pay(world.deps, authorized, SUCCESS)
    captured = create(world)
    sync.pay(world.deps, captured, SUCCESS)
    world.clock.advance(days=7)
    fresh = create(world)
    assert run_expiry_pass(world.deps).intents_expired == 1
    assert world.store.state.intents[authorized].status is Status.REVERSED
    world.clock.advance(days=23)
    assert run_expiry_pass(world.deps).intents_expired == 1
    states = {i: world.store.state.intents[i].status for i in (stale, authorized, captured, fresh)}
    assert states == {
        stale: Status.CANCELED,
        authorized: Status.REVERSED,
        captured: Status.CAPTURED,
        fresh: Status.CREATED,
    }
    assert run_expiry_pass(world.deps).intents_expired == 0
    assert event_names(world).count(EventName.PAYMENT_INTENT_STATUS_UPDATED) == 4


def test_expiry_pass_reaps_only_keys_older_than_retention(world: FakeWorld) -> None:
    assert world.deps.idempotency_retention == timedelta(hours=72)
    old = IdempotentRequest("old", "create", fingerprint("op", {}))
    sync.create_intent(world.deps, SCOPE, spec(), old, render)
    world.clock.advance(hours=72)
    young = IdempotentRequest("young", "create", fingerprint("op", {}))
    sync.create_intent(world.deps, SCOPE, spec(), young, render)
    assert run_expiry_pass(world.deps).keys_reaped == 0  # exactly at retention: kept
    world.clock.advance(seconds=1)
    assert run_expiry_pass(world.deps).keys_reaped == 1
    assert [k[3] for k in world.store.state.keys] == ["young"]


# --- accounts ------------------------------------------------------------------------------------


def test_create_account_returns_keys_once_and_stores_only_hashes(world: FakeWorld) -> None:
    new = accounts.create_account(world.deps, "merchant")
    assert new.sandbox_key.startswith("sk_sandbox_") and len(new.sandbox_key) == len("sk_sandbox_") + 86
    assert new.prod_key.startswith("sk_prod_") and len(new.prod_key) == len("sk_prod_") + 86
    state = repr(world.store.state)
    for raw in (new.sandbox_key, new.prod_key):
        assert raw not in state
        assert raw.split("_", 2)[2] not in state
        assert accounts.hash_key(raw) in world.store.state.api_keys
    assert world.store.state.accounts == {new.account_id: "merchant"}


def test_authenticate_opens_the_right_environment(world: FakeWorld) -> None:
    new = accounts.create_account(world.deps, "merchant")
    assert accounts.authenticate(world.deps, new.sandbox_key) == Scope(new.account_id, Environment.SANDBOX)
    assert accounts.authenticate(world.deps, new.prod_key) == Scope(new.account_id, Environment.PRODUCTION)


@pytest.mark.parametrize(
    "transform",
    [
        lambda k: k[:-1],
        lambda k: k + "x",
        lambda k: k.replace("sk_sandbox_", "sk_prod_"),
        lambda k: k.replace("sk_sandbox_", ""),
        lambda k: k.upper(),
        lambda k: " " + k,
        lambda k: "",
        lambda k: "sk_sandbox_",
        lambda k: "Basic " + k,
    ],
)
def test_authenticate_refuses_unknown_or_malformed_keys(world: FakeWorld, transform: object) -> None:
    new = accounts.create_account(world.deps, "merchant")
    assert accounts.authenticate(world.deps, transform(new.sandbox_key)) is None  # type: ignore[operator]


def test_demo_account_is_created_only_on_an_empty_store(world: FakeWorld) -> None:
    demo = accounts.create_demo_account_if_empty(world.deps)
    assert demo is not None
    assert world.store.state.accounts == {demo.account_id: accounts.DEMO_ACCOUNT_NAME}
    assert accounts.create_demo_account_if_empty(world.deps) is None
    assert len(world.store.state.accounts) == 1


def test_no_demo_account_when_one_already_exists(world: FakeWorld) -> None:
    accounts.create_account(world.deps, "merchant")
    assert accounts.create_demo_account_if_empty(world.deps) is None
    assert list(world.store.state.accounts.values()) == ["merchant"]


class CountingProcessor(ApprovingProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.captured: list[int] = []

    async def perform(self, operation: MoneyOperation) -> None:
        self.captured.append(operation.amount)
        await super().perform(operation)


class RacingUnitOfWork(MemoryUnitOfWork):
    """A memory unit of work whose capture reservation finds the intent changed while budget remains."""

    def __init__(self, store: MemoryStore, budget: list[int]) -> None:
        super().__init__(store)
        self._budget = budget

    def __enter__(self) -> RacingUnitOfWork:
        super().__enter__()
        real_reserve = self.intents.reserve_operation

        def reserve_operation(intent: PaymentIntent, operation_id: str) -> bool:
            if self._budget[0] > 0:
                self._budget[0] -= 1
                return False
            return real_reserve(intent, operation_id)

        self.intents.reserve_operation = reserve_operation  # type: ignore[method-assign]
        return self


def test_a_lost_reservation_race_never_asks_the_processor_twice(world: FakeWorld) -> None:
    intent_id = create(world, 1000, CaptureMode.MANUAL)
    sync.pay(world.deps, intent_id, SUCCESS)
    counting, budget = CountingProcessor(), [2]
    racing = dataclasses.replace(
        world.deps, processor=counting, uow=lambda: RacingUnitOfWork(world.store, budget), transactions=None
    )
    capture(dataclasses.replace(world, deps=racing), intent_id, 300, key="cap-1")
    assert budget == [0]  # two reservations lost their race and were tried again
    assert counting.captured == [300]  # yet the processor captured exactly once
    assert [c.amount for c in world.store.state.intents[intent_id].captures] == [300]


def test_negative_control_the_counter_sees_every_capture(world: FakeWorld) -> None:
    intent_id = create(world, 1000, CaptureMode.MANUAL)
    sync.pay(world.deps, intent_id, SUCCESS)
    counting = CountingProcessor()
    counted = dataclasses.replace(world, deps=dataclasses.replace(world.deps, processor=counting))
    for amount in (300, 200):
        capture(counted, intent_id, amount)
    assert counting.captured == [300, 200]


class RecordingProcessor(ApprovingProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.operations: list[MoneyOperation] = []

    async def perform(self, operation: MoneyOperation) -> None:
        self.operations.append(operation)
        await super().perform(operation)


def test_a_capture_names_the_captures_the_intent_had_before_it(world: FakeWorld) -> None:
    """A processor that judges a lost capture from the intent's captures at Dojo (ADR 0032) must
    not take an earlier capture of the same amount for it: the operation names those."""
    intent_id = create(world, 1000, CaptureMode.MANUAL)
    sync.pay(world.deps, intent_id, SUCCESS)
    recording = RecordingProcessor()
    recorded = dataclasses.replace(world, deps=dataclasses.replace(world.deps, processor=recording))
    capture(recorded, intent_id, 300)
    capture(recorded, intent_id, 300)
    first, second = recording.operations
    assert (first.details or {}).get("priorCaptureIds") == []
    assert (second.details or {}).get("priorCaptureIds") == [first.object_id]


class LostAnswerProcessor(ApprovingProcessor):
    """Each call's answer is lost; asked about one, it has no answer yet (None)."""

    async def perform(self, operation: MoneyOperation) -> None:
        raise ProcessorOutcomeUnknownError("the answer was lost (fake)")


def test_reconcile_never_releases_an_operation_before_its_deadline(world: FakeWorld) -> None:
    """A lookup's "no answer" releases an operation only past its deadline, read after the
    lookup: Dojo's lookup answers None before the deadline, and a wall clock stepped back between
    the reconciler picking an overdue operation and the lookup (or a caller calling too early)
    must not release what Dojo may have done."""
    intent_id = create(world, 1000, CaptureMode.MANUAL)
    sync.pay(world.deps, intent_id, SUCCESS)
    lost = dataclasses.replace(world, deps=dataclasses.replace(world.deps, processor=LostAnswerProcessor()))
    with pytest.raises(ProcessorOutcomeUnknownError):
        capture(lost, intent_id, 300)
    (pending,) = world.store.state.operations.values()
    assert asyncio.run(money_operations.reconcile(lost.deps, pending)) is OperationStatus.PENDING
    assert world.store.state.intents[intent_id].status is Status.AUTHORIZED
    world.clock.advance(seconds=world.deps.processor_timeout_s + 3)
    assert asyncio.run(money_operations.reconcile(lost.deps, pending)) is OperationStatus.FAILED
