"""Developer views of the sandbox: webhook deliveries with their status, and a retry button.

The sandbox's request log, clock and reset controls belong to the sandbox issue and are not
shown here until that work provides them.
"""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.intent import Environment
from payintents.service import dashboard, webhooks
from payintents.web.dashboard.pages import BASE, Visit, page, redirect

_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_-]{1,60}")
SANDBOX_ONLY = "The developer views are part of the sandbox: switch to sandbox to see them."


def deliveries(visit: Visit) -> Response:
    if visit.session.environment is not Environment.SANDBOX:
        return visit.error(404, SANDBOX_ONLY)
    retried = visit.request.query_params.get("retried", "")
    return visit.render(
        "webhooks.html",
        nav="webhooks",
        deliveries=dashboard.recent_deliveries(visit.deps, visit.scope),
        retried=retried if _EVENT_ID.fullmatch(retried) else None,
    )


def retry(visit: Visit) -> Response:
    if visit.session.environment is not Environment.SANDBOX:
        return visit.error(404, SANDBOX_ONLY)
    event_id = visit.form.get("event_id", "")
    if not _EVENT_ID.fullmatch(event_id):
        return visit.error(404, "There is no delivery of that event in this account.")
    webhooks.retry_event(visit.deps, visit.scope, event_id)
    return redirect(f"{BASE}/developers/webhooks?retried={event_id}")


ROUTES = [
    Route("/developers/webhooks", page(deliveries), methods=["GET"]),
    Route("/developers/webhooks/retry", page(retry), methods=["POST"]),
]
