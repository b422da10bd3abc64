"""The webhook dispatcher loop: inside ``payintents serve`` by default, or ``payintents dispatch``.

A dispatcher has ``SLOTS`` independent sending slots (threads). Its loop claims due deliveries
whenever a slot is free, one for each free slot, and hands each to a slot at once: a slow send
holds only its own slot, never a batch. One subscription may hold at most ``PER_SUBSCRIPTION``
slots, and only ``PER_FAILING_SUBSCRIPTION`` while its receiver's last answer was a failure (a
timeout, a refused connection, a 5xx), so one slow or failing receiver slows only its own
deliveries; its retries come on its own schedule. Several dispatchers (threads or processes, on one
or many hosts) can run against one database: the lease in the store keeps them off each other's
work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from payintents.service.dependencies import Dependencies
from payintents.service.dispatch import claim, deliver, lease_for
from payintents.service.ports import DeliveryJob, StoreBusyError, SubscriptionRoom, WebhookSender

log = logging.getLogger("payintents.dispatcher")
SLOTS = 32
PER_SUBSCRIPTION = 8
PER_FAILING_SUBSCRIPTION = 1
# Subscriptions remembered as failing, at most (the oldest marks are forgotten first).
FAILING_REMEMBERED = 1_000


class SendSlots:
    """One dispatcher's sends in flight, by subscription, and which receivers lately failed."""

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self._in_flight: Counter[str] = Counter()
        self._failing: dict[str, None] = {}  # insertion-ordered, so the oldest marks go first
        self._changed = threading.Condition()

    def room(self) -> tuple[int, SubscriptionRoom]:
        """Free slots, and how many more sends each subscription may start."""
        with self._changed:
            free = self.slots - self._in_flight.total()
            differing = set(self._in_flight) | set(self._failing)
            left = {s: self._cap(s) - self._in_flight[s] for s in differing}
        return free, SubscriptionRoom(PER_SUBSCRIPTION, left)

    def started(self, job: DeliveryJob) -> None:
        with self._changed:
            self._in_flight[job.subscription_id] += 1

    def finished(self, job: DeliveryJob, outcome: str) -> None:
        subscription_id = job.subscription_id
        with self._changed:
            self._in_flight[subscription_id] -= 1
            if self._in_flight[subscription_id] <= 0:
                del self._in_flight[subscription_id]
            if outcome in ("retry", "failed", "error"):
                self._failing.pop(subscription_id, None)
                self._failing[subscription_id] = None
                if len(self._failing) > FAILING_REMEMBERED:
                    del self._failing[next(iter(self._failing))]
            elif outcome in ("delivered", "disabled"):
                self._failing.pop(subscription_id, None)
            self._changed.notify_all()

    def wait(self, timeout_s: float) -> None:
        """Until a send finishes, or ``timeout_s`` passes."""
        with self._changed:
            self._changed.wait(timeout_s)

    def _cap(self, subscription_id: str) -> int:
        return PER_FAILING_SUBSCRIPTION if subscription_id in self._failing else PER_SUBSCRIPTION


def dispatcher_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_dispatcher(
    deps: Dependencies, sender: WebhookSender, stop: threading.Event, idle_s: float = 0.5
) -> None:
    """Deliver until ``stop`` is set; sleep ``idle_s`` whenever nothing is due."""
    owner = dispatcher_name()
    # Each claimed delivery goes to a free slot at once, so a lease covers one send.
    lease = lease_for(deps.webhook_timeout_s)
    slots = SendSlots()
    with ThreadPoolExecutor(slots.slots, thread_name_prefix="payintents-send") as pool:
        while not stop.is_set():
            free, room = slots.room()
            jobs = _claim_safely(deps, owner, free, lease, room) if free > 0 else []
            if not jobs:
                # Woken early when a send ends: its subscription may have more due.
                slots.wait(idle_s)
                continue
            for job in jobs:
                slots.started(job)
                pool.submit(_send_in_slot, deps, sender, owner, job, slots)


def _claim_safely(
    deps: Dependencies, owner: str, limit: int, lease: timedelta, room: SubscriptionRoom
) -> list[DeliveryJob]:
    try:
        return claim(deps, owner, limit, lease, room)
    except StoreBusyError:
        return []
    except Exception:
        log.exception("claiming deliveries failed")
        return []


def _send_in_slot(
    deps: Dependencies, sender: WebhookSender, owner: str, job: DeliveryJob, slots: SendSlots
) -> None:
    outcome = "error"
    try:
        outcome = deliver(deps, sender, owner, job)
        log.debug("delivery %s", outcome)
    except Exception:
        # The lease expires and another pass retries: a failure here never loses the event.
        log.exception("delivering a webhook failed")
    finally:
        slots.finished(job, outcome)


def start_dispatcher(deps: Dependencies, sender: WebhookSender) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_dispatcher, args=(deps, sender, stop), name="payintents-dispatcher", daemon=True
    )
    thread.start()
    return stop
