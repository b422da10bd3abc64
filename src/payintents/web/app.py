"""The ASGI application: every route, and Dojo's error body for unknown paths and wrong methods."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.service.dependencies import Dependencies
from payintents.web import checkout_routes, intent_routes, refund_routes
from payintents.web.endpoint import json_response
from payintents.web.problems import new_trace_id, problem_response


async def health(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method, with Allow) in Dojo's shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    detail = {
        404: f"No resource at {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(status)
    return problem_response(status, new_trace_id(), detail=detail, headers=headers)


def build_app(deps: Dependencies) -> Starlette:
    routes: list[Route] = [
        Route("/health", health, methods=["GET"]),
        *refund_routes.ROUTES,
        *intent_routes.ROUTES,
        *checkout_routes.ROUTES,
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_exception})
    app.state.deps = deps
    return app
