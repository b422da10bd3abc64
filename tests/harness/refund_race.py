"""Race harness: concurrent partial refunds with distinct idempotency keys on one captured intent.

Each trial captures a fresh intent, then releases ``--concurrency`` refunds together (demand about
twice the captured amount) through a real server with several worker processes, and checks:

- over_refunded: trials where the 200-acknowledged refunds add up to more than was captured, or
  the stored ``refundedAmount`` or the refund list does (must be 0);
- acknowledged_mismatch: trials where the acknowledged sum differs from ``refundedAmount`` or from
  the list's sum, or an acknowledged refundId is missing from the list (must be 0);
- status_mismatch: ``status`` is not ``Refunded`` exactly when fully refunded (must be 0);
- errors_5xx, other_status (must be 0); rejected_400 and retried_503 are reported;
- all_in_flight: trials in which every request was sent before the first answer arrived, the
  evidence that the requests really overlapped.

    python -m tests.harness.refund_race --trials 100 --workers 2 --concurrency 8 \\
        [--backend sqlite|postgres] [--naive]

Exit status: for the real server, non-zero if any safety figure is non-zero; with ``--naive``
(the negative control), zero only if the harness caught at least one over-refund.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from collections import Counter
from dataclasses import dataclass

from tests.harness.race_common import (
    Harness,
    RaceFigures,
    add_common_arguments,
    all_in_flight_together,
    report,
    run_trials,
)

CAPTURED = 1000


@dataclass
class RefundRaceFigures(RaceFigures):
    acknowledged: int = 0
    retried_503: int = 0
    all_in_flight: int = 0


def run_trial(h: Harness, figures: RefundRaceFigures, captured: int = CAPTURED) -> None:
    amount = math.ceil(2 * captured / h.concurrency)
    intent_id = h.captured_intent(captured)
    token = secrets.token_hex(4)
    requests = [(amount, f"race-{token}-{i}") for i in range(h.concurrency)]
    replies = h.fire_refunds_together(intent_id, requests)

    statuses = Counter(reply.status for reply in replies)
    acknowledged = [reply.json()["refundId"] for reply in replies if reply.status == 200]
    acknowledged_sum = amount * len(acknowledged)
    listed = h.refunds_listed(intent_id)
    listed_sum = sum(int(refund["amount"]) for refund in listed)
    intent = h.intent(intent_id)
    refunded = int(intent["refundedAmount"])

    figures.trials += 1
    figures.all_in_flight += all_in_flight_together(replies)
    figures.acknowledged += statuses[200]
    figures.rejected_400 += statuses[400]
    figures.errors_5xx += sum(n for status, n in statuses.items() if status >= 500)
    figures.other_status += sum(
        n for status, n in statuses.items() if status not in (200, 400) and status < 500
    )
    figures.retried_503 += sum(reply.retried_503 for reply in replies)
    figures.max_refunded = max(figures.max_refunded, refunded, acknowledged_sum, listed_sum)
    if max(acknowledged_sum, refunded, listed_sum) > captured:
        figures.over_refunded += 1
    listed_ids = {refund["refundId"] for refund in listed}
    if acknowledged_sum != refunded or listed_sum != refunded or not set(acknowledged) <= listed_ids:
        figures.acknowledged_mismatch += 1
    if (intent["status"] == "Refunded") != (refunded == captured):
        figures.status_mismatch += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.refund_race", description=__doc__)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    figures = RefundRaceFigures()
    elapsed, problems = run_trials(args, lambda h: run_trial(h, figures))
    figures.log_problems = len(problems)
    variant = "naive" if args.naive else "payintents"
    header = (
        f"refund_race variant={variant} backend={args.backend} workers={args.workers} "
        f"concurrency={args.concurrency} captured={CAPTURED} "
        f"refund={math.ceil(2 * CAPTURED / args.concurrency)}"
    )
    return report(
        header,
        figures,
        elapsed,
        problems,
        naive=args.naive,
        caught=figures.over_refunded > 0,
        what="over-refunds",
    )


if __name__ == "__main__":
    sys.exit(main())
