"""Developer views of the sandbox: the request log, webhook deliveries with a retry button, and the
account's clock and reset controls. Production sessions get 404 for all of them, like the API's
sandbox endpoints. Everything goes through the same service functions as the sandbox API.
"""

from __future__ import annotations

import re

from anyio import from_thread
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.intent import Environment
from payintents.service import dashboard, sandbox, webhooks
from payintents.service.ports import RequestQuery
from payintents.web.dashboard.pages import BASE, Visit, page, redirect
from payintents.web.http_input import whole_number

_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_-]{1,60}")
SANDBOX_ONLY = "The developer views are part of the sandbox: switch to sandbox to see them."
LOG_LIMIT = 50
MAX_FILTER = 200
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
MAX_STEPS = 100_000
RESET_CONFIRMATION = "delete everything"


def _refuse_production(visit: Visit) -> Response | None:
    if visit.session.environment is not Environment.SANDBOX:
        return visit.error(404, SANDBOX_ONLY)
    return None


def deliveries(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    retried = visit.request.query_params.get("retried", "")
    return visit.render(
        "webhooks.html",
        nav="webhooks",
        deliveries=dashboard.recent_deliveries(visit.deps, visit.scope),
        retried=retried if _EVENT_ID.fullmatch(retried) else None,
    )


def retry(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    event_id = visit.form.get("event_id", "")
    if not _EVENT_ID.fullmatch(event_id):
        return visit.error(404, "There is no delivery of that event in this account.")
    webhooks.retry_event(visit.deps, visit.scope, event_id)
    return redirect(f"{BASE}/developers/webhooks?retried={event_id}")


def requests(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    params = visit.request.query_params
    wanted = {name: params.get(name, "").strip()[:MAX_FILTER] for name in ("path", "status", "intent")}
    status = whole_number(wanted["status"], 100, 599) if wanted["status"] else None
    if wanted["status"] and status is None:
        return visit.render("requests.html", 400, nav="requests", wanted=wanted, entries=[], bad_status=True)
    query = RequestQuery(
        path_prefix=wanted["path"] or None,
        status=status,
        payment_intent_id=wanted["intent"] or None,
        limit=LOG_LIMIT,
    )
    entries = sandbox.list_requests(visit.deps, visit.scope, query)
    return visit.render("requests.html", nav="requests", wanted=wanted, entries=entries, bad_status=False)


def controls(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    report = {
        name: value
        for name in ("expired", "moved", "deleted")
        if (value := whole_number(visit.request.query_params.get(name, ""), 0, 10**9 - 1)) is not None
    }
    clock = sandbox.show_clock(visit.deps, visit.context, visit.scope)
    return visit.render(
        "sandbox.html",
        nav="sandbox",
        clock=clock,
        report=report,
        units=list(UNITS),
        confirmation=RESET_CONFIRMATION,
    )


def advance(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    steps = whole_number(visit.form.get("amount", "").strip(), 1, MAX_STEPS)
    unit = visit.form.get("unit", "")
    if steps is None or unit not in UNITS:
        return visit.error(400, "Move the clock by a whole number of minutes, hours or days.")
    # On the app's event loop, where its use cases run (this handler runs on a thread).
    report = from_thread.run(sandbox.advance_clock, visit.deps, visit.scope, steps * UNITS[unit], None)
    moved = f"expired={report.intents_expired}&moved={report.webhook_retries_moved}"
    return redirect(f"{BASE}/developers/sandbox?{moved}")


def reset(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    if visit.form.get("confirmation", "").strip().lower() != RESET_CONFIRMATION:
        return visit.error(400, f"Nothing was deleted: type “{RESET_CONFIRMATION}” to reset the sandbox.")
    deleted = sandbox.reset(visit.deps, visit.scope)
    return redirect(f"{BASE}/developers/sandbox?deleted={deleted}")


ROUTES = [
    Route("/developers/requests", page(requests), methods=["GET"]),
    Route("/developers/webhooks", page(deliveries), methods=["GET"]),
    Route("/developers/webhooks/retry", page(retry), methods=["POST"]),
    Route("/developers/sandbox", page(controls), methods=["GET"]),
    Route("/developers/sandbox/advance", page(advance), methods=["POST"]),
    Route("/developers/sandbox/reset", page(reset), methods=["POST"]),
]
