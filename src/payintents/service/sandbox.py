"""Sandbox superpowers: failures on demand, a movable clock per account, reset, the request log.

Every control refuses production scopes with the same 404 an unknown path gets, so a prod key
cannot even tell the endpoints exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain import lifecycle
from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Environment, Scope
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure, advanced_offset
from payintents.service.dependencies import Dependencies
from payintents.service.expiry import run_expiry_pass
from payintents.service.ports import RequestContext, RequestLogEntry, RequestQuery, UnitOfWork

NO_SUCH_ENDPOINT = "No such endpoint for this key."


@dataclass(frozen=True, slots=True)
class ClockView:
    now: datetime
    offset: timedelta


@dataclass(frozen=True, slots=True)
class AdvanceReport:
    clock: ClockView
    intents_expired: int
    keys_reaped: int
    webhook_retries_moved: int


def require_sandbox(scope: Scope) -> None:
    if scope.environment is not Environment.SANDBOX:
        raise NotFoundError(NO_SUCH_ENDPOINT)


def load_clock_offset(deps: Dependencies, scope: Scope) -> timedelta:
    """The account's clock offset (always zero in production), for a request that has no API key
    to bring it (the checkout, the dashboard)."""
    if scope.environment is not Environment.SANDBOX:
        return timedelta(0)
    with deps.read() as uow:
        return uow.sandbox.clock_offset(scope.account_id)


def show_clock(deps: Dependencies, ctx: RequestContext, scope: Scope) -> ClockView:
    require_sandbox(scope)
    return ClockView(ctx.now(deps.clock), ctx.clock_offset)


async def advance_clock(
    deps: Dependencies, scope: Scope, seconds: float | None, to: datetime | None
) -> AdvanceReport:
    """Move the account's clock forward and run, for this account, everything that became due."""
    require_sandbox(scope)

    def move(uow: UnitOfWork) -> tuple[timedelta, int]:
        old = uow.sandbox.clock_offset(scope.account_id)
        new = advanced_offset(old, deps.clock.now(), seconds, to)
        uow.sandbox.set_clock_offset(scope.account_id, new)
        return new, uow.sandbox.shift_deliveries(scope, new - old)

    new, moved = await deps.runner().write(move)
    moved_on = RequestContext(clock_offset=new)
    report = await run_expiry_pass(deps, only=scope, ctx=moved_on)
    return AdvanceReport(
        ClockView(moved_on.now(deps.clock), new), report.intents_expired, report.keys_reaped, moved
    )


def reset(deps: Dependencies, scope: Scope) -> int:
    """Delete every object of the calling sandbox account, in one transaction; clock back to real."""
    require_sandbox(scope)
    # So no entry of this process's earlier requests lands after the reset (another worker's
    # may, within its 50 ms batch: ADR 0009).
    _flush_request_log(deps)
    with deps.uow() as uow:
        # Sessions first: a matched refund's row names an intent that is about to go.
        uow.terminals.release_all(scope)
        removed = uow.sandbox.delete_everything(scope)
        uow.commit()
    return removed


def fail_next(
    deps: Dependencies,
    scope: Scope,
    intent_id: str,
    operation: FailOperation,
    outcome: FailOutcome,
    delay_ms: int,
) -> InjectedFailure:
    require_sandbox(scope)
    failure = InjectedFailure(operation, outcome, delay_ms)
    with deps.uow() as uow:
        lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        uow.sandbox.put_failure(scope, intent_id, failure)
        uow.commit()
    return failure


def record_request(deps: Dependencies, scope: Scope, entry: RequestLogEntry) -> None:
    if scope.environment is not Environment.SANDBOX:
        return
    if deps.request_log is not None:
        deps.request_log.add(scope, entry)
        return
    with deps.uow() as uow:
        uow.sandbox.add_requests([(scope, entry)])
        uow.commit()


def _flush_request_log(deps: Dependencies) -> None:
    if deps.request_log is not None:
        deps.request_log.flush()


def list_requests(deps: Dependencies, scope: Scope, query: RequestQuery) -> list[RequestLogEntry]:
    require_sandbox(scope)
    _flush_request_log(deps)  # this process's own latest requests are always listed
    with deps.read() as uow:
        return uow.sandbox.list_requests(scope, query)


def reap_request_log(deps: Dependencies) -> int:
    _flush_request_log(deps)
    with deps.uow() as uow:
        reaped = uow.sandbox.reap_requests(deps.clock.now() - deps.request_log_retention)
        uow.commit()
    return reaped
