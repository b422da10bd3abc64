"""Read-only figures for operators: refund totals by currency and the outbox backlog."""

from __future__ import annotations

from dataclasses import dataclass

from payintents.service.dependencies import Dependencies


@dataclass(frozen=True, slots=True)
class MoneyTotals:
    refunds_by_currency: list[tuple[str, int, int]]
    outbox_pending: int


def money_totals(deps: Dependencies) -> MoneyTotals:
    with deps.read() as uow:
        return MoneyTotals(uow.refunds.totals_by_currency(), uow.deliveries.count_pending())


def check_ready(deps: Dependencies) -> None:
    """Raise StoreBusyError unless the store answers a query."""
    with deps.read() as uow:
        uow.accounts.count()
