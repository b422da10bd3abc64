"""The mirror's refresh paths (service/mirror_refresh.py, ADR 0033) on a real SQLite store with a
fake Dojo: a read refreshes a mirror older than the bounded age and only then; an unreachable or
slow Dojo leaves the read answering the mirror, within its wait; a polling pass on a slow Dojo
ends within its budget and leaves the rest for the next pass; Dojo's signature check; how the
reconciliation report names differences."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.intent import Environment, Scope, Status
from payintents.domain.mirror import UpstreamState
from payintents.domain.mirror_differences import Difference, IntentFigures, differences
from payintents.domain.webhook_signing import dojo_signature_matches
from payintents.service import intents, mirror, mirror_refresh
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ProcessorUnavailableError
from payintents.service.upstream_ports import SealedSecret, StoredUpstream, Upstream, UpstreamIntent
from tests.fakes import FakeClock
from tests.store.test_intent_store import make_intent

SCOPE = Scope("acc_gw", Environment.PRODUCTION)
PAID_WITH = {"cardNumber": "520000******1005"}


class FakeDojo:
    """Answers every intent as authorized, after ``delay_s``, or raises ``failure``."""

    def __init__(self) -> None:
        self.calls = 0
        self.delay_s = 0.0
        self.failure: Exception | None = None

    @property
    def processor(self) -> Any:
        raise NotImplementedError

    async def get_intent(self, intent_id: str) -> UpstreamIntent:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.failure is not None:
            raise self.failure
        paid = UpstreamState(intent_id, Status.AUTHORIZED, (), PAID_WITH)
        return UpstreamIntent(intent_id, paid, {"id": intent_id, "status": "Authorized"})

    async def create_intent(self, body: Mapping[str, Any], version: str) -> UpstreamIntent:
        raise NotImplementedError

    async def cancel_intent(self, intent_id: str) -> UpstreamIntent:
        raise NotImplementedError


class FakeUpstreams:
    def __init__(self, dojo: FakeDojo) -> None:
        self.dojo = dojo

    async def for_scope(self, scope: Scope) -> Upstream | None:
        return self.dojo if scope == SCOPE else None


@dataclasses.dataclass
class World:
    deps: Dependencies
    dojo: FakeDojo
    clock: FakeClock


@pytest.fixture
def world(migrated_sqlite_file: Path, tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{shutil.copy(migrated_sqlite_file, tmp_path / 'gateway.db')}"
    engine = make_engine(url, pool_size=2)
    clock, dojo = FakeClock(), FakeDojo()
    deps = build_dependencies(Settings(database_url=url), engine=engine, clock=clock)
    deps = dataclasses.replace(deps, upstreams=FakeUpstreams(dojo), upstream_max_age_s=5.0)
    with deps.uow() as uow:
        uow.accounts.add(SCOPE.account_id, "gateway", [], clock.now())
        sealed = SealedSecret("k", "sealed")
        uow.upstreams.put(StoredUpstream(SCOPE.account_id, "dojo", "https://dojo.test", sealed, clock.now()))
        for number in range(10):
            uow.intents.add(make_intent(f"pi_{number}", scope=SCOPE, paid=False, at=clock.now()))
        uow.commit()
    yield World(deps, dojo, clock)
    deps.runner().close()
    engine.dispose()


def read(world: World, intent_id: str = "pi_0") -> str:
    return asyncio.run(intents.get_intent_and_sessions(world.deps, SCOPE, intent_id))[0].status.value


def test_a_read_refreshes_a_mirror_older_than_the_bounded_age_and_only_then(world: World) -> None:
    assert read(world) == "Authorized" and world.dojo.calls == 1
    world.clock.advance(seconds=4)
    assert read(world) == "Authorized" and world.dojo.calls == 1
    world.clock.advance(seconds=2)
    read(world)
    assert world.dojo.calls == 2


def test_a_read_answers_the_mirror_when_dojo_is_unreachable_or_slow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.dojo.failure = ProcessorUnavailableError("Dojo could not be reached")
    assert read(world) == "Created"
    world.dojo.failure, world.dojo.delay_s = None, 10.0
    monkeypatch.setattr(mirror_refresh, "READ_WAIT_S", 0.2)
    started = time.monotonic()
    assert read(world) == "Created"
    assert time.monotonic() - started < 2.0


def test_a_polling_pass_on_a_slow_dojo_ends_within_its_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_refresh, "POLL_BUDGET_S", 0.3)
    world.dojo.delay_s = 1.0
    started = time.monotonic()
    report = asyncio.run(mirror_refresh.poll_open_mirrors(world.deps))
    took_s = time.monotonic() - started
    # Each of the POLL_CONCURRENCY workers took one intent; none started after the budget.
    assert (report.checked, report.left) == (
        mirror_refresh.POLL_CONCURRENCY,
        10 - mirror_refresh.POLL_CONCURRENCY,
    )
    assert took_s < 0.3 + 1.0 + 1.0


def test_a_polled_mirror_is_not_asked_about_again_within_the_interval(world: World) -> None:
    first = asyncio.run(mirror_refresh.poll_open_mirrors(world.deps))
    assert (first.checked, len(first.changed), first.left) == (10, 10, 0)
    # Authorized mirrors stay open; none is due again until the interval has passed.
    assert asyncio.run(mirror_refresh.poll_open_mirrors(world.deps)).checked == 0
    world.clock.advance(seconds=world.deps.upstream_poll_interval_s + 1)
    assert asyncio.run(mirror_refresh.poll_open_mirrors(world.deps)).checked == 10
    assert world.dojo.calls == 20


def test_an_open_mirror_is_left_alone_by_polling_when_dojo_fails(world: World) -> None:
    world.dojo.failure = ProcessorUnavailableError("down")
    report = asyncio.run(mirror_refresh.poll_open_mirrors(world.deps))
    assert (report.checked, report.failed) == (0, 10)
    assert read(world, "pi_3") == "Created"


# Dojo's published vectors (docs/webhooks.md): its example event signed with two secrets.
EVENT = (
    b'{"id":"evt_hnnHxIKR_Uy6bhZCusCltw","event":"payment_intent.created","accountId":"acc_test",'
    b'"createdAt":"2022-02-01T13:07:41.8667859Z","data":{"paymentIntentId":"pi_vpwd4ooAPEqyNAQe4z89WQ",'
    b'"paymentStatus":"Created","captureMode":"Auto"}}'
)
VECTOR = (
    "sha256=4B-49-F8-FE-25-A7-E6-7D-00-4F-A7-9C-F8-0B-63-00-C7-77-B4-F2-2D-E5-E1-22-84-FA-04-18-50-A1-76-FD"
)


def test_dojo_signatures_are_checked_as_dojo_and_its_sdks_write_them() -> None:
    secret = "PDYkJQq6sESYHp_zJuTTBQ"
    assert dojo_signature_matches(secret, EVENT, VECTOR)
    assert dojo_signature_matches(secret, EVENT, VECTOR.lower().replace("-", ""))
    assert dojo_signature_matches(secret, EVENT, f" {VECTOR.replace('sha256=', 'SHA256=')} ")
    assert not dojo_signature_matches("ws_OYsyzcrH70GpJfs8MMkKpg", EVENT, VECTOR)
    assert not dojo_signature_matches(secret, EVENT + b" ", VECTOR)
    for malformed in ("", "sha256=", VECTOR.removeprefix("sha256="), "sha1=" + VECTOR[7:], VECTOR + "é"):
        assert not dojo_signature_matches(secret, EVENT, malformed)


def test_differences_name_each_figure_and_skip_one_a_side_does_not_list() -> None:
    ours = IntentFigures("Captured", 1000, 300, 1)
    assert differences("pi_1", ours, IntentFigures("Captured", 1000, 300, 1)) == []
    assert differences("pi_1", ours, IntentFigures("Refunded", 1000, 1000, None)) == [
        Difference("pi_1", "status", "Captured", "Refunded"),
        Difference("pi_1", "refundedAmount", 300, 1000),
    ]


def test_the_refresh_before_money_moves_waits_for_dojo_no_longer_than_a_call(world: World) -> None:
    """A refund, capture or reversal on a mirror still Created or Authorized first asks Dojo where
    it stands; a Dojo that does not answer ends the request (502, nothing reserved, nothing sent)
    within the processor timeout, not after the client's retries at its read timeout."""
    world.dojo.delay_s = 10.0
    quick = dataclasses.replace(world.deps, processor_timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(ProcessorUnavailableError):
        asyncio.run(mirror.refresh_before_money_moves(quick, SCOPE, "pi_0"))
    assert time.monotonic() - started < 2.0
