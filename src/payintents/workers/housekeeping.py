"""The periodic housekeeping loop run by ``payintents serve`` (one pass: ``payintents expire``):
expiry, idempotency-key reaping, the sandbox request log's retention and unrenewed webhook
listeners; money operations left pending past their deadline (``payintents reconcile``);
terminal sessions whose expiry, signature timeout or auto-pilot card became due; and gateway
mirrors still open, polled at Dojo in case a webhook was lost (service/mirror_refresh.py)."""

from __future__ import annotations

import asyncio
import logging
import threading

from payintents.service.dependencies import Dependencies
from payintents.service.expiry import ExpiryReport, run_expiry_pass
from payintents.service.mirror_refresh import PollReport, poll_open_mirrors
from payintents.service.ports import StoreBusyError
from payintents.service.reconciler import ReconcileReport, reconcile_overdue
from payintents.service.sandbox import reap_request_log
from payintents.service.terminal_sessions import advance_open_sessions
from payintents.service.webhooks import remove_expired_listeners

log = logging.getLogger("payintents.housekeeping")


def start_housekeeping(deps: Dependencies, interval_s: float) -> threading.Event:
    """Run expiry passes every ``interval_s`` in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        # One event loop for the thread's life: the async work of every pass shares it, and so do
        # the connections its clients keep open (a gateway's to Dojo).
        with asyncio.Runner() as runner:
            while not stop.wait(interval_s):
                _run_pass(deps, runner)

    threading.Thread(target=loop, name="payintents-housekeeping", daemon=True).start()
    return stop


def _run_pass(deps: Dependencies, runner: asyncio.Runner) -> None:
    try:
        report, settled, polled = runner.run(_due_work(deps))
        log_entries = reap_request_log(deps)
        listeners = remove_expired_listeners(deps)
    except StoreBusyError:
        log.warning("housekeeping skipped a pass: the store was busy")
        return
    except Exception:
        log.exception("housekeeping pass failed")
        return
    _log_pass(report, settled, log_entries, listeners)
    _log_poll(polled)


async def _due_work(deps: Dependencies) -> tuple[ExpiryReport, ReconcileReport, PollReport]:
    """Expiry, money operations past their deadline, terminal sessions whose time came, and
    open gateway mirrors due for a look at Dojo."""
    report = await run_expiry_pass(deps)
    settled = await reconcile_overdue(deps)
    await advance_open_sessions(deps)
    polled = await poll_open_mirrors(deps)
    return report, settled, polled


def _log_pass(report: ExpiryReport, settled: ReconcileReport, log_entries: int, listeners: int) -> None:
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


def _log_poll(polled: PollReport) -> None:
    if polled.changed or polled.failed or polled.left:
        log.info(
            "gateway mirrors polled at Dojo: %d read (%d moved on), %d failed, %d left for the next pass",
            polled.checked,
            len(polled.changed),
            polled.failed,
            polled.left,
        )
