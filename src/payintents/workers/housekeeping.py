"""The periodic housekeeping loop run by ``payintents serve`` (one pass: ``payintents expire``):
expiry, idempotency-key reaping, the sandbox request log's retention and unrenewed webhook
listeners; money operations left pending past their deadline (``payintents reconcile``); and
terminal sessions whose expiry, signature timeout or auto-pilot card became due."""

from __future__ import annotations

import asyncio
import logging
import threading

from payintents.service.dependencies import Dependencies
from payintents.service.expiry import run_expiry_pass
from payintents.service.ports import StoreBusyError
from payintents.service.reconciler import reconcile_overdue
from payintents.service.sandbox import reap_request_log
from payintents.service.terminal_sessions import advance_open_sessions
from payintents.service.webhooks import remove_expired_listeners

log = logging.getLogger("payintents.housekeeping")


def start_housekeeping(deps: Dependencies, interval_s: float) -> threading.Event:
    """Run expiry passes every ``interval_s`` in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                report = asyncio.run(run_expiry_pass(deps))
                log_entries = reap_request_log(deps)
                listeners = remove_expired_listeners(deps)
                settled = asyncio.run(reconcile_overdue(deps))
                asyncio.run(advance_open_sessions(deps))
            except StoreBusyError:
                log.warning("housekeeping skipped a pass: the store was busy")
                continue
            except Exception:
                log.exception("housekeeping pass failed")
                continue
            if report.intents_expired or report.keys_reaped or log_entries or listeners:
                log.info(
                    "expired %d intents, reaped %d idempotency keys, %d request-log entries"
                    " and %d unrenewed webhook listeners",
                    report.intents_expired,
                    report.keys_reaped,
                    log_entries,
                    listeners,
                )
            if settled.succeeded or settled.released or settled.unsettled:
                log.info(
                    "money operations past their deadline: %d recorded, %d released, %d unsettled",
                    settled.succeeded,
                    settled.released,
                    settled.unsettled,
                )

    threading.Thread(target=loop, name="payintents-housekeeping", daemon=True).start()
    return stop
