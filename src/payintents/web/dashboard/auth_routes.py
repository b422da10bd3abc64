"""Signing in (an API key, or a dashboard user's name and password), signing out, and switching
a user's session between production and sandbox.

The sign-in form has no session yet, so its CSRF token is a double-submit one: a random value in
a short-lived HttpOnly cookie that the form must echo. A successful sign-in always starts a new
session (no fixation) and clears that cookie.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.intent import Environment
from payintents.service import dashboard
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

SIGN_IN_COOKIE_AGE_S = 3600
KEY_REFUSED = "That API key does not open any account. Check it and try again."
PASSWORD_REFUSED = "The username or password is not correct."  # noqa: S105 (a message)
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


def _sign_in_form(request: Request, status: int, **context: str) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        status,
        None,
        sign_in_token=token,
        next=safe_next(request.query_params.get("next")),
        **context,
    )
    set_cookie(response, request, SIGN_IN_COOKIE, token, SIGN_IN_COOKIE_AGE_S)
    return response


async def sign_in(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormRefusedError as refused:
        return error_page(request, refused.status, refused.message, None)
    if not same_token(form.get("csrf_token"), request.cookies.get(SIGN_IN_COOKIE) or ""):
        return _sign_in_form(request, 403, error=FORM_EXPIRED)
    try:
        return await run_in_threadpool(_sign_in, request, form)
    except Exception as exc:
        return exception_page(request, exc, None)


def _sign_in(request: Request, form: dict[str, str]) -> Response:
    deps: Dependencies = request.app.state.deps
    method = form.get("method")
    if method == "key":
        signed_in = dashboard.sign_in_with_key(deps, form.get("api_key", "")[:MAX_FIELD])
        refused = KEY_REFUSED
    elif method == "password":
        username = form.get("username", "")[:MAX_FIELD]
        signed_in = dashboard.sign_in_with_password(deps, username, form.get("password", ""))
        refused = PASSWORD_REFUSED
    else:
        return _sign_in_form(request, 400, error="Choose how to sign in.")
    if signed_in is None:
        context = {"error": refused, "method": method, "username": form.get("username", "")[:64]}
        return _sign_in_form(request, 401, **context)
    response = redirect(safe_next(form.get("next")))
    lifetime = int(dashboard.SESSION_LIFETIME.total_seconds())
    set_cookie(response, request, SESSION_COOKIE, signed_in.token, lifetime)
    response.delete_cookie(SIGN_IN_COOKIE, path=BASE)
    return response


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
