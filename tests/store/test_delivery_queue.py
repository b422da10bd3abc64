"""The webhook delivery queue on SQLite and PostgreSQL (docs/webhooks.md, a
transactional outbox): fan-out, signed payloads, the retry schedule with jitter and Retry-After,
410 disabling, leases shared by several dispatchers, deleted subscriptions, manual retries.
Time is a FakeClock; the sender is scripted and records what it was asked to send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.errors import NotFoundError
from payintents.domain.events import EventName, OutboxEvent, status_event
from payintents.domain.intent import CaptureMode, Environment, Scope, Status
from payintents.domain.webhook_signing import delivery_body, dojo_signature
from payintents.domain.webhooks import MAX_ATTEMPTS, MAX_RETRY_AFTER, RETRY_DELAYS
from payintents.service import dispatch, webhooks
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.ports import DeliveryView, SendResult, SubscriptionRoom
from payintents.web.app import build_app
from payintents.workers.dispatcher import PER_SUBSCRIPTION, run_dispatcher
from tests.fakes import FakeClock
from tests.support import Api

CREATED, STATUS, REFUND = (e.value for e in EventName)
URL = "https://hooks.example.com/in"


class ScriptedSender:
    """Answers from a script (then 200), recording every call."""

    def __init__(self, *results: SendResult) -> None:
        self.script = list(results)
        self.sent: list[tuple[str, bytes, dict[str, str], Environment]] = []

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        self.sent.append((url, body, headers, environment))
        return self.script.pop(0) if self.script else SendResult(200, 5)


class Always:
    def __init__(self, result: SendResult) -> None:
        self.result, self.calls = result, 0

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        self.calls += 1
        return self.result


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture
def deps(database_url: str, engine: Engine, clock: FakeClock) -> Dependencies:
    return build_dependencies(Settings(database_url=database_url), engine=engine, clock=clock)


@pytest.fixture
def scope(deps: Dependencies) -> Scope:
    return Scope(create_account(deps, "merchant").account_id, Environment.SANDBOX)


def emit(deps: Dependencies, scope: Scope, name: str = CREATED) -> OutboxEvent:
    """Write an event as the intent and refund use cases do: outbox row + fan-out, one commit."""
    event = status_event(
        deps.ids.new_id("evt", scope.environment), EventName(name), scope,
        deps.ids.new_id("pi", scope.environment), Status.CREATED, CaptureMode.AUTO, deps.clock.now(),
    )  # fmt: skip
    with deps.uow() as uow:
        uow.outbox.add(event)
        uow.commit()
    return event


def deliveries(deps: Dependencies, scope: Scope, subscription_id: str) -> list[DeliveryView]:
    return webhooks.list_deliveries(deps, scope, subscription_id)


def only(deps: Dependencies, scope: Scope, subscription_id: str) -> DeliveryView:
    (view,) = deliveries(deps, scope, subscription_id)
    return view


def pending(deps: Dependencies) -> int:
    with deps.uow() as uow:
        return uow.deliveries.count_pending()


def test_fan_out_reaches_only_enabled_subscriptions_of_the_scope_that_want_the_event(
    deps: Dependencies, scope: Scope
) -> None:
    wanted = webhooks.subscribe(deps, scope, [CREATED, REFUND], URL, None)
    status_only = webhooks.subscribe(deps, scope, [STATUS], URL, None)
    other = Scope(create_account(deps, "other").account_id, Environment.SANDBOX)
    other_sub = webhooks.subscribe(deps, other, [CREATED], URL, None)
    prod = Scope(scope.account_id, Environment.PRODUCTION)
    prod_sub = webhooks.subscribe(deps, prod, [CREATED], URL, None)
    event = emit(deps, scope)
    assert [v.event_id for v in deliveries(deps, scope, wanted.id)] == [event.id]
    assert deliveries(deps, scope, status_only.id) == []
    assert deliveries(deps, other, other_sub.id) == [] and deliveries(deps, prod, prod_sub.id) == []
    assert pending(deps) == 1
    emit(deps, scope, REFUND)
    emit(deps, other, STATUS)  # nobody there wants it
    assert pending(deps) == 2


def test_a_delivery_is_due_when_the_event_asks_and_at_the_event_s_own_time_otherwise(
    deps: Dependencies, scope: Scope
) -> None:
    # The deliveries are made by one INSERT … SELECT: its bound times keep their UTC meaning.
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    at_once = emit(deps, scope)
    later = status_event(
        deps.ids.new_id("evt", scope.environment), EventName(CREATED), scope,
        deps.ids.new_id("pi", scope.environment), Status.CREATED, CaptureMode.AUTO, deps.clock.now(),
    )  # fmt: skip
    deliver_from = deps.clock.now() + timedelta(minutes=5)
    with deps.uow() as uow:
        uow.outbox.add(later, deliver_from)
        uow.commit()
    due = {view.event_id: view.next_attempt_at for view in deliveries(deps, scope, sub.id)}
    assert due == {at_once.id: at_once.created_at, later.id: deliver_from}


def test_delivery_is_signed_both_ways_and_2xx_marks_it_delivered(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    secret = sub.secrets[0]
    event = emit(deps, scope)
    clock.advance(seconds=3)
    sender = ScriptedSender(SendResult(202, 12))
    report = dispatch.dispatch_once(deps, sender, "d1")
    assert (report.claimed, report.delivered, report.failed_attempts) == (1, 1, 0)
    ((url, body, headers, environment),) = sender.sent
    assert (url, environment) == (URL, Environment.SANDBOX)
    assert body == delivery_body(event)
    assert headers["dojo-signature"] == dojo_signature(secret.value, body)
    assert headers["webhook-id"] == event.id
    assert headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    signed = f"{event.id}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.value.encode(), signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    view = only(deps, scope, sub.id)
    assert (view.status, view.next_attempt_at) == ("delivered", None)
    assert [(a.attempt, a.status_code, a.duration_ms, a.attempted_at) for a in view.attempts] == [
        (1, 202, 12, clock.now())
    ]
    assert webhooks.get_subscription(deps, scope, sub.id).secrets[0].last_used_at == clock.now()
    assert pending(deps) == 0 and dispatch.dispatch_once(deps, sender, "d1").claimed == 0


def test_rotated_secret_signs_the_next_delivery(deps: Dependencies, scope: Scope) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    new = webhooks.generate_secret(deps, scope, sub.id).secrets[1]
    webhooks.activate_secret(deps, scope, sub.id, new.id)
    emit(deps, scope)
    sender = ScriptedSender()
    dispatch.dispatch_once(deps, sender, "d1")
    ((_, body, headers, _),) = sender.sent
    assert headers["dojo-signature"] == dojo_signature(new.value, body)


def test_failures_follow_the_schedule_for_exactly_eight_attempts_then_fail(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    sender = Always(SendResult(500, 7))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert dispatch.dispatch_once(deps, sender, "d1").claimed == 1
        view = only(deps, scope, sub.id)
        assert len(view.attempts) == attempt and view.attempts[-1].status_code == 500
        if attempt == MAX_ATTEMPTS:
            break
        delay = RETRY_DELAYS[attempt - 1]
        assert view.status == "pending" and view.next_attempt_at is not None
        assert clock.now() + delay * 0.8 <= view.next_attempt_at <= clock.now() + delay * 1.2
        assert view.attempts[-1].next_attempt_at == view.next_attempt_at
        clock.current = view.next_attempt_at - timedelta(seconds=1)
        assert dispatch.dispatch_once(deps, sender, "d1").claimed == 0  # not due yet
        clock.current = view.next_attempt_at
    assert (view.status, view.next_attempt_at) == ("failed", None)
    assert [a.attempt for a in view.attempts] == list(range(1, 9)) and sender.calls == 8
    clock.advance(days=30)
    assert dispatch.dispatch_once(deps, sender, "d1").claimed == 0 and pending(deps) == 0


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (SendResult(None, 15000, "timed out"), "timed out"),
        (SendResult(None, 3, "connection failed"), "connection failed"),
    ],
)
def test_timeouts_and_connection_errors_are_failed_attempts(
    deps: Dependencies, scope: Scope, clock: FakeClock, result: SendResult, error: str
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    report = dispatch.dispatch_once(deps, ScriptedSender(result), "d1")
    assert (report.delivered, report.failed_attempts) == (0, 1)
    view = only(deps, scope, sub.id)
    assert view.status == "pending" and view.next_attempt_at is not None
    assert view.next_attempt_at >= clock.now() + RETRY_DELAYS[0] * 0.8
    (attempt,) = view.attempts
    assert attempt.status_code is None and error in (attempt.error or "")


@pytest.mark.parametrize(
    ("retry_after_s", "expected"),
    [(3600.0, timedelta(hours=1)), (10 * 86400.0, MAX_RETRY_AFTER), (1e20, MAX_RETRY_AFTER)],
    ids=["honoured", "capped", "absurd"],
)
def test_retry_after_is_honoured_and_capped(
    deps: Dependencies, scope: Scope, clock: FakeClock, retry_after_s: float, expected: timedelta
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    dispatch.dispatch_once(deps, ScriptedSender(SendResult(503, 1, None, retry_after_s)), "d1")
    assert only(deps, scope, sub.id).next_attempt_at == clock.now() + expected


def test_gone_disables_the_subscription_and_stops_its_deliveries_until_a_patch(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED, STATUS], URL, None)
    first, second = emit(deps, scope), emit(deps, scope, STATUS)
    sender = ScriptedSender(SendResult(410, 2))
    assert dispatch.claim(deps, "d1", 1)[0].event.id == first.id
    clock.advance(minutes=2)  # the lease of d1 expires; d2 sends and hears 410
    report = dispatch.dispatch_once(deps, sender, "d2", limit=1)
    assert report.claimed == 1 and len(sender.sent) == 1
    assert webhooks.get_subscription(deps, scope, sub.id).disabled_at == clock.now()
    assert {v.status for v in deliveries(deps, scope, sub.id)} == {"disabled"}
    assert pending(deps) == 0 and dispatch.dispatch_once(deps, sender, "d2").claimed == 0
    emit(deps, scope)
    assert len(deliveries(deps, scope, sub.id)) == 2  # no fan-out to a disabled subscription
    assert webhooks.list_subscriptions(deps, scope)[0].disabled_at == clock.now()

    enabled = webhooks.update_subscription(deps, scope, sub.id, None, None, None)
    assert enabled.disabled_at is None
    third = emit(deps, scope)
    assert webhooks.retry_event(deps, scope, second.id) == 1  # a 410-stopped event can be re-sent
    dispatch.dispatch_once(deps, sender, "d2")
    by_event = {v.event_id: v.status for v in deliveries(deps, scope, sub.id)}
    assert by_event == {first.id: "disabled", second.id: "delivered", third.id: "delivered"}


def test_disabled_at_is_shown_in_the_api(deps: Dependencies, clock: FakeClock) -> None:
    with TestClient(build_app(deps)) as client:
        api = Api(client, create_account(deps, "m").sandbox_key)
        created = api.post("/webhooks", {"events": [CREATED], "url": URL}).json()
        assert "disabledAt" not in created
        api.create_intent()
        dispatch.dispatch_once(deps, ScriptedSender(SendResult(410, 1)), "d1")
        (shown,) = api.get("/webhooks").json()
        assert shown["disabledAt"] == clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patched = api.client.patch(
            f"/webhooks/{created['id']}", json={"description": "back"}, headers=api.headers()
        ).json()
        assert "disabledAt" not in patched


def claim_race(deps: Dependencies, owners: list[str], limit: int) -> dict[str, list[str]]:
    """Every owner claims at the same moment, each in its own thread; the event ids each got."""
    barrier = threading.Barrier(len(owners))
    claimed: dict[str, list[str]] = {}

    def claim_as(owner: str) -> None:
        barrier.wait()
        claimed[owner] = [job.event.id for job in dispatch.claim(deps, owner, limit)]

    threads = [threading.Thread(target=claim_as, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def test_two_owners_claiming_at_once_never_share_a_delivery(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    webhooks.subscribe(deps, scope, [CREATED], URL, None)
    for _ in range(3):
        events = {emit(deps, scope).id for _ in range(30)}
        claimed = claim_race(deps, ["a", "b"], 20)
        assert not set(claimed["a"]) & set(claimed["b"])
        assert sorted(claimed["a"] + claimed["b"]) == sorted(events)
        assert dispatch.claim(deps, "c", 100) == []  # every lease is held
        clock.advance(seconds=dispatch.LEASE.total_seconds() + 1)
        assert dispatch.dispatch_once(deps, ScriptedSender(), "drain", limit=100).delivered == 30
    assert pending(deps) == 0


def test_an_expired_lease_is_reclaimed_and_the_stale_owner_cannot_record(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    (stale_job,) = dispatch.claim(deps, "stale", 10)
    clock.advance(seconds=dispatch.LEASE.total_seconds() - 1)
    assert dispatch.claim(deps, "fresh", 10) == []
    clock.advance(seconds=2)
    (fresh_job,) = dispatch.claim(deps, "fresh", 10)
    assert fresh_job.event.id == stale_job.event.id  # a duplicate send is allowed
    sender = ScriptedSender(SendResult(200, 1), SendResult(200, 1))
    assert dispatch.deliver(deps, sender, "stale", stale_job) == "lease-lost"
    assert dispatch.deliver(deps, sender, "fresh", fresh_job) == "delivered"
    assert len(sender.sent) == 2
    view = only(deps, scope, sub.id)
    assert view.status == "delivered" and [a.attempt for a in view.attempts] == [1]


def test_deliveries_of_a_deleted_subscription_stop(deps: Dependencies, scope: Scope) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    (in_flight,) = dispatch.claim(deps, "d1", 10)
    emit(deps, scope)
    webhooks.delete_subscription(deps, scope, sub.id)
    assert pending(deps) == 0 and dispatch.claim(deps, "d2", 10) == []
    assert dispatch.deliver(deps, ScriptedSender(), "d1", in_flight) == "lease-lost"
    with pytest.raises(NotFoundError):
        webhooks.retry_event(deps, scope, in_flight.event.id)


def test_retry_event_makes_a_delivered_event_due_again(
    deps: Dependencies, scope: Scope, clock: FakeClock
) -> None:
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    event = emit(deps, scope)
    sender = ScriptedSender()
    dispatch.dispatch_once(deps, sender, "d1")
    clock.advance(hours=1)
    assert webhooks.retry_event(deps, scope, event.id) == 1
    view = only(deps, scope, sub.id)
    assert (view.status, view.next_attempt_at) == ("pending", clock.now())
    assert pending(deps) == 1
    assert dispatch.dispatch_once(deps, sender, "d1").delivered == 1
    assert [a.attempt for a in only(deps, scope, sub.id).attempts] == [1, 2] and len(sender.sent) == 2
    other = Scope(create_account(deps, "other").account_id, Environment.SANDBOX)
    for wrong in (other, Scope(scope.account_id, Environment.PRODUCTION)):
        with pytest.raises(NotFoundError):
            webhooks.retry_event(deps, wrong, event.id)


def test_count_pending_counts_every_account(deps: Dependencies, scope: Scope) -> None:
    other = Scope(create_account(deps, "other").account_id, Environment.SANDBOX)
    for s in (scope, other):
        webhooks.subscribe(deps, s, [CREATED], URL, None)
        emit(deps, s)
        emit(deps, s)
    assert pending(deps) == 4
    dispatch.dispatch_once(deps, ScriptedSender(), "d1", limit=3)
    assert pending(deps) == 1


def test_concurrent_changes_to_one_subscription_are_never_lost(deps: Dependencies, scope: Scope) -> None:
    """Read-modify-save under a row lock: four secrets generated at once all survive."""
    sub = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    barrier = threading.Barrier(4)
    returned: list[str] = []

    def generate() -> None:
        barrier.wait()
        returned.append(webhooks.generate_secret(deps, scope, sub.id).secrets[-1].id)

    threads = [threading.Thread(target=generate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = webhooks.get_subscription(deps, scope, sub.id).secrets
    assert len(stored) == 5 and set(returned) <= {s.id for s in stored}
    assert [s.is_active for s in stored].count(True) == 1


def test_a_poll_with_nothing_due_writes_nothing(
    deps: Dependencies, engine: Engine, scope: Scope, clock: FakeClock
) -> None:
    # On SQLite a write would take the single writer's lock (and the API's writer would wait
    # for it) twice a second per worker, for nothing.
    webhooks.subscribe(deps, scope, [CREATED], URL, None)
    emit(deps, scope)
    assert len(dispatch.claim(deps, "a", 10)) == 1  # due: claimed, by a write
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_rest: statements.append(sql))
    assert dispatch.claim(deps, "b", 10) == []  # leased to "a": nothing due
    writes = [sql for sql in statements if _locks_for_writing(sql)]
    assert statements and writes == []
    clock.advance(seconds=dispatch.LEASE.total_seconds() + 1)
    assert len(dispatch.claim(deps, "b", 10)) == 1  # the lease ran out: due again, and claimed


def _locks_for_writing(sql: str) -> bool:
    """An UPDATE, SQLite's write transaction, or a PostgreSQL row lock."""
    upper = sql.lstrip().upper()
    return upper.startswith(("UPDATE", "BEGIN IMMEDIATE")) or "FOR UPDATE" in upper


def test_a_claim_takes_no_more_of_a_subscription_than_its_room_and_passes_over_full_ones(
    deps: Dependencies, engine: Engine, scope: Scope, clock: FakeClock
) -> None:
    """The dispatcher's per-subscription limit, in the store: a backlog of one subscription (the
    oldest deliveries) fills only its room, and once that subscription is full the next claim
    reaches the deliveries behind the backlog, without a write when only full ones are due."""
    busy = webhooks.subscribe(deps, scope, [CREATED], URL, None)
    other = Scope(create_account(deps, "other").account_id, Environment.SANDBOX)
    quiet = webhooks.subscribe(deps, other, [CREATED], URL, None)
    backlog = [emit(deps, scope).id for _ in range(6)]
    clock.advance(seconds=1)
    behind = emit(deps, other).id
    first = dispatch.claim(deps, "d1", 4, room=SubscriptionRoom(2))
    assert [(job.subscription_id, job.event.id) for job in first] == [(busy.id, e) for e in backlog[:2]]
    full = SubscriptionRoom(2, {busy.id: 0})
    (second,) = dispatch.claim(deps, "d1", 4, room=full)
    assert (second.subscription_id, second.event.id) == (quiet.id, behind)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_rest: statements.append(sql))
    assert dispatch.claim(deps, "d1", 4, room=full) == []  # only the full subscription has due ones
    assert statements and not [sql for sql in statements if _locks_for_writing(sql)]
    assert len(dispatch.claim(deps, "d1", 10, room=SubscriptionRoom(1, {busy.id: 3}))) == 3


class HangingSender:
    """Sends to ``hanging_url`` wait until ``release`` is set; every other send answers 200."""

    def __init__(self, hanging_url: str) -> None:
        self.hanging_url = hanging_url
        self.release = threading.Event()
        self.other_sent = threading.Event()
        self.hanging = 0
        self._lock = threading.Lock()

    def send(self, url: str, body: bytes, headers: dict[str, str], environment: Environment) -> SendResult:
        if url != self.hanging_url:
            self.other_sent.set()
            return SendResult(200, 1)
        with self._lock:
            self.hanging += 1
        self.release.wait(timeout=60)
        with self._lock:
            self.hanging -= 1
        return SendResult(200, 1)

    def wait_for_hanging(self, count: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.hanging < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.hanging


def test_one_hanging_receiver_holds_only_its_own_slots_and_others_are_sent_meanwhile(
    deps: Dependencies, scope: Scope
) -> None:
    """The worker claims whenever a slot is free, not batch after batch: with 40 deliveries of one
    subscription hanging, another merchant's delivery is still claimed and sent."""
    slow_url = "https://slow.example.com/in"
    webhooks.subscribe(deps, scope, [CREATED], slow_url, None)
    other = Scope(create_account(deps, "other").account_id, Environment.SANDBOX)
    webhooks.subscribe(deps, other, [CREATED], URL, None)
    for _ in range(40):  # more than the dispatcher's slots
        emit(deps, scope)
    sender = HangingSender(slow_url)
    stop = threading.Event()
    worker = threading.Thread(target=run_dispatcher, args=(deps, sender, stop), kwargs={"idle_s": 0.05})
    worker.start()
    try:
        assert sender.wait_for_hanging(PER_SUBSCRIPTION, timeout_s=10) == PER_SUBSCRIPTION
        emit(deps, other)
        assert sender.other_sent.wait(timeout=10), "the other merchant's delivery waited for the hung ones"
        assert sender.hanging == PER_SUBSCRIPTION  # the hung subscription took no more slots
    finally:
        sender.release.set()
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
