"""The merchant dashboard, served under /dashboard: server-rendered pages and plain forms."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from payintents.web.dashboard import auth_routes, developer_routes, payment_routes, refund_routes
from payintents.web.templating import STATIC_DIR


def routes() -> list[BaseRoute]:
    """The dashboard's pages under /dashboard and its stylesheet and script under /dashboard/static."""
    return [
        Mount("/dashboard/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Mount(
            "/dashboard",
            routes=[
                *auth_routes.ROUTES,
                *payment_routes.ROUTES,
                *refund_routes.ROUTES,
                *developer_routes.ROUTES,
            ],
        ),
    ]
