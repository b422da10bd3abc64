"""Webhook rules (docs/webhooks.md) in the domain and in the subscription use cases on the
in-memory fakes: event lists, one subscription per event, secrets (one active, at most five, the
active one never deleted), the retry schedule with jitter and Retry-After, scoping, and fan-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payintents.domain import webhooks as rules
from payintents.domain.errors import NotFoundError, StateConflictError, ValidationError
from payintents.domain.events import EventName, status_event
from payintents.domain.intent import CaptureMode, Environment, Scope, Status
from payintents.domain.webhooks import MAX_ATTEMPTS, MAX_RETRY_AFTER, RETRY_DELAYS, next_attempt_at
from payintents.service import dispatch, webhooks
from payintents.service.ports import SendResult
from tests.fakes import FakeWorld

SCOPE = Scope("acc_1", Environment.SANDBOX)
OTHER = Scope("acc_2", Environment.SANDBOX)
PROD = Scope("acc_1", Environment.PRODUCTION)
CREATED, STATUS, REFUND = (e.value for e in EventName)
URL = "https://hooks.example.com/in"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# Domain: events and the one-subscription-per-event rule.


def test_events_must_be_known_non_empty_and_unrepeated_and_come_back_in_catalogue_order() -> None:
    assert rules.check_events([REFUND, STATUS, CREATED]) == [CREATED, STATUS, REFUND]  # catalogue order
    for bad in ([], ["payment.successful"], [CREATED, "nope"], [CREATED, CREATED]):
        with pytest.raises(ValidationError) as refused:
            rules.check_events(bad)
        assert list(refused.value.errors) == ["events"]


def test_catalogue_lists_dojos_intent_events_and_the_refund_extension() -> None:
    assert {CREATED, STATUS, REFUND} == rules.KNOWN_EVENTS


def test_retry_schedule_is_eight_attempts_over_about_three_days() -> None:
    assert MAX_ATTEMPTS == 8
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=2) < total < timedelta(days=4)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)


@pytest.mark.parametrize("attempts_made", range(1, MAX_ATTEMPTS))
def test_next_attempt_stays_within_twenty_percent_jitter(attempts_made: int) -> None:
    delay = RETRY_DELAYS[attempts_made - 1]
    low = next_attempt_at(attempts_made, NOW, 0.0, None)
    high = next_attempt_at(attempts_made, NOW, 0.999999, None)
    mid = next_attempt_at(attempts_made, NOW, 0.5, None)
    assert low is not None and high is not None and mid == NOW + delay
    assert low == NOW + delay * 0.8 and NOW + delay * 1.19 < high <= NOW + delay * 1.2


def test_out_of_attempts_after_the_eighth() -> None:
    assert next_attempt_at(MAX_ATTEMPTS, NOW, 0.5, None) is None
    assert next_attempt_at(MAX_ATTEMPTS, NOW, 0.5, timedelta(seconds=1)) is None


def test_retry_after_is_honoured_when_longer_and_capped() -> None:
    assert next_attempt_at(1, NOW, 0.5, timedelta(hours=1)) == NOW + timedelta(hours=1)
    assert next_attempt_at(1, NOW, 0.5, timedelta(seconds=1)) == NOW + RETRY_DELAYS[0]
    assert next_attempt_at(1, NOW, 0.5, timedelta(days=30)) == NOW + MAX_RETRY_AFTER


def test_scale_shrinks_the_schedule() -> None:
    assert next_attempt_at(2, NOW, 0.5, None, scale=0.001) == NOW + RETRY_DELAYS[1] * 0.001


# Service on fakes: subscribe, update, delete.


def test_subscribe_creates_one_active_secret_and_sandbox_ids(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, "orders")
    assert sub.id.startswith("ws_sandbox_") and sub.events == [CREATED] and sub.description == "orders"
    (secret,) = sub.secrets
    assert secret.is_active and secret.id.startswith("sc_") and not secret.id.startswith("sc_sandbox")
    assert webhooks.list_subscriptions(world.deps, SCOPE)[0].id == sub.id
    assert sub.created_at == sub.updated_at == world.clock.now()


def test_second_subscription_for_a_taken_event_is_a_conflict_and_writes_nothing(world: FakeWorld) -> None:
    webhooks.subscribe(world.deps, SCOPE, [CREATED, STATUS], URL, None)
    commits = world.store.commits
    with pytest.raises(StateConflictError):
        webhooks.subscribe(world.deps, SCOPE, [REFUND, STATUS], URL, None)
    assert world.store.commits == commits and len(webhooks.list_subscriptions(world.deps, SCOPE)) == 1


def test_the_event_rule_is_per_account_and_environment(world: FakeWorld) -> None:
    for scope in (SCOPE, OTHER, PROD):
        webhooks.subscribe(world.deps, scope, [CREATED], URL, None)
    assert [len(webhooks.list_subscriptions(world.deps, s)) for s in (SCOPE, OTHER, PROD)] == [1, 1, 1]


def test_subscribe_validates_before_writing(world: FakeWorld) -> None:
    with pytest.raises(ValidationError):
        webhooks.subscribe(world.deps, SCOPE, ["nope"], URL, None)
    with pytest.raises(ValidationError):
        webhooks.subscribe(world.deps, PROD, [CREATED], "http://127.0.0.1:9/", None)
    assert world.store.commits == 0


def test_update_changes_only_what_was_given(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, "first")
    world.clock.advance(minutes=1)
    changed = webhooks.update_subscription(world.deps, SCOPE, sub.id, [STATUS, REFUND], None, None)
    assert changed.events == [STATUS, REFUND] and changed.url == URL and changed.description == "first"
    assert changed.updated_at == NOW + timedelta(minutes=1) and changed.created_at == NOW
    changed = webhooks.update_subscription(world.deps, SCOPE, sub.id, None, "https://b.example.com/", "2nd")
    assert (changed.url, changed.description, changed.events) == (
        "https://b.example.com/",
        "2nd",
        [STATUS, REFUND],
    )


def test_update_may_keep_its_own_events_but_not_take_anothers(world: FakeWorld) -> None:
    first = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    second = webhooks.subscribe(world.deps, SCOPE, [STATUS], URL, None)
    assert webhooks.update_subscription(world.deps, SCOPE, first.id, [CREATED, REFUND], None, None)
    with pytest.raises(StateConflictError):
        webhooks.update_subscription(world.deps, SCOPE, second.id, [STATUS, CREATED], None, None)
    assert webhooks.get_subscription(world.deps, SCOPE, second.id).events == [STATUS]


def test_other_scopes_subscriptions_are_not_found(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    for scope in (OTHER, PROD):
        with pytest.raises(NotFoundError):
            webhooks.update_subscription(world.deps, scope, sub.id, None, None, "x")
        with pytest.raises(NotFoundError):
            webhooks.delete_subscription(world.deps, scope, sub.id)
        with pytest.raises(NotFoundError):
            webhooks.generate_secret(world.deps, scope, sub.id)
        with pytest.raises(NotFoundError):
            webhooks.list_deliveries(world.deps, scope, sub.id)
    webhooks.delete_subscription(world.deps, SCOPE, sub.id)
    with pytest.raises(NotFoundError):
        webhooks.get_subscription(world.deps, SCOPE, sub.id)


# Secrets.


def test_generated_secrets_are_inactive_and_capped_at_five(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    for _ in range(rules.MAX_SECRETS - 1):
        sub = webhooks.generate_secret(world.deps, SCOPE, sub.id)
    assert len(sub.secrets) == 5 and [s.is_active for s in sub.secrets] == [True, False, False, False, False]
    assert len({s.value for s in sub.secrets}) == 5
    with pytest.raises(StateConflictError):
        webhooks.generate_secret(world.deps, SCOPE, sub.id)
    assert len(webhooks.get_subscription(world.deps, SCOPE, sub.id).secrets) == 5


def test_activate_leaves_exactly_one_active_and_rotation_works(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    old = sub.secrets[0]
    new = webhooks.generate_secret(world.deps, SCOPE, sub.id).secrets[1]
    webhooks.activate_secret(world.deps, SCOPE, sub.id, new.id)
    stored = webhooks.get_subscription(world.deps, SCOPE, sub.id)
    assert [(s.id, s.is_active) for s in stored.secrets] == [(old.id, False), (new.id, True)]
    assert stored.active_secret.id == new.id
    webhooks.delete_secret(world.deps, SCOPE, sub.id, old.id)
    assert [s.id for s in webhooks.get_subscription(world.deps, SCOPE, sub.id).secrets] == [new.id]


def test_the_active_secret_cannot_be_deleted_and_unknown_secrets_are_not_found(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    with pytest.raises(StateConflictError):
        webhooks.delete_secret(world.deps, SCOPE, sub.id, sub.secrets[0].id)
    for action in (webhooks.activate_secret, webhooks.delete_secret):
        with pytest.raises(NotFoundError):
            action(world.deps, SCOPE, sub.id, "sc_0000000000000000000000")
    assert webhooks.get_subscription(world.deps, SCOPE, sub.id).secrets == sub.secrets


# Fan-out and dispatch on fakes.


class ScriptedSender:
    def __init__(self, *results: SendResult) -> None:
        self.results = list(results)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        self.sent.append((url, body, headers))
        return self.results.pop(0) if self.results else SendResult(200, 1)


def create_intent(world: FakeWorld, scope: Scope = SCOPE) -> str:
    """What the intent use case writes: the created event, in one committed unit of work."""
    event_id = world.deps.ids.new_id("evt", scope.environment)
    event = status_event(
        event_id, EventName.PAYMENT_INTENT_CREATED, scope, "pi_1", Status.CREATED, CaptureMode.AUTO, NOW
    )
    with world.deps.uow() as uow:
        uow.outbox.add(event)
        uow.commit()
    return event_id


def test_fan_out_reaches_only_interested_enabled_subscriptions_of_the_scope(world: FakeWorld) -> None:
    wanted = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    webhooks.subscribe(world.deps, SCOPE, [STATUS], URL, None)
    webhooks.subscribe(world.deps, OTHER, [CREATED], URL, None)
    create_intent(world)
    assert [d.subscription_id for d in world.store.state.deliveries.values()] == [wanted.id]
    sender = ScriptedSender(SendResult(204, 3))
    report = dispatch.dispatch_once(world.deps, sender, "d1")
    assert (report.claimed, report.delivered) == (1, 1) and sender.sent[0][0] == URL
    assert webhooks.get_subscription(world.deps, SCOPE, wanted.id).secrets[0].last_used_at == NOW


def test_gone_disables_and_a_patch_re_enables(world: FakeWorld) -> None:
    sub = webhooks.subscribe(world.deps, SCOPE, [CREATED], URL, None)
    create_intent(world)
    dispatch.dispatch_once(world.deps, ScriptedSender(SendResult(410, 1)), "d1")
    assert webhooks.get_subscription(world.deps, SCOPE, sub.id).disabled_at == NOW
    create_intent(world)
    assert len(world.store.state.deliveries) == 1  # a disabled subscription gets no new deliveries
    enabled = webhooks.update_subscription(world.deps, SCOPE, sub.id, None, None, None)
    assert enabled.disabled_at is None
