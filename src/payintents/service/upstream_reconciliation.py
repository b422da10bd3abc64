"""The reconciliation report of a gateway account (ADR 0033, ``payintents reconcile --account``):
every open or recent mirrored intent compared with Dojo's — status, captured amount, refunded
amount, number of refunds — and each difference raised as an alert (a warning log line).

A mirror that is only behind (a payment, capture or cancel at Dojo it has not heard of yet) is
first brought forward, as a poll would do; what remains is reported and nothing else is changed:
a difference (typically money moved at Dojo's dashboard directly) is for a person to look at. An
intent with a money operation still in flight is left out of this run (its figures are moving),
and one Dojo could not be asked about is listed as not compared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.domain.mirror_differences import Difference, IntentFigures, differences
from payintents.service.dependencies import Dependencies
from payintents.service.mirror import follow_upstream
from payintents.service.mirror_refresh import UPSTREAM_FAILURES
from payintents.service.ports import ProcessorDeclinedError, UnitOfWork
from payintents.service.upstream_ports import Upstream, UpstreamIntent
from payintents.service.upstream_sync_ports import UpstreamAdmin

log = logging.getLogger("payintents.gateway")

# The most intents one report compares (newest first).
MAX_COMPARED = 5000
# Dojo's side of a difference when it shows no such intent (not found, or canceled).
UNSEEN = "not found"


@dataclass
class ReconciliationReport:
    account_id: str
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    # Left out: a money operation in flight on it, or Dojo did not answer about it.
    in_flight: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Local:
    intent: PaymentIntent
    refunds: int
    in_flight: bool


async def reconcile_with_upstream(
    deps: Dependencies, account_id: str, recent: timedelta
) -> ReconciliationReport:
    """Compare every intent of the account still open, or created or changed within ``recent``,
    with Dojo; each difference is also logged as a warning."""
    scope = Scope(account_id, Environment.PRODUCTION)
    upstream = await deps.upstream_for(scope)
    admin = None if deps.upstream_admins is None else await deps.upstream_admins.for_account(account_id)
    if upstream is None or admin is None:
        raise ValidationError({"account": [f"{account_id} has no upstream: there is nothing to compare."]})
    since = deps.clock.now() - recent
    ids = await deps.runner().read(lambda uow: uow.mirror_checks.to_compare(account_id, since, MAX_COMPARED))
    report = ReconciliationReport(account_id)
    for intent_id in ids:
        await _compare_one(deps, scope, upstream, admin, intent_id, report)
    for difference in report.differences:
        log.warning(
            "gateway difference on %s %s: %s here, %s at Dojo",
            difference.intent_id,
            difference.field,
            difference.ours,
            difference.theirs,
        )
    return report


async def _compare_one(
    deps: Dependencies,
    scope: Scope,
    upstream: Upstream,
    admin: UpstreamAdmin,
    intent_id: str,
    report: ReconciliationReport,
) -> None:
    try:
        theirs = await upstream.get_intent(intent_id)
        their_refunds = await admin.refund_count(intent_id)
    except ProcessorDeclinedError:
        # Dojo shows no such intent: as it answers for a canceled one (only Canceled is in order).
        await _compare_unseen(deps, scope, intent_id, report)
        return
    except UPSTREAM_FAILURES:
        report.not_compared.append(intent_id)
        return
    # What the mirror follows by itself (a payment, a capture, a cancel) is no difference: it is
    # brought forward first, as a poll would, and what remains is reported.
    await follow_upstream(deps, scope, theirs)
    local = await deps.runner().read(lambda uow: _local(uow, scope, intent_id))
    if local is None:
        return
    if local.in_flight:
        report.in_flight.append(intent_id)
        return
    report.compared += 1
    report.differences += differences(intent_id, _ours(local), _theirs(theirs, their_refunds))


async def _compare_unseen(
    deps: Dependencies, scope: Scope, intent_id: str, report: ReconciliationReport
) -> None:
    local = await deps.runner().read(lambda uow: _local(uow, scope, intent_id))
    if local is None:
        return
    report.compared += 1
    if local.intent.status is not Status.CANCELED:
        report.differences.append(Difference(intent_id, "status", local.intent.status.value, UNSEEN))


def _local(uow: UnitOfWork, scope: Scope, intent_id: str) -> _Local | None:
    intent = uow.intents.get(scope, intent_id)
    if intent is None:
        return None
    refunds = len(uow.refunds.list_for_intent(scope, intent_id))
    return _Local(intent, refunds, bool(uow.operations.pending_on(scope, intent_id)))


def _ours(local: _Local) -> IntentFigures:
    intent = local.intent
    return IntentFigures(intent.status.value, intent.refundable_amount, intent.refunded_amount, local.refunds)


def _theirs(observed: UpstreamIntent, refunds: int | None) -> IntentFigures:
    return IntentFigures(
        str(observed.body.get("status", observed.state.status.value)),
        observed.captured_amount,
        observed.refunded_amount,
        refunds,
    )
