"""Read-only figures for operators: the webhook backlog, and whether the store answers."""

from __future__ import annotations

from payintents.service.dependencies import Dependencies


def webhook_backlog(deps: Dependencies) -> int:
    """Webhook deliveries not yet done, over every account (an operational figure, no money)."""
    with deps.read() as uow:
        return uow.deliveries.count_pending()


def check_ready(deps: Dependencies) -> None:
    """Raise StoreBusyError unless the store answers a query."""
    with deps.read() as uow:
        uow.accounts.count()
