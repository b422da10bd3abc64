"""Commands of the gateway's mirror (ADR 0033): the gateway's webhook subscription at an
account's Dojo (``payintents accounts subscribe-upstream``, also run by ``accounts create
--upstream`` and ``set-upstream``), and the reconciliation report (``payintents reconcile
--account``).

Without PAYINTENTS_PUBLIC_URL there is no address Dojo could post to: the account gets no
subscription, a warning says so, and its mirrors follow Dojo by polling and reads alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payintents.service.dependencies import Dependencies
    from payintents.service.upstream_reconciliation import ReconciliationReport

NO_PUBLIC_URL = (
    "no PAYINTENTS_PUBLIC_URL: Dojo has nowhere to send its webhooks, so {account}'s intents follow "
    "Dojo by polling (every PAYINTENTS_UPSTREAM_POLL_INTERVAL_S) and on reads only. Set it and run "
    "`payintents accounts subscribe-upstream {account}`."
)


def subscribe(deps: Dependencies, account_id: str) -> str:
    """Subscribe the gateway at the account's Dojo; what was done, in one line. Raises
    ValidationError (with the reason) when it could not be done."""
    import asyncio

    from payintents.bootstrap import Settings
    from payintents.domain.errors import ValidationError
    from payintents.service.mirror_refresh import UPSTREAM_FAILURES
    from payintents.service.upstream_webhooks import subscribe_upstream

    public_url = Settings.from_environment().public_url
    if public_url is None:
        raise ValidationError({"publicUrl": [NO_PUBLIC_URL.format(account=account_id)]})
    try:
        done = asyncio.run(subscribe_upstream(deps, account_id, public_url))
    except UPSTREAM_FAILURES as failed:
        reason = f"Dojo did not subscribe the gateway for {account_id}: {failed}"
        raise ValidationError({"subscription": [reason]}) from None
    replaced = f", replacing {done.replaced} earlier" if done.replaced else ""
    subscription = f"subscription {done.subscription_id}{replaced}"
    return f"Dojo posts {account_id}'s intent updates to {done.url} ({subscription})."


def subscribe_or_warn(deps: Dependencies, account_id: str) -> None:
    """For ``accounts create --upstream`` and ``set-upstream``: the upstream is set either way;
    a subscription that could not be made is a warning on stderr, not a failure."""
    from payintents.domain.errors import ValidationError

    try:
        print(subscribe(deps, account_id), file=sys.stderr)
    except ValidationError as failed:
        for message in (m for messages in failed.errors.values() for m in messages):
            print(f"payintents: warning: {message}", file=sys.stderr)


def warn_about_webhook_gaps(deps: Dependencies, public_url: str | None) -> None:
    """At ``serve``'s start: a warning for each upstream account Dojo's webhooks do not reach."""
    import logging

    from payintents.service.upstream_webhooks import webhook_gaps

    log = logging.getLogger("payintents.gateway")
    for gap in webhook_gaps(deps, public_url):
        log.warning(
            "%s: its intents follow Dojo by polling and reads only; run "
            "`payintents accounts subscribe-upstream` with PAYINTENTS_PUBLIC_URL set",
            gap,
        )


def accounts_subscribe_upstream(deps: Dependencies, args: argparse.Namespace) -> None:
    print(subscribe(deps, args.account))


def reconcile_account(deps: Dependencies, args: argparse.Namespace) -> int:
    """Print the account's differences with Dojo; 1 if there is any, or an intent Dojo did not
    answer about (nothing can be said of it), else 0."""
    import asyncio
    import time
    from collections import Counter
    from datetime import timedelta

    from payintents.service.upstream_reconciliation import reconcile_with_upstream

    report = asyncio.run(reconcile_with_upstream(deps, args.account, timedelta(hours=args.recent_hours)))
    print(json.dumps(_as_json(report)) if args.json else _as_table(report))
    if args.metrics_file:
        from payintents.domain.mirror_differences import FIELDS
        from payintents.web.metrics import write_reconciliation_metrics

        found = Counter(d.field for d in report.differences)
        counts = {name: found.get(name, 0) for name in FIELDS}
        write_reconciliation_metrics(args.metrics_file, counts, len(report.not_compared), time.time())
    return 1 if report.differences or report.not_compared else 0


def _as_json(report: ReconciliationReport) -> dict[str, object]:
    return {
        "accountId": report.account_id,
        "compared": report.compared,
        "differences": [
            {"paymentIntentId": d.intent_id, "field": d.field, "gateway": d.ours, "dojo": d.theirs}
            for d in report.differences
        ],
        "inFlight": report.in_flight,
        "notCompared": report.not_compared,
    }


def _as_table(report: ReconciliationReport) -> str:
    lines = [
        f"{report.account_id}: {report.compared} intent(s) compared with Dojo, "
        f"{len(report.differences)} difference(s)"
    ]
    if report.differences:
        rows = [("payment intent", "field", "gateway", "dojo")]
        rows += [(d.intent_id, d.field, str(d.ours), str(d.theirs)) for d in report.differences]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines += [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
        ]
    if report.in_flight:
        lines.append(f"left out, a money operation in flight: {', '.join(report.in_flight)}")
    if report.not_compared:
        lines.append(f"not compared, Dojo did not answer: {', '.join(report.not_compared)}")
    return "\n".join(line.rstrip() for line in lines)
