"""Dojo's EPOS integration endpoints (``/epos/*``): not served. Every method on every path under
``/epos`` answers 404 in Dojo's error shape with a ``detail`` that says so, so a client of Dojo's
EPOS API learns why instead of meeting a bare "no resource"."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.web.problems import problem_response, trace_id_of

NOT_SERVED_DETAIL = (
    "Dojo's EPOS integration endpoints (/epos/events, /epos/integrations…) are not served by "
    "payintents; it serves Dojo's payment intents, refunds and webhooks."
)
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def not_served(request: Request) -> Response:
    return problem_response(404, trace_id_of(request), detail=NOT_SERVED_DETAIL)


ROUTES: list[Route] = [
    Route("/epos", not_served, methods=_EVERY_METHOD),
    Route("/epos/{rest:path}", not_served, methods=_EVERY_METHOD),
]
