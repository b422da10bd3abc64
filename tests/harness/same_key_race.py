"""Race harness: identical refund requests with the SAME idempotency key, released together.

Each trial captures a fresh intent (1000) and fires ``--concurrency`` copies of one refund (100,
so the cap never decides anything) with one key through a real server with several worker
processes. docs/api.md ("Idempotency") promises exactly one refund and the same answer for every caller:

- duplicate_refunds: trials with more than one refund row for the key, read back through
  ``GET /payment-intents/{id}/refunds`` (must be 0); extra_refund_rows counts the surplus rows;
- divergent_answers: trials whose 200 bodies are not byte-identical (must be 0);
- acknowledged_mismatch: trials where the acknowledged refundId is not the one listed, or
  ``refundedAmount`` is not one refund's amount (must be 0);
- replay_header_mismatch: trials where not exactly one 200 lacks ``Idempotent-Replayed: true``
  (must be 0); errors_5xx and other_status (any answer but 200, must be 0); retried_503 reported.

    python -m tests.harness.same_key_race --trials 100 --workers 2 --concurrency 8 \\
        [--backend sqlite|postgres] [--naive]

Exit status: for the real server, non-zero if any safety figure is non-zero; with ``--naive``
(key checked in one transaction, refund written in another), zero only if duplicates were caught.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections import Counter
from dataclasses import dataclass

from tests.harness.race_common import (
    Harness,
    add_common_arguments,
    all_in_flight_together,
    report,
    run_trials,
)

CAPTURED = 1000
AMOUNT = 100


@dataclass
class SameKeyFigures:
    trials: int = 0
    duplicate_refunds: int = 0
    extra_refund_rows: int = 0
    divergent_answers: int = 0
    acknowledged_mismatch: int = 0
    replay_header_mismatch: int = 0
    errors_5xx: int = 0
    other_status: int = 0
    replayed: int = 0
    retried_503: int = 0
    all_in_flight: int = 0
    log_problems: int = 0

    @property
    def safe(self) -> bool:
        return not any(
            (
                self.duplicate_refunds,
                self.divergent_answers,
                self.acknowledged_mismatch,
                self.replay_header_mismatch,
                self.errors_5xx,
                self.other_status,
                self.log_problems,
            )
        )


def run_trial(h: Harness, figures: SameKeyFigures) -> None:
    intent_id = h.captured_intent(CAPTURED)
    key = f"same-{secrets.token_hex(6)}"
    replies = h.fire_refunds_together(intent_id, [(AMOUNT, key)] * h.concurrency)

    statuses = Counter(reply.status for reply in replies)
    ok = [reply for reply in replies if reply.status == 200]
    replayed = [reply for reply in ok if reply.headers.get("idempotent-replayed") == "true"]
    listed = h.refunds_listed(intent_id)
    refunded = int(h.intent(intent_id)["refundedAmount"])

    figures.trials += 1
    figures.all_in_flight += all_in_flight_together(replies)
    figures.replayed += len(replayed)
    figures.retried_503 += sum(reply.retried_503 for reply in replies)
    figures.errors_5xx += sum(n for status, n in statuses.items() if status >= 500)
    figures.other_status += sum(n for status, n in statuses.items() if status != 200 and status < 500)
    if len(listed) > 1:
        figures.duplicate_refunds += 1
        figures.extra_refund_rows += len(listed) - 1
    if len({reply.body for reply in ok}) > 1:
        figures.divergent_answers += 1
    acknowledged_ids = {reply.json()["refundId"] for reply in ok}
    listed_ids = {refund["refundId"] for refund in listed}
    if not acknowledged_ids <= listed_ids or refunded != AMOUNT * len(listed) or (ok and refunded != AMOUNT):
        figures.acknowledged_mismatch += 1
    if len(ok) - len(replayed) != 1:
        figures.replay_header_mismatch += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.same_key_race", description=__doc__)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    figures = SameKeyFigures()
    elapsed, problems = run_trials(args, lambda h: run_trial(h, figures))
    figures.log_problems = len(problems)
    variant = "naive" if args.naive else "payintents"
    header = (
        f"same_key_race variant={variant} backend={args.backend} workers={args.workers} "
        f"concurrency={args.concurrency} captured={CAPTURED} refund={AMOUNT}"
    )
    return report(
        header,
        figures,
        elapsed,
        problems,
        naive=args.naive,
        caught=figures.duplicate_refunds > 0,
        what="duplicate refunds",
    )


if __name__ == "__main__":
    sys.exit(main())
