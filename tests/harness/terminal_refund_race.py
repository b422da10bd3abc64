"""Race harness: matched refunds at card terminals and API refunds, together, on one intent.

Each trial captures a fresh intent, then releases ``--concurrency`` requests at once (demand
about twice the captured amount) through a real server with several worker processes: half are
terminal matched refunds (``POST /terminal-sessions`` on a terminal of their own, then the
sandbox's card driver approves the card), half are API refunds with distinct idempotency keys.
It checks:

- over_refunded: trials where the acknowledged refunds (API 200s plus terminal sessions that
  ended ``Captured``) add up to more than was captured, or ``refundedAmount`` or the refund list
  does (must be 0);
- acknowledged_mismatch: the acknowledged sum differs from ``refundedAmount`` or the list's sum
  (must be 0); status_mismatch: ``Refunded`` exactly when fully refunded (must be 0);
- errors_5xx, other_status (must be 0); api_acknowledged, terminal_acknowledged and rejected_400
  are reported.

    python -m tests.harness.terminal_refund_race --trials 100 --workers 2 --concurrency 8 \\
        [--backend sqlite|postgres] [--naive]

With ``--naive`` the API refunds take the check-then-write path of tests/harness/naive_app.py,
with a window of 300 ms between check and write, times the load per core (longer than a terminal
refund takes here, so terminal refunds confirmed meanwhile are missed by the check): the negative
control, whose exit status is zero only if the harness caught an over-refund.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from tests.harness.naive_app import WINDOW_ENV
from tests.harness.race_common import (
    REQUEST_TIMEOUT_S,
    Harness,
    RaceFigures,
    Reply,
    add_common_arguments,
    report,
    run_trials,
)
from tests.support import VERSION, Api, new_terminal

CAPTURED = 1000
# The naive API refunds' pause between check and write on an idle machine (the naive server grows
# it with the load): long enough for the terminal sessions racing them to reserve inside it.
NAIVE_WINDOW_MS = "300"
EPOS_HEADERS = {"software-house-id": "softwareHouse1", "reseller-id": "reseller1"}


@dataclass
class TerminalRaceFigures(RaceFigures):
    api_acknowledged: int = 0
    terminal_acknowledged: int = 0


@dataclass(frozen=True)
class Terminals:
    """The account every trial uses, with one terminal per racing terminal refund."""

    api: Api
    terminal_ids: list[str]


def prepare(h: Harness) -> Terminals:
    """A new account with enough terminals (it starts with two; set-up adds the rest)."""
    account = h.server.new_account()
    needed = h.concurrency // 2
    for _ in range(max(0, needed - 2)):
        new_terminal(h.server.database_url, account["accountId"])
    api = Api(h.api.client, account["sandboxKey"])
    listed = api.client.get("/terminals", headers={**api.headers(), **EPOS_HEADERS}).json()
    return Terminals(api, [terminal["id"] for terminal in listed][:needed])


def _terminal_refund(
    h: Harness, key: str, barrier: threading.Barrier, terminal_id: str, intent_id: str, amount: int
) -> tuple[int, str | None]:
    """(status of the session's creation, the session's final status if it was created)."""
    headers = {"Authorization": f"Basic {key}", "Version": VERSION, **EPOS_HEADERS}
    amount_body = {"value": amount, "currencyCode": "GBP"}
    details = {
        "sessionType": "MatchedRefund",
        "matchedRefund": {"paymentIntentId": intent_id, "amount": amount_body},
    }
    with httpx.Client(base_url=h.server.base_url, timeout=REQUEST_TIMEOUT_S, verify=False) as client:
        barrier.wait(timeout=REQUEST_TIMEOUT_S)
        created = client.post(
            "/terminal-sessions", json={"terminalId": terminal_id, "details": details}, headers=headers
        )
        if created.status_code != 200:
            return created.status_code, None
        session_id = created.json()["id"]
        card = client.post(
            f"/sandbox/terminal-sessions/{session_id}/present-card",
            json={"outcome": "Approved"},
            headers=headers,
        )
        if card.status_code != 200:
            return card.status_code, None
        return 200, str(card.json()["status"])


def run_trial(h: Harness, terminals: Terminals, figures: TerminalRaceFigures) -> None:
    api = terminals.api
    amount = math.ceil(2 * CAPTURED / h.concurrency)
    intent_id = api.captured_intent(CAPTURED)
    barrier = threading.Barrier(h.concurrency)
    token = secrets.token_hex(4)
    at_terminals = [
        h.pool.submit(_terminal_refund, h, api.key, barrier, terminal_id, intent_id, amount)
        for terminal_id in terminals.terminal_ids
    ]
    by_api = [
        h.pool.submit(_api_refund, h, api.key, barrier, intent_id, amount, f"trace-{token}-{i}")
        for i in range(h.concurrency - len(at_terminals))
    ]
    terminal_answers = [future.result() for future in at_terminals]
    api_answers = [future.result() for future in by_api]
    _count(h, api, intent_id, amount, terminal_answers, api_answers, figures)


def _api_refund(
    h: Harness, key: str, barrier: threading.Barrier, intent_id: str, amount: int, idempotency_key: str
) -> Reply:
    body = json.dumps({"amount": amount, "refundReason": "race"}).encode()
    headers = {"Authorization": f"Basic {key}", "Version": VERSION, "Content-Type": "application/json"}
    with httpx.Client(base_url=h.server.base_url, timeout=REQUEST_TIMEOUT_S, verify=False) as client:
        barrier.wait(timeout=REQUEST_TIMEOUT_S)
        response = client.post(
            f"/payment-intents/{intent_id}/refunds",
            content=body,
            headers={**headers, "idempotencyKey": idempotency_key},
        )
    return Reply(response.status_code, response.content, dict(response.headers))


def _count(
    h: Harness,
    api: Api,
    intent_id: str,
    amount: int,
    terminal_answers: list[tuple[int, str | None]],
    api_answers: list[Reply],
    figures: TerminalRaceFigures,
) -> None:
    statuses = Counter([status for status, _ in terminal_answers] + [reply.status for reply in api_answers])
    terminal_done = sum(1 for _, final in terminal_answers if final == "Captured")
    api_done = sum(1 for reply in api_answers if reply.status == 200)
    acknowledged_sum = amount * (terminal_done + api_done)
    listed: list[dict[str, Any]] = api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    listed_sum = sum(int(refund["amount"]) for refund in listed)
    intent = api.intent(intent_id)
    refunded = int(intent["refundedAmount"])
    figures.trials += 1
    figures.api_acknowledged += api_done
    figures.terminal_acknowledged += terminal_done
    figures.rejected_400 += statuses[400]
    figures.errors_5xx += sum(n for status, n in statuses.items() if status >= 500)
    figures.other_status += sum(
        n for status, n in statuses.items() if status not in (200, 400) and status < 500
    )
    figures.max_refunded = max(figures.max_refunded, refunded, acknowledged_sum, listed_sum)
    if max(acknowledged_sum, refunded, listed_sum) > CAPTURED:
        figures.over_refunded += 1
    if acknowledged_sum != refunded or listed_sum != refunded:
        figures.acknowledged_mismatch += 1
    if (intent["status"] == "Refunded") != (refunded == CAPTURED):
        figures.status_mismatch += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.terminal_refund_race", description=__doc__)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.naive:
        os.environ.setdefault(WINDOW_ENV, NAIVE_WINDOW_MS)
    figures = TerminalRaceFigures()
    prepared: list[Terminals] = []

    def trial(h: Harness) -> None:
        if not prepared:
            prepared.append(prepare(h))
        run_trial(h, prepared[0], figures)

    elapsed, problems = run_trials(args, trial)
    figures.log_problems = len(problems)
    variant = "naive" if args.naive else "payintents"
    header = (
        f"terminal_refund_race variant={variant} backend={args.backend} workers={args.workers} "
        f"concurrency={args.concurrency} captured={CAPTURED} "
        f"refund={math.ceil(2 * CAPTURED / args.concurrency)}"
    )
    caught = figures.over_refunded > 0
    return report(header, figures, elapsed, problems, naive=args.naive, caught=caught, what="over-refunds")


if __name__ == "__main__":
    sys.exit(main())
