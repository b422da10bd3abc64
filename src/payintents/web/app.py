"""The ASGI application: every route, and Dojo's error body for unknown paths and wrong methods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from payintents.service.dependencies import Dependencies
from payintents.service.ports import StoreBusyError
from payintents.service.reporting import check_ready
from payintents.web import (
    checkout_routes,
    customer_routes,
    epos_routes,
    intent_routes,
    receipt_routes,
    refund_routes,
    sandbox_routes,
    setup_intent_routes,
    terminal_routes,
    upstream_webhook_routes,
    webhook_routes,
)
from payintents.web.dashboard import routes as dashboard_routes
from payintents.web.dashboard.sign_in_guard import SignInGuard, SignInLimits
from payintents.web.endpoint import json_response
from payintents.web.metrics import sample_pool_use
from payintents.web.observability import RequestObserver
from payintents.web.openapi import build_document
from payintents.web.problems import problem_response, trace_id_of
from payintents.web.rate_limit import RateLimiter


async def live(_request: Request) -> Response:
    """The process is up and serving; says nothing about the database."""
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready to take traffic: the database answers a query."""
    deps: Dependencies = request.app.state.deps
    try:
        await run_in_threadpool(check_ready, deps)
    except StoreBusyError:
        return problem_response(
            503, trace_id_of(request), detail="The database is not answering.", headers={"Retry-After": "1"}
        )
    return json_response({"status": "ready"})


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method, with Allow) in Dojo's shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    detail = {
        404: f"No resource at {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(status)
    return problem_response(status, trace_id_of(request), detail=detail, headers=headers)


async def to_dashboard(_request: Request) -> Response:
    return RedirectResponse("/dashboard/", status_code=307)


async def openapi(request: Request) -> Response:
    """Extension: the OpenAPI document of exactly what this server serves."""
    return json_response(build_document(request.app.routes))


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    sampler = asyncio.create_task(sample_pool_use(app.state.pool_in_use))
    yield
    sampler.cancel()
    # Shutting down: the sandbox request log's last entries are written before the process ends.
    deps: Dependencies = app.state.deps
    try:
        if deps.request_log is not None:
            await run_in_threadpool(deps.request_log.close)
        if deps.key_usage is not None:
            await run_in_threadpool(deps.key_usage.close)
    finally:
        # Writes already queued are committed (and answered) before the runner stops.
        await run_in_threadpool(deps.runner().close)


def build_app(
    deps: Dependencies,
    pool_in_use: Callable[[], int] = lambda: 0,
    rate_limiter: RateLimiter | None = None,
    sign_in_guard: SignInGuard | None = None,
    public_url: str | None = None,
) -> Starlette:
    """The API; ``pool_in_use`` reports the store's checked-out connections for the metrics,
    ``rate_limiter`` holds this process's per-key limits (none when not given), ``sign_in_guard``
    its dashboard sign-in throttle (the default limits when not given), and ``public_url`` is
    where clients reach the server (public_url.py)."""
    routes: list[BaseRoute] = [
        Route("/health", live, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *refund_routes.ROUTES,
        *intent_routes.ROUTES,
        *receipt_routes.ROUTES,
        *epos_routes.ROUTES,
        *setup_intent_routes.ROUTES,
        *customer_routes.ROUTES,
        *checkout_routes.ROUTES,
        *webhook_routes.ROUTES,
        *sandbox_routes.ROUTES,
        *terminal_routes.ROUTES,
        *upstream_webhook_routes.ROUTES,
        Route("/dashboard", to_dashboard, methods=["GET"]),
    ]
    app = Starlette(
        # The merchant dashboard (HTML) under /dashboard, after every API route.
        routes=[*routes, *dashboard_routes()],
        exception_handlers={HTTPException: http_exception},
        middleware=[Middleware(RequestObserver)],
        lifespan=_lifespan,
    )
    # A trailing slash names no resource of the API: 404 in Dojo's shape, not a redirect built
    # from the caller's Host header. The dashboard's entry is the one path that redirects.
    app.router.redirect_slashes = False
    app.state.deps = deps
    app.state.pool_in_use = pool_in_use
    app.state.public_url = public_url
    app.state.rate_limiter = rate_limiter or RateLimiter()
    app.state.sign_in_guard = sign_in_guard or SignInGuard(SignInLimits())
    return app
