"""Signing in (an API key, or a dashboard user's name and password), signing out, and switching
a user's session between production and sandbox.

The sign-in form has no session yet, so its CSRF token is a double-submit one: a random value in
a short-lived HttpOnly cookie that the form must echo. A successful sign-in always starts a new
session (no fixation) and clears that cookie.

Failed sign-ins are throttled per user name and per client address, and password checks wait for
one of a few slots on the event loop, holding no thread (``sign_in_guard``, ADR 0023): past a limit
the form comes back with 429 and ``Retry-After``, and with 503 when no check could start in time.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.intent import Environment
from payintents.service import dashboard, users
from payintents.service.dashboard import SignedIn
from payintents.service.dependencies import Dependencies
from payintents.web.dashboard.pages import (
    BASE,
    FORM_EXPIRED,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    FormRefusedError,
    Visit,
    error_page,
    exception_page,
    page,
    read_form,
    redirect,
    render,
    safe_next,
    same_token,
    set_cookie,
)
from payintents.web.dashboard.sign_in_guard import (
    Attempt,
    SignInBusyError,
    SignInGuard,
    SignInThrottledError,
)

SIGN_IN_COOKIE_AGE_S = 3600
KEY_REFUSED = "That API key does not open any account. Check it and try again."
PASSWORD_REFUSED = "The username or password is not correct."  # noqa: S105 (a message)
THROTTLED = "Too many failed sign-ins. Wait {} seconds, then try again."
BUSY = "Signing in is busy right now. Wait a moment, then try again."
MAX_FIELD = 1024


async def sign_in_page(request: Request) -> Response:
    deps: Dependencies = request.app.state.deps
    try:
        session = await run_in_threadpool(dashboard.find_session, deps, request.cookies.get(SESSION_COOKIE))
    except Exception as exc:
        return exception_page(request, exc, None)
    if session is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return _sign_in_form(request, 200)


def _sign_in_form(
    request: Request,
    status: int,
    error: str | None = None,
    *,
    username: str = "",
    retry_after_s: int | None = None,
) -> Response:
    """The sign-in form with a fresh double-submit token; ``username`` refills its field."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        status,
        None,
        sign_in_token=token,
        next=safe_next(request.query_params.get("next")),
        error=error,
        username=username[:64],
    )
    set_cookie(response, request, SIGN_IN_COOKIE, token, SIGN_IN_COOKIE_AGE_S)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


async def sign_in(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormRefusedError as refused:
        return error_page(request, refused.status, refused.message, None)
    if not same_token(form.get("csrf_token"), request.cookies.get(SIGN_IN_COOKIE) or ""):
        return _sign_in_form(request, 403, FORM_EXPIRED)
    method = form.get("method")
    if method not in ("key", "password"):
        return _sign_in_form(request, 400, "Choose how to sign in.")
    guard: SignInGuard = request.app.state.sign_in_guard
    username = form.get("username", "")[:MAX_FIELD] if method == "password" else None
    typed = form.get("username", "")
    try:
        attempt = guard.admit(request.client.host if request.client else None, username)
    except SignInThrottledError as throttled:
        wait_s = throttled.retry_after_s
        return _sign_in_form(request, 429, THROTTLED.format(wait_s), username=typed, retry_after_s=wait_s)
    except SignInBusyError:
        return _sign_in_form(request, 503, BUSY, username=typed, retry_after_s=1)
    return await _checked(request, form, guard, attempt)


async def _checked(request: Request, form: dict[str, str], guard: SignInGuard, attempt: Attempt) -> Response:
    """Check the key or password of an admitted attempt, and answer."""
    deps: Dependencies = request.app.state.deps
    typed = form.get("username", "")
    try:
        if attempt.username is None:
            signed_in = await run_in_threadpool(
                dashboard.sign_in_with_key, deps, form.get("api_key", "")[:MAX_FIELD]
            )
        else:
            signed_in = await _password_sign_in(deps, guard, form)
    except SignInBusyError:
        attempt.withdrawn()
        return _sign_in_form(request, 503, BUSY, username=typed, retry_after_s=1)
    except Exception as exc:
        attempt.withdrawn()  # the store failed: nothing was checked
        return exception_page(request, exc, None)
    if signed_in is None:
        refused = KEY_REFUSED if attempt.username is None else PASSWORD_REFUSED
        return _sign_in_form(request, 401, refused, username=typed)
    attempt.succeeded()
    response = redirect(safe_next(form.get("next")))
    lifetime = int(dashboard.SESSION_LIFETIME.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, signed_in.token, lifetime)
    response.delete_cookie(SIGN_IN_COOKIE, path=BASE)
    return response


async def _password_sign_in(deps: Dependencies, guard: SignInGuard, form: dict[str, str]) -> SignedIn | None:
    """The Argon2id check runs in a hash slot; the session is written after the slot is free."""
    username = form.get("username", "")[:MAX_FIELD].strip()
    async with guard.slots.held():
        user = await run_in_threadpool(users.verify_user, deps, username, form.get("password", ""))
    return None if user is None else await run_in_threadpool(dashboard.sign_in_as, deps, user)


def sign_out(visit: Visit) -> Response:
    dashboard.sign_out(visit.deps, visit.session)
    response = redirect(f"{BASE}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=BASE)
    return response


def switch_environment(visit: Visit) -> Response:
    wanted = visit.form.get("environment", "")
    if wanted not in (Environment.SANDBOX.value, Environment.PRODUCTION.value):
        return visit.error(400, "Choose sandbox or production.")
    dashboard.switch_environment(visit.deps, visit.session, Environment(wanted))
    return redirect(f"{BASE}/payments")


async def home(request: Request) -> Response:
    return redirect(f"{BASE}/payments")


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", page(sign_out), methods=["POST"]),
    Route("/environment", page(switch_environment), methods=["POST"]),
]
