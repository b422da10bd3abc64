"""Stateful property test of the refund invariants, through the HTTP app on a real store.

A hypothesis state machine creates and pays Auto and Manual intents, captures random (sometimes
excessive) amounts, refunds random (sometimes invalid or excessive) amounts under keys drawn from a
small pool, and replays earlier requests exactly or reformatted. After every step each intent is
read back over HTTP and checked: refundedAmount ≤ refundable (sum of captures + tips), refundedAmount
equals the sum of its listed refunds, status is Refunded iff refundedAmount == refundable > 0, and
everything matches a simple model. Replays must return identical bytes and change nothing; a key
reused with another body must give 409. Each example gets a fresh SQLite file, or a migrated
PostgreSQL schema with no rows.

Negative controls show the checks can fail: wrong observations make the checker raise, and the same
machine run against a server that ignores idempotency keys is caught.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.idempotency_store import SqlIdempotencyRepository
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.postgres_schemas import MigratedSchemas
from tests.support import Api, migrate_database

MAX_INTENTS = 4
KEYS = ("k1", "k2", "k3")
NOTES = (None, "n1", "n2")
MACHINE_SETTINGS = settings(
    max_examples=8,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class PropertyViolationError(Exception):
    """An observation of the server breaks a refund invariant."""


@dataclass(frozen=True)
class Observation:
    """One intent as the API shows it: GET /payment-intents/{id} and its refund list."""

    intent_id: str
    status: str
    refunded_amount: int
    refundable: int  # sum of captures[].amount + tipsAmount
    listed_amounts: tuple[int, ...]


@dataclass
class IntentModel:
    """What the machine expects of one intent."""

    intent_id: str
    manual: bool
    total: int
    status: str
    captured: int = 0
    refunded: int = 0
    refunds: list[int] = field(default_factory=list)
    spent_keys: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)


def check_observation(obs: Observation, model: IntentModel | None = None) -> None:
    """Raise PropertyViolationError unless ``obs`` satisfies every refund invariant (and the model)."""
    if obs.refunded_amount > obs.refundable:
        raise PropertyViolationError(f"{obs}: refunded more than captured")
    if obs.refunded_amount != sum(obs.listed_amounts):
        raise PropertyViolationError(f"{obs}: refundedAmount is not the sum of the listed refunds")
    fully = obs.refundable > 0 and obs.refunded_amount == obs.refundable
    if (obs.status == "Refunded") != fully:
        raise PropertyViolationError(f"{obs}: status disagrees with the refunded total")
    if model is not None:
        expected = (model.status, model.refunded, model.captured, tuple(model.refunds))
        if (obs.status, obs.refunded_amount, obs.refundable, obs.listed_amounts) != expected:
            raise PropertyViolationError(
                f"{obs}: expected (status, refunded, refundable, refunds) {expected}"
            )


def check_replay(first: tuple[int, bytes], again: httpx.Response) -> None:
    if (again.status_code, again.content) != first or again.headers.get("Idempotent-Replayed") != "true":
        raise PropertyViolationError(f"replay gave {again.status_code} {again.content!r}, not {first}")


def observe(api: Api, intent_id: str) -> Observation:
    intent = api.intent(intent_id)
    listing = api.get(f"/payment-intents/{intent_id}/refunds")
    if listing.status_code != 200:
        raise PropertyViolationError(f"listing refunds answered {listing.status_code}")
    return Observation(
        intent_id=intent_id,
        status=intent["status"],
        refunded_amount=intent["refundedAmount"],
        refundable=sum(c["amount"] + (c.get("tipsAmount") or 0) for c in intent["captures"]),
        listed_amounts=tuple(r["amount"] for r in listing.json()["data"]),
    )


def expect_status(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise PropertyViolationError(f"expected {status}, got {response.status_code}: {response.text}")


def refund_expectation(model: IntentModel, key: str, body: dict[str, Any]) -> int:
    """The status docs/api.md promises for this refund request, given the model."""
    amount = body["amount"]
    if amount < 1:
        return 400
    if key in model.spent_keys:
        return 200 if model.spent_keys[key][0] == body else 409
    if model.status != "Captured" or amount > model.captured - model.refunded:
        return 400
    return 200


class RefundMachine(RuleBasedStateMachine):
    """Subclasses set ``store``: a context manager yielding a migrated, empty database URL."""

    store: Callable[[], AbstractContextManager[str]]

    def __init__(self) -> None:
        super().__init__()
        self._exit = ExitStack()
        url = self._exit.enter_context(self.store())
        engine = make_engine(url, pool_size=2)
        self._exit.callback(engine.dispose)
        deps = build_dependencies(Settings(database_url=url), engine=engine)
        client = self._exit.enter_context(TestClient(build_app(deps), base_url="http://testserver"))
        self.api = Api(client, create_account(deps, "machine").sandbox_key)
        self.intents: list[IntentModel] = []
        self.history: list[tuple[str, str, dict[str, Any], tuple[int, bytes]]] = []

    def teardown(self) -> None:
        self._exit.close()

    def _pick(self, index: int) -> IntentModel:
        return self.intents[index % len(self.intents)]

    @precondition(lambda self: len(self.intents) < MAX_INTENTS)
    @rule(total=st.integers(1, 2000))
    def create_and_pay_auto(self, total: int) -> None:
        intent_id = self.api.captured_intent(total)
        self.intents.append(
            IntentModel(intent_id, manual=False, total=total, status="Captured", captured=total)
        )

    @precondition(lambda self: len(self.intents) < MAX_INTENTS)
    @rule(total=st.integers(1, 2000))
    def create_and_pay_manual(self, total: int) -> None:
        intent_id = str(self.api.create_intent(total, captureMode="Manual")["id"])
        expect_status(self.api.pay(intent_id), 200)
        self.intents.append(IntentModel(intent_id, manual=True, total=total, status="Authorized"))

    @precondition(lambda self: self.intents)
    @rule(
        index=st.integers(0, MAX_INTENTS),
        amount=st.integers(1, 600) | st.integers(1, 2200),
        tips=st.none() | st.integers(0, 60),
    )
    def capture(self, index: int, amount: int, tips: int | None) -> None:
        model = self._pick(index)
        body: dict[str, Any] = {"amount": amount} if tips is None else {"amount": amount, "tipsAmount": tips}
        response = self.api.post(f"/payment-intents/{model.intent_id}/captures", body)
        capturable = model.manual and (
            model.status == "Authorized" or (model.status == "Captured" and model.refunded == 0)
        )
        wanted = amount + (tips or 0)
        if not capturable:
            expect_status(response, 409)
        elif wanted > model.total - model.captured:
            expect_status(response, 400)
        else:
            expect_status(response, 200)
            event("capture answered 200")
            model.captured += wanted
            model.status = "Captured"

    @precondition(lambda self: self.intents)
    @rule(
        index=st.integers(0, MAX_INTENTS),
        amount=st.sampled_from([-1, 0, 1, 50, 100, 250]) | st.integers(1, 800) | st.integers(-2, 2500),
        key=st.sampled_from(KEYS),
        notes=st.sampled_from(NOTES),
    )
    def refund(self, index: int, amount: int, key: str, notes: str | None) -> None:
        self._refund(self._pick(index), amount, key, notes)

    @precondition(lambda self: any(m.captured > m.refunded for m in self.intents))
    @rule(index=st.integers(0, MAX_INTENTS), key=st.sampled_from(KEYS))
    def refund_the_exact_remainder(self, index: int, key: str) -> None:
        open_intents = [m for m in self.intents if m.captured > m.refunded]
        model = open_intents[index % len(open_intents)]
        self._refund(model, model.captured - model.refunded, key, None)

    def _refund(self, model: IntentModel, amount: int, key: str, notes: str | None) -> None:
        body: dict[str, Any] = {"amount": amount} if notes is None else {"amount": amount, "notes": notes}
        expected = refund_expectation(model, key, body)
        response = self.api.post(f"/payment-intents/{model.intent_id}/refunds", body, IdempotencyKey=key)
        expect_status(response, expected)
        event(f"refund answered {expected}" + (" (replay)" if key in model.spent_keys else ""))
        if expected == 200 and key in model.spent_keys:
            check_replay((200, model.spent_keys[key][1]), response)
        elif expected == 200:
            model.spent_keys[key] = (body, response.content)
            model.refunded += amount
            model.refunds.append(amount)
            if model.refunded == model.captured:
                model.status = "Refunded"
                event("intent fully refunded")
            self.history.append((model.intent_id, key, body, (200, response.content)))

    @precondition(lambda self: self.history)
    @rule(which=st.integers(0, 1000), reformat=st.booleans())
    def replay_earlier_refund(self, which: int, reformat: bool) -> None:
        intent_id, key, body, first = self.history[which % len(self.history)]
        if reformat:  # other property order, whitespace and name case: still the same request
            content = json.dumps({name.upper(): value for name, value in reversed(body.items())}, indent=1)
        else:
            content = json.dumps(body)
        headers = {**self.api.headers(IdempotencyKey=key), "Content-Type": "application/json"}
        again = self.api.client.post(
            f"/payment-intents/{intent_id}/refunds", content=content, headers=headers
        )
        check_replay(first, again)
        event("replayed an earlier refund")

    @invariant()
    def every_intent_keeps_the_refund_invariants(self) -> None:
        # Comparing with the model (listed refunds included) is also what proves that refused
        # requests and replays changed nothing.
        for model in self.intents:
            check_observation(observe(self.api, model.intent_id), model)


@contextmanager
def sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="payintents-prop-") as folder:
        url = f"sqlite:///{Path(folder) / 'machine.db'}"
        migrate_database(url)
        yield url


def _machine(store: Callable[[], AbstractContextManager[str]]) -> type[RefundMachine]:
    return type("RefundMachineOnStore", (RefundMachine,), {"store": staticmethod(store)})


@pytest.mark.slow
def test_refund_invariants_hold_on_sqlite() -> None:
    run_state_machine_as_test(_machine(sqlite_store), settings=MACHINE_SETTINGS)


@pytest.mark.postgres
def test_refund_invariants_hold_on_postgres(migrated_postgres_schemas: MigratedSchemas) -> None:
    # Each example gets a migrated schema with no rows (tests/postgres_schemas.py).
    run_state_machine_as_test(_machine(migrated_postgres_schemas.schema_url), settings=MACHINE_SETTINGS)


# --- negative controls --------------------------------------------------------------------------------

GOOD = Observation("pi_x", "Captured", 300, 1000, (100, 200))


@pytest.mark.parametrize(
    "wrong",
    [
        replace(GOOD, refunded_amount=301),  # off by one against the listed refunds
        replace(GOOD, refunded_amount=1001, listed_amounts=(1001,)),  # over the captured total
        replace(GOOD, status="Refunded"),  # Refunded while money remains
        replace(GOOD, refunded_amount=1000, listed_amounts=(1000,)),  # fully refunded yet Captured
        replace(GOOD, status="Refunded", refunded_amount=0, refundable=0, listed_amounts=()),
    ],
)
def test_checker_rejects_wrong_observations(wrong: Observation) -> None:
    check_observation(GOOD)
    with pytest.raises(PropertyViolationError):
        check_observation(wrong)


def test_checker_rejects_a_model_mismatch() -> None:
    model = IntentModel(
        "pi_x", manual=False, total=1000, status="Captured", captured=1000, refunded=300, refunds=[100, 200]
    )
    check_observation(GOOD, model)
    for wrong in (replace(model, refunded=299), replace(model, refunds=[300]), replace(model, captured=999)):
        with pytest.raises(PropertyViolationError):
            check_observation(GOOD, wrong)


def test_replay_check_rejects_changed_bytes_or_a_missing_header() -> None:
    first = (200, b'{"refundId":"rfnd_a"}')
    good = httpx.Response(200, content=first[1], headers={"Idempotent-Replayed": "true"})
    check_replay(first, good)
    for wrong in (
        httpx.Response(200, content=b'{"refundId":"rfnd_b"}', headers={"Idempotent-Replayed": "true"}),
        httpx.Response(200, content=first[1]),
        httpx.Response(409, content=first[1], headers={"Idempotent-Replayed": "true"}),
    ):
        with pytest.raises(PropertyViolationError):
            check_replay(first, wrong)


def test_machine_catches_a_server_that_forgets_idempotency_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control for the whole harness: with keys ignored, replays refund twice."""
    monkeypatch.setattr(SqlIdempotencyRepository, "claim", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(SqlIdempotencyRepository, "complete", lambda *_args, **_kwargs: None)
    broken = settings(
        MACHINE_SETTINGS,
        max_examples=30,
        phases=[Phase.generate],
        database=None,
        derandomize=True,
        report_multiple_bugs=False,
    )
    with pytest.raises(PropertyViolationError):
        run_state_machine_as_test(_machine(sqlite_store), settings=broken)
