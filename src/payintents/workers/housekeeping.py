"""The periodic housekeeping loop run by ``payintents serve`` (one pass: ``payintents expire``):
expiry, idempotency-key reaping and the sandbox request log's retention."""

from __future__ import annotations

import logging
import threading

from payintents.service.dependencies import Dependencies
from payintents.service.expiry import run_expiry_pass
from payintents.service.ports import StoreBusyError
from payintents.service.sandbox import reap_request_log

log = logging.getLogger("payintents.housekeeping")


def start_housekeeping(deps: Dependencies, interval_s: float) -> threading.Event:
    """Run expiry passes every ``interval_s`` in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                report = run_expiry_pass(deps)
                log_entries = reap_request_log(deps)
            except StoreBusyError:
                log.warning("housekeeping skipped a pass: the store was busy")
                continue
            except Exception:
                log.exception("housekeeping pass failed")
                continue
            if report.intents_expired or report.keys_reaped or log_entries:
                log.info(
                    "expired %d intents, reaped %d idempotency keys and %d request-log entries",
                    report.intents_expired,
                    report.keys_reaped,
                    log_entries,
                )

    threading.Thread(target=loop, name="payintents-housekeeping", daemon=True).start()
    return stop
