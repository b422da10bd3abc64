"""Receipt use cases: send a payment's receipt, and read the sandbox's receipt outbox.

Sandbox keys never send mail: the receipt is rendered and recorded in the outbox, where
``GET /sandbox/receipts`` and the dashboard show it. Production keys mail it through the
``ReceiptMailer`` port, outside any transaction; without a configured mail server they are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from payintents.domain import lifecycle
from payintents.domain.errors import RuleBrokenError
from payintents.domain.intent import Environment, Scope
from payintents.domain.receipts import Receipt, check_recipients, ensure_receipt_possible, render_receipt
from payintents.service.dependencies import Dependencies
from payintents.service.ports import RequestContext, UnitOfWork
from payintents.service.sandbox import require_sandbox

MAIL_NOT_CONFIGURED_DETAIL = (
    "This server sends no receipts for production keys: its operator has not set PAYINTENTS_SMTP_URL."
)


class ReceiptsNotConfiguredError(RuleBrokenError):
    """A production key asked for a receipt and the server has no mail server."""


async def send_receipt(
    deps: Dependencies, context: RequestContext, scope: Scope, intent_id: str, emails: Sequence[str]
) -> Receipt:
    recipients = check_recipients(emails)
    sandbox = scope.environment is Environment.SANDBOX
    receipt_id = deps.ids.new_id("rcpt", scope.environment)

    def unit(uow: UnitOfWork) -> Receipt:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        ensure_receipt_possible(intent)
        receipt = render_receipt(receipt_id, intent, recipients, context.now(deps.clock))
        if sandbox:
            uow.receipts.add(receipt)  # the runner commits a write unit when it returns
        return receipt

    if sandbox:
        return await deps.runner().write(unit)
    mailer = deps.receipt_mailer
    if mailer is None:
        raise ReceiptsNotConfiguredError(MAIL_NOT_CONFIGURED_DETAIL)
    receipt = await deps.runner().read(unit)
    # The mail server is another system: no transaction is held while it answers.
    await asyncio.to_thread(mailer.send, receipt)
    return receipt


async def list_receipts(deps: Dependencies, scope: Scope, intent_id: str | None, limit: int) -> list[Receipt]:
    """The sandbox outbox, newest first (production keys: 404, there is no outbox)."""
    require_sandbox(scope)
    return await deps.runner().read(lambda uow: uow.receipts.list(scope, intent_id, limit))
