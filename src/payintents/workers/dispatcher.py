"""The webhook dispatcher loop: inside ``payintents serve`` by default, or ``payintents dispatch``.

Each loop claims a batch of due deliveries and sends them on a small thread pool, so one slow
receiver does not hold back the others. Several dispatchers (threads or processes, on one or many
hosts) can run against one database: the lease in the store keeps them off each other's work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from payintents.service.dependencies import Dependencies
from payintents.service.dispatch import claim, deliver, lease_for
from payintents.service.ports import DeliveryJob, StoreBusyError, WebhookSender

log = logging.getLogger("payintents.dispatcher")
BATCH = 32
PARALLEL_SENDS = 8


def dispatcher_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_dispatcher(
    deps: Dependencies, sender: WebhookSender, stop: threading.Event, idle_s: float = 0.5
) -> None:
    """Deliver until ``stop`` is set; sleep ``idle_s`` whenever nothing is due."""
    owner = dispatcher_name()
    # The pool sends a batch in ceil(BATCH / PARALLEL_SENDS) rounds; the lease must outlast them all.
    lease = lease_for(deps.webhook_timeout_s, -(-BATCH // PARALLEL_SENDS))
    with ThreadPoolExecutor(PARALLEL_SENDS, thread_name_prefix="payintents-send") as pool:
        while not stop.is_set():
            try:
                jobs = claim(deps, owner, BATCH, lease)
            except StoreBusyError:
                stop.wait(idle_s)
                continue
            except Exception:
                log.exception("claiming deliveries failed")
                stop.wait(idle_s)
                continue
            if not jobs:
                stop.wait(idle_s)
                continue
            for outcome in pool.map(lambda job: _deliver_safely(deps, sender, owner, job), jobs):
                log.debug("delivery %s", outcome)


def _deliver_safely(deps: Dependencies, sender: WebhookSender, owner: str, job: DeliveryJob) -> str:
    try:
        return deliver(deps, sender, owner, job)
    except Exception:
        # The lease expires and another pass retries: a failure here never loses the event.
        log.exception("delivering a webhook failed")
        return "error"


def start_dispatcher(deps: Dependencies, sender: WebhookSender) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_dispatcher, args=(deps, sender, stop), name="payintents-dispatcher", daemon=True
    )
    thread.start()
    return stop
