"""The SQL payment-intent repository on a real SQLite file and a real PostgreSQL schema: round
trips, the version check, the guarded refund UPDATE and its CHECK backstop, search paging, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import payment_intents
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.domain import lifecycle
from payintents.domain.errors import InvariantViolationError
from payintents.domain.intent import AutoExpireAction, CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Currency, Money
from payintents.service.ports import ConcurrentUpdateError, IntentQuery, RefundApplied

NOW = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)
SCOPE = Scope("acc_1", Environment.SANDBOX)
OTHER = Scope("acc_2", Environment.SANDBOX)
CARD = {"cardNumber": "520000******1005", "expiryDate": "12/29"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    with SqlUnitOfWork(engine) as uow:
        for scope in (SCOPE, OTHER):
            uow.accounts.add(scope.account_id, "merchant", [], NOW)
        uow.commit()
    yield engine
    engine.dispose()


def make_intent(
    intent_id: str,
    amount: int = 1000,
    *,
    scope: Scope = SCOPE,
    at: datetime = NOW,
    mode: CaptureMode = CaptureMode.AUTO,
    paid: bool = True,
) -> PaymentIntent:
    spec = IntentSpec(Money(amount, Currency.GBP), "Order 234", mode, None, (), None, None, None, {})
    intent = lifecycle.open_intent(spec, intent_id, scope, at)
    if paid:
        lifecycle.authorize(intent, transaction_id="tx-1", capture_id=f"cp_{intent_id}", card=CARD, now=at)
    return intent


def store(engine: Engine, *intents: PaymentIntent) -> None:
    with SqlUnitOfWork(engine) as uow:
        for intent in intents:
            uow.intents.add(intent)
        uow.commit()


def load(engine: Engine, intent_id: str, scope: Scope = SCOPE) -> PaymentIntent | None:
    with SqlUnitOfWork(engine) as uow:
        return uow.intents.get(scope, intent_id)


def refund(engine: Engine, intent_id: str, amount: int, scope: Scope = SCOPE) -> RefundApplied | None:
    """Reserve, then confirm (the processor said yes), in one unit of work."""
    with SqlUnitOfWork(engine) as uow:
        if uow.intents.reserve_refund(scope, intent_id, amount) is None:
            return None
        applied = uow.intents.confirm_refund(scope, intent_id, amount, NOW + timedelta(hours=1))
        uow.commit()
        return applied


def reserve(engine: Engine, intent_id: str, amount: int) -> str | None:
    with SqlUnitOfWork(engine) as uow:
        reference = uow.intents.reserve_refund(SCOPE, intent_id, amount)
        uow.commit()
        return reference


def full_intent() -> PaymentIntent:
    """A Manual intent with every optional field set, two captures and several payment events."""
    spec = IntentSpec(
        amount=Money(1000, Currency.EUR),
        reference="Order 999 — ünïcode",
        capture_mode=CaptureMode.MANUAL,
        tips_amount=Money(150, Currency.EUR),
        extra_amounts=(Money(50, Currency.EUR),),
        expire_at=NOW + timedelta(days=2),
        auto_expire_in="1.02:03:04",
        auto_expire_action=AutoExpireAction.CAPTURE,
        document={
            "description": 'a "quoted" description',
            "config": {"payment": {"customAmountAllowed": True}},
            "metadata": {"k": "v"},
            "itemLines": [{"name": "x", "amountTotal": {"value": 1, "currencyCode": "EUR"}}],
        },
    )
    intent = lifecycle.open_intent(spec, "pi_full", SCOPE, NOW)
    lifecycle.change_amount(intent, Money(1100, Currency.EUR), {}, NOW)
    lifecycle.refresh_client_secret(intent, "s" * 86, NOW)
    lifecycle.record_challenge(intent, CARD, NOW)
    lifecycle.authorize(intent, transaction_id="tx-9", capture_id="cp_unused", card=CARD, now=NOW)
    lifecycle.capture(intent, "cp_a", 500, 100, NOW + timedelta(seconds=1))
    lifecycle.capture(intent, "cp_b", 200, None, NOW + timedelta(seconds=2))
    # Payment consumed the client secret; set one again so every column is mapped in this test,
    # even though the lifecycle never produces a paid intent with a live secret.
    intent.client_session_secret = "s" * 86
    intent.client_session_secret_expires_at = NOW + timedelta(minutes=30)
    return intent


def test_an_intent_with_everything_round_trips(engine: Engine) -> None:
    intent = full_intent()
    assert intent.requested_amount is not None and intent.client_session_secret is not None
    store(engine, intent)
    loaded = load(engine, "pi_full")
    assert loaded == intent
    assert loaded is not None and loaded.created_at.tzinfo is not None
    assert loaded.payment_details is not None
    assert loaded.payment_details["transactionDateTime"] == NOW


def test_a_fresh_intent_with_nothing_optional_round_trips(engine: Engine) -> None:
    intent = make_intent("pi_bare", paid=False)
    store(engine, intent)
    assert load(engine, "pi_bare") == intent


def test_other_scopes_do_not_see_the_intent_but_find_does(engine: Engine) -> None:
    store(engine, make_intent("pi_1"))
    assert load(engine, "pi_1", OTHER) is None
    assert load(engine, "pi_1", Scope("acc_1", Environment.PRODUCTION)) is None
    with SqlUnitOfWork(engine) as uow:
        found = uow.intents.find("pi_1")
        assert found is not None and found.scope == SCOPE
        assert uow.intents.find("pi_nope") is None


def test_save_appends_new_children_and_bumps_the_version(engine: Engine) -> None:
    store(engine, make_intent("pi_m", mode=CaptureMode.MANUAL))
    with SqlUnitOfWork(engine) as uow:
        intent = uow.intents.get(SCOPE, "pi_m")
        assert intent is not None
        lifecycle.capture(intent, "cp_1", 300, None, NOW)
        uow.intents.save(intent)
        lifecycle.capture(intent, "cp_2", 200, None, NOW)
        uow.intents.save(intent)
        uow.commit()
    loaded = load(engine, "pi_m")
    assert loaded == intent and loaded is not None and loaded.version == 2
    assert [c.id for c in loaded.captures] == ["cp_1", "cp_2"]


def test_save_with_a_stale_version_is_a_concurrent_update(engine: Engine) -> None:
    store(engine, make_intent("pi_m", mode=CaptureMode.MANUAL))
    stale = load(engine, "pi_m")
    fresh = load(engine, "pi_m")
    assert stale is not None and fresh is not None
    with SqlUnitOfWork(engine) as uow:
        uow.intents.get(SCOPE, "pi_m")
        lifecycle.capture(fresh, "cp_1", 300, None, NOW)
        uow.intents.save(fresh)
        uow.commit()
    with pytest.raises(ConcurrentUpdateError), SqlUnitOfWork(engine) as uow:
        uow.intents.get(SCOPE, "pi_m")
        lifecycle.capture(stale, "cp_2", 900, None, NOW)
        uow.intents.save(stale)
    assert load(engine, "pi_m") == fresh


def test_save_refuses_a_broken_invariant_before_writing(engine: Engine) -> None:
    store(engine, make_intent("pi_1"))
    with pytest.raises(InvariantViolationError, match="REFUND_CAP"), SqlUnitOfWork(engine) as uow:
        intent = uow.intents.get(SCOPE, "pi_1")
        assert intent is not None
        intent.refunded_amount = 2000
        uow.intents.save(intent)


def test_an_intent_that_looks_broken_because_it_changed_meanwhile_is_a_lost_race(engine: Engine) -> None:
    """Row and captures read apart (PostgreSQL) can mix two versions: a stale one is retried."""
    store(engine, make_intent("pi_1"))
    with SqlUnitOfWork(engine) as uow:
        stale = uow.intents.get(SCOPE, "pi_1")
    with SqlUnitOfWork(engine) as uow:
        current = uow.intents.get(SCOPE, "pi_1")
        assert current is not None
        uow.intents.save(current)
        uow.commit()
    assert stale is not None
    stale.refundable_amount = 0  # as if its captures came from the newer version
    with pytest.raises(ConcurrentUpdateError), SqlUnitOfWork(engine) as uow:
        uow.intents.save(stale)


# --- the guarded refund UPDATE -------------------------------------------------------------------


def test_apply_refund_adds_up_and_sets_refunded_exactly_at_the_cap(engine: Engine) -> None:
    store(engine, make_intent("pi_1", 1000))
    assert refund(engine, "pi_1", 400) == RefundApplied(
        400, 1000, Status.CAPTURED, CaptureMode.AUTO, "Order 234"
    )
    assert refund(engine, "pi_1", 601) is None
    assert refund(engine, "pi_1", 600) == RefundApplied(
        1000, 1000, Status.REFUNDED, CaptureMode.AUTO, "Order 234"
    )
    loaded = load(engine, "pi_1")
    assert loaded is not None
    assert (loaded.status, loaded.refunded_amount, loaded.version) == (Status.REFUNDED, 1000, 2)
    assert [e.event_type for e in loaded.events] == ["Authorized", "Captured", "Refunded"]
    assert loaded.events[-1].at == loaded.updated_at == NOW + timedelta(hours=1)
    lifecycle.check_invariants(loaded)
    assert refund(engine, "pi_1", 1) is None


def test_apply_refund_refuses_wrong_status_over_cap_and_other_scopes(engine: Engine) -> None:
    store(engine, make_intent("pi_cap", 1000), make_intent("pi_new", paid=False))
    store(engine, make_intent("pi_auth", mode=CaptureMode.MANUAL))
    assert refund(engine, "pi_new", 1) is None
    assert refund(engine, "pi_auth", 1) is None
    assert refund(engine, "pi_cap", 1001) is None
    assert refund(engine, "pi_cap", 1, OTHER) is None
    assert refund(engine, "pi_cap", 1, Scope("acc_1", Environment.PRODUCTION)) is None
    assert refund(engine, "pi_missing", 1) is None
    loaded = load(engine, "pi_cap")
    assert loaded is not None and (loaded.refunded_amount, loaded.version) == (0, 0)


def test_pending_refunds_count_against_the_cap_until_released(engine: Engine) -> None:
    store(engine, make_intent("pi_1", 1000))
    assert reserve(engine, "pi_1", 700) == "Order 234"
    assert reserve(engine, "pi_1", 301) is None  # 700 pending + 301 > 1000
    with SqlUnitOfWork(engine) as uow:
        uow.intents.release_refund(SCOPE, "pi_1", 700)
        uow.commit()
    assert refund(engine, "pi_1", 1000) is not None
    loaded = load(engine, "pi_1")
    assert loaded is not None and (loaded.status, loaded.refunded_amount) == (Status.REFUNDED, 1000)


def test_a_capture_in_flight_holds_the_intent(engine: Engine) -> None:
    store(engine, make_intent("pi_m", mode=CaptureMode.MANUAL))
    intent = load(engine, "pi_m")
    assert intent is not None
    with SqlUnitOfWork(engine) as uow:
        assert uow.intents.reserve_operation(intent, "op_1")
        assert not uow.intents.reserve_operation(intent, "op_2")
        uow.commit()
    with pytest.raises(ConcurrentUpdateError), SqlUnitOfWork(engine) as uow:
        held = uow.intents.get(SCOPE, "pi_m")
        assert held is not None
        uow.intents.save(held)  # anyone but the operation's own record is refused
    with SqlUnitOfWork(engine) as uow:
        held = uow.intents.get(SCOPE, "pi_m")
        assert held is not None
        uow.intents.save(held, finishing="op_1")
        assert uow.intents.reserve_operation(held, "op_3")  # no longer held
        uow.commit()


def test_the_check_constraint_refuses_over_refund_even_from_raw_sql(engine: Engine) -> None:
    store(engine, make_intent("pi_1", 1000))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            update(payment_intents)
            .where(payment_intents.c.id == "pi_1")
            .values(refunded_amount=payment_intents.c.refundable_amount + 1)
        )
    loaded = load(engine, "pi_1")
    assert loaded is not None and loaded.refunded_amount == 0


def test_a_constraint_firing_in_a_unit_of_work_is_an_invariant_violation(engine: Engine) -> None:
    store(engine, make_intent("pi_1", 1000))
    # A negative amount passes the guarded UPDATE's WHERE clause; only the CHECK stops it.
    with pytest.raises(InvariantViolationError):
        refund(engine, "pi_1", -5)
    loaded = load(engine, "pi_1")
    assert loaded is not None and loaded.refunded_amount == 0


# --- search and expiry ---------------------------------------------------------------------------


def _seed_five(engine: Engine) -> list[str]:
    """Five intents, oldest first; the last two share a creation time (the id breaks the tie)."""
    times = [NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=2), NOW + timedelta(minutes=3)]
    times.append(times[-1])
    ids = ["pi_a", "pi_b", "pi_c", "pi_d", "pi_e"]
    store(
        engine,
        *(make_intent(i, at=t, paid=n % 2 == 0) for n, (i, t) in enumerate(zip(ids, times, strict=True))),
    )
    store(engine, make_intent("pi_other", scope=OTHER))
    return ids


def _search(engine: Engine, **fields: object) -> tuple[list[str], bool]:
    query = IntentQuery(**{"statuses": frozenset(), "start_at": None, "end_at": None, "limit": 2, **fields})  # type: ignore[arg-type]
    with SqlUnitOfWork(engine) as uow:
        page = uow.intents.search(SCOPE, query)
    return [i.id for i in page.intents], page.has_more


def test_search_pages_newest_first_with_after_and_before(engine: Engine) -> None:
    _seed_five(engine)
    first = _search(engine)
    assert first == (["pi_e", "pi_d"], True)
    d = load(engine, "pi_d")
    assert d is not None
    second = _search(engine, after=(d.created_at, d.id))
    assert second == (["pi_c", "pi_b"], True)
    b = load(engine, "pi_b")
    assert b is not None
    assert _search(engine, after=(b.created_at, b.id)) == (["pi_a"], False)
    c = load(engine, "pi_c")
    assert c is not None
    assert _search(engine, before=(c.created_at, c.id)) == (["pi_e", "pi_d"], False)
    assert _search(engine, before=(b.created_at, b.id)) == (["pi_d", "pi_c"], True)
    assert _search(engine, limit=10) == (["pi_e", "pi_d", "pi_c", "pi_b", "pi_a"], False)


def test_search_cursors_work_in_any_utc_offset(engine: Engine) -> None:
    _seed_five(engine)
    d, b = load(engine, "pi_d"), load(engine, "pi_b")
    assert d is not None and b is not None
    east, west = timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))
    assert _search(engine, after=(d.created_at.astimezone(east), d.id)) == (["pi_c", "pi_b"], True)
    assert _search(engine, before=(b.created_at.astimezone(west), b.id)) == (["pi_d", "pi_c"], True)
    start = (NOW + timedelta(minutes=1)).astimezone(west)
    assert _search(engine, start_at=start, limit=10)[0] == ["pi_e", "pi_d", "pi_c", "pi_b"]


def test_search_filters_by_status_and_inclusive_dates(engine: Engine) -> None:
    _seed_five(engine)
    captured = _search(engine, statuses=frozenset({Status.CAPTURED}), limit=10)
    assert captured == (["pi_e", "pi_c", "pi_a"], False)
    both = _search(engine, statuses=frozenset({Status.CAPTURED, Status.CREATED}), limit=10)
    assert len(both[0]) == 5
    window = _search(engine, start_at=NOW + timedelta(minutes=1), end_at=NOW + timedelta(minutes=2), limit=10)
    assert window == (["pi_c", "pi_b"], False)
    assert _search(engine, statuses=frozenset({Status.REFUNDED})) == ([], False)


def test_due_for_expiry_lists_only_what_is_due(engine: Engine) -> None:
    created = make_intent("pi_created", paid=False)
    authorized = make_intent("pi_auth", mode=CaptureMode.MANUAL)
    store(
        engine, created, authorized, make_intent("pi_captured"), make_intent("pi_x", scope=OTHER, paid=False)
    )
    with SqlUnitOfWork(engine) as uow:
        assert uow.intents.due_for_expiry(NOW + timedelta(days=6), 10) == []
        week = uow.intents.due_for_expiry(NOW + timedelta(days=7), 10)
        assert week == [(SCOPE, "pi_auth")]
        month = set(uow.intents.due_for_expiry(NOW + timedelta(days=30), 10))
        assert month == {(SCOPE, "pi_auth"), (SCOPE, "pi_created"), (OTHER, "pi_x")}
        assert len(uow.intents.due_for_expiry(NOW + timedelta(days=30), 2)) == 2
