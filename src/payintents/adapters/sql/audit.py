"""``payintents audit``: re-check the money invariants on a whole database, from the rows alone.

Refunds count once the processor confirmed them: refundedAmount is the sum of refund rows. A refund
still pending (its processor call unanswered, or a crash before its outcome was recorded) is held
in pendingRefundAmount, which the cap counts too; ``payintents reconcile`` settles it.

Each check is a named invariant and the ids of the rows that break it. The checks read committed
data only and change nothing, so they can run against a live production database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, func, or_, select

from payintents.adapters.sql.schema import (
    captures,
    money_operations,
    outbox_events,
    payment_intents,
    refunds,
    terminal_sessions,
)
from payintents.domain.events import EventName
from payintents.domain.intent import Status
from payintents.domain.money_operation import OperationKind, OperationStatus

pi = payment_intents
mo = money_operations
# Report at most this many offending ids per invariant; the count is always exact.
MAX_EXAMPLES = 20


@dataclass
class Finding:
    invariant: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, object_id: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(object_id)


@dataclass
class AuditReport:
    intents_checked: int
    refunds_checked: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(f.count == 0 for f in self.findings)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "intentsChecked": self.intents_checked,
            "refundsChecked": self.refunds_checked,
            "invariants": {
                f.invariant: {"violations": f.count, "examples": f.examples} for f in self.findings
            },
        }


def audit(engine: Engine) -> AuditReport:
    with engine.connect() as conn:
        findings = [
            _rows_breaking(conn, "REFUND_CAP", pi.c.refunded_amount > pi.c.refundable_amount),
            # refundedAmount equals the sum of the intent's refund rows.
            _sum_mismatch(
                conn, "REFUNDED_IS_SUM_OF_REFUNDS", pi.c.refunded_amount, refunds, refunds.c.amount
            ),
            # The refundable total equals the captured amounts plus their tips.
            _sum_mismatch(
                conn,
                "REFUNDABLE_IS_CAPTURED",
                pi.c.refundable_amount,
                captures,
                captures.c.amount + func.coalesce(captures.c.tips_amount, 0),
            ),
            _rows_breaking(conn, "REFUNDED_STATUS", _status_disagrees()),
            *_refund_events(conn),
            *_operation_findings(conn),
        ]
        intents = conn.execute(select(func.count()).select_from(pi)).scalar_one()
        refund_count = conn.execute(select(func.count()).select_from(refunds)).scalar_one()
    return AuditReport(int(intents), int(refund_count), findings)


def _operation_findings(conn: Connection) -> list[Finding]:
    """The money operations' states (ADR 0026): a pending refund's amount is reserved and counts
    against the cap; a capture or reversal in flight holds its intent; a failed operation holds
    nothing and created nothing; a succeeded one created its refund or capture."""
    pending_refunds = and_(
        mo.c.kind == OperationKind.REFUND.value, mo.c.status == OperationStatus.PENDING.value
    )
    return [
        _rows_breaking(
            conn,
            "RESERVE_CAP",
            or_(
                pi.c.pending_refund_amount < 0,
                pi.c.refunded_amount + pi.c.pending_refund_amount > pi.c.refundable_amount,
            ),
        ),
        _sum_mismatch(
            conn,
            "RESERVED_IS_SUM_OF_PENDING_REFUNDS",
            # What open terminal sessions hold is reserved too, before an operation takes it over.
            pi.c.pending_refund_amount - _held_by_terminal_sessions(),
            mo,
            mo.c.amount,
            pending_refunds,
        ),
        _rows_breaking(conn, "IN_FLIGHT_IS_A_PENDING_OPERATION", _in_flight_disagrees()),
        _operations_breaking(conn, "FAILED_HOLDS_NOTHING", _failed_left_something()),
        _operations_breaking(conn, "SUCCEEDED_IS_RECORDED", _succeeded_left_nothing()),
    ]


def _held_by_terminal_sessions() -> ColumnElement[int]:
    held = func.coalesce(func.sum(terminal_sessions.c.held_amount), 0)
    return select(held).where(terminal_sessions.c.payment_intent_id == pi.c.id).scalar_subquery()


def _in_flight_disagrees() -> ColumnElement[bool]:
    """The intent names an operation in flight that is not its pending capture or reversal, or
    has such an operation without naming it."""
    held = select(mo.c.id).where(
        mo.c.payment_intent_id == pi.c.id,
        mo.c.status == OperationStatus.PENDING.value,
        mo.c.kind != OperationKind.REFUND.value,
    )
    named = held.where(mo.c.id == pi.c.pending_operation_id)
    return or_(
        and_(pi.c.pending_operation_id.is_not(None), ~named.exists()),
        and_(pi.c.pending_operation_id.is_(None), held.exists()),
    )


def _created(kind: OperationKind) -> ColumnElement[bool]:
    """Whether the refund or capture an operation of ``kind`` creates exists (a charge's: the
    capture of an Auto intent)."""
    table = refunds if kind is OperationKind.REFUND else captures
    return and_(mo.c.kind == kind.value, select(table.c.id).where(table.c.id == mo.c.object_id).exists())


def _failed_left_something() -> ColumnElement[bool]:
    # A charge's object id is the capture an Auto intent gets: a failed one must not have it.
    created = or_(
        *(_created(kind) for kind in (OperationKind.REFUND, OperationKind.CAPTURE, OperationKind.CHARGE))
    )
    holding = select(pi.c.id).where(pi.c.pending_operation_id == mo.c.id).exists()
    return and_(mo.c.status == OperationStatus.FAILED.value, or_(created, holding))


def _succeeded_left_nothing() -> ColumnElement[bool]:
    creates = mo.c.kind.in_([OperationKind.REFUND.value, OperationKind.CAPTURE.value])
    created = or_(_created(OperationKind.REFUND), _created(OperationKind.CAPTURE))
    return and_(mo.c.status == OperationStatus.SUCCEEDED.value, creates, ~created)


def _operations_breaking(conn: Connection, name: str, condition: ColumnElement[bool]) -> Finding:
    finding = Finding(name)
    for (operation_id,) in conn.execute(select(mo.c.id).where(condition).order_by(mo.c.id)):
        finding.add(operation_id)
    return finding


def _status_disagrees() -> ColumnElement[bool]:
    fully_refunded = and_(pi.c.refundable_amount > 0, pi.c.refunded_amount == pi.c.refundable_amount)
    is_refunded = pi.c.status == Status.REFUNDED.value
    return or_(and_(is_refunded, ~fully_refunded), and_(~is_refunded, fully_refunded))


def _rows_breaking(conn: Connection, name: str, condition: ColumnElement[bool]) -> Finding:
    finding = Finding(name)
    for (intent_id,) in conn.execute(select(pi.c.id).where(condition).order_by(pi.c.id)):
        finding.add(intent_id)
    return finding


def _sum_mismatch(
    conn: Connection,
    name: str,
    column: ColumnElement[int],
    child: Table,
    child_total: ColumnElement[int],
    counted: ColumnElement[bool] | None = None,
) -> Finding:
    """Intents whose ``column`` differs from the total of their rows in ``child`` (those rows
    only that are ``counted``, when given)."""
    sums_of = select(child.c.payment_intent_id, func.sum(child_total).label("total"))
    if counted is not None:
        sums_of = sums_of.where(counted)
    sums = sums_of.group_by(child.c.payment_intent_id).subquery()
    query = (
        select(pi.c.id)
        .select_from(pi.outerjoin(sums, sums.c.payment_intent_id == pi.c.id))
        .where(column != func.coalesce(sums.c.total, 0))
        .order_by(pi.c.id)
    )
    finding = Finding(name)
    for (intent_id,) in conn.execute(query):
        finding.add(intent_id)
    return finding


def _refund_events(conn: Connection) -> list[Finding]:
    """REFUND_HAS_ONE_EVENT and EVENT_HAS_REFUND: each refund has exactly one refund.created."""
    events_per_refund: dict[str, int] = {}
    for refund_id in _event_refund_ids(conn):
        events_per_refund[refund_id] = events_per_refund.get(refund_id, 0) + 1
    missing = Finding("REFUND_HAS_ONE_EVENT")
    for (refund_id,) in conn.execute(select(refunds.c.id).order_by(refunds.c.id)):
        if events_per_refund.pop(refund_id, 0) != 1:
            missing.add(refund_id)
    orphans = Finding("EVENT_HAS_REFUND")
    for refund_id in sorted(events_per_refund):
        orphans.add(refund_id)
    return [missing, orphans]


def _event_refund_ids(conn: Connection) -> Iterator[str]:
    query = select(outbox_events.c.payload).where(outbox_events.c.name == EventName.REFUND_CREATED.value)
    for (payload,) in conn.execution_options(yield_per=1000).execute(query):
        yield str(json.loads(payload)["refundId"])
