"""What every dashboard page shares: templates, the session cookie, CSRF checks, form reading,
security headers and the HTML error pages.

A handler receives a ``Visit`` only once the session cookie names a live session and, for a POST,
the form's ``csrf_token`` equals the session's. Handlers run in a worker thread (the store is
synchronous); any failure becomes an HTML page with the right status, never a stack trace.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payintents.domain import lifecycle
from payintents.domain.errors import DomainError, NotAllowedError, NotFoundError
from payintents.domain.intent import Environment as PayEnvironment
from payintents.domain.intent import Scope
from payintents.service import dashboard
from payintents.service.dashboard_ports import DashboardSession
from payintents.service.dependencies import Dependencies
from payintents.service.ports import RequestContext, StoreBusyError
from payintents.service.sandbox import load_clock_offset
from payintents.web.http_input import is_plausible_id, parse_form, read_body
from payintents.web.problems import RequestRefusedError, client_closed_response
from payintents.web.public_url import served_over_https
from payintents.web.templating import environment, security_headers

log = logging.getLogger("payintents.dashboard")

BASE = "/dashboard"
SESSION_COOKIE = "payintents_session"
SIGN_IN_COOKIE = "payintents_sign_in"
SECURITY_HEADERS = security_headers()
FORM_EXPIRED = "This form has expired or did not come from this dashboard. Reload the page and try again."


def _when(moment: datetime | None) -> Markup:
    if moment is None:
        return Markup("—")
    moment = moment.astimezone(UTC)
    text = moment.strftime("%d %b %Y, %H:%M:%S UTC")
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), text)


templates = environment("dashboard")
templates.filters["when"] = _when


class FormRefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def render(
    request: Request,
    template: str,
    status: int = 200,
    session: DashboardSession | None = None,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(template).render(
        session=session,
        csrf_token=session.csrf_token if session else "",
        sandbox=session is not None and session.environment is PayEnvironment.SANDBOX,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def redirect(location: str) -> Response:
    return RedirectResponse(location, 303, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, message: str, session: DashboardSession | None) -> Response:
    titles = {400: "Not possible", 403: "Form expired", 404: "Not found", 503: "Busy"}
    headers = {"Retry-After": "1"} if status == 503 else {}
    response = render(
        request,
        "error.html",
        status,
        session,
        title=titles.get(status, "Something went wrong"),
        message=message,
    )
    response.headers.update(headers)
    return response


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=BASE,
        httponly=True,
        samesite="lax",
        secure=served_over_https(request),
    )


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest((sent or "").encode(), expected.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form (at most 64 KiB, 30 fields); NUL characters are refused."""
    try:
        return parse_form(request, await read_body(request))
    except RequestRefusedError as refused:
        raise FormRefusedError(refused.status, refused.detail or "The form could not be read.") from None


@dataclass(frozen=True, slots=True)
class Visit:
    """One request of a signed-in browser (and, for a POST, a form with the right CSRF token)."""

    request: Request
    deps: Dependencies
    session: DashboardSession
    form: Mapping[str, str]
    # The account's clock: a sandbox account may have moved it, and the dashboard sees the time
    # its API sees.
    context: RequestContext

    @property
    def scope(self) -> Scope:
        return dashboard.scope_of(self.session)

    @property
    def intent_id(self) -> str:
        """The payment intent in the path; text no id could be is simply not found."""
        intent_id = str(self.request.path_params["paymentIntentId"])
        # The API's own rule for ids that cannot exist (a NUL would not even reach PostgreSQL).
        if not is_plausible_id(intent_id):
            raise NotFoundError(lifecycle.NOT_FOUND_DETAIL)
        return intent_id

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, template, status, self.session, **context)

    def error(self, status: int, message: str) -> Response:
        return error_page(self.request, status, message, self.session)


Handler = Callable[[Visit], Response]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: session, CSRF and errors taken care of."""

    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
            # No filter or id can hold NUL (PostgreSQL cannot even compare such text).
            return error_page(request, 400, "The address contains characters no search can hold.", None)
        if request.method == "POST":
            try:
                form = await read_form(request)
            except FormRefusedError as refused:
                return error_page(request, refused.status, refused.message, None)
        return await run_in_threadpool(_visit, request, form, handler)

    return endpoint


def _visit(request: Request, form: dict[str, str], handler: Handler) -> Response:
    deps: Dependencies = request.app.state.deps
    session = None
    try:
        session = dashboard.find_session(deps, request.cookies.get(SESSION_COOKIE))
        if session is None:
            return _to_sign_in(request)
        if request.method == "POST" and not same_token(form.get("csrf_token"), session.csrf_token):
            return error_page(request, 403, FORM_EXPIRED, session)
        context = RequestContext(load_clock_offset(deps, dashboard.scope_of(session)))
        return handler(Visit(request, deps, session, form, context))
    except Exception as exc:
        return exception_page(request, exc, session)


def exception_page(request: Request, exc: Exception, session: DashboardSession | None) -> Response:
    if isinstance(exc, ClientDisconnect):
        return client_closed_response()
    if isinstance(exc, NotFoundError):
        return error_page(request, 404, "There is no such page or payment in this account.", session)
    if isinstance(exc, StoreBusyError):
        return error_page(request, 503, "The database is busy. Try again in a moment.", session)
    if isinstance(exc, NotAllowedError):
        return error_page(request, 403, exc.detail, session)
    if isinstance(exc, DomainError):
        return error_page(request, 400, exc.detail, session)
    log.exception("dashboard page failed", exc_info=exc)
    return error_page(request, 500, "Something went wrong on our side; nothing was changed.", session)


def _to_sign_in(request: Request) -> Response:
    if request.method != "GET":
        return redirect(f"{BASE}/sign-in")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{BASE}/sign-in?next={quote(target, safe='')}")


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard, so sign-in never redirects to another site."""
    if target and target.startswith(f"{BASE}/") and "\\" not in target and "//" not in target:
        return target
    return f"{BASE}/payments"
