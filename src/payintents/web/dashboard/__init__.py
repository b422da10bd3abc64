"""The merchant dashboard, served under /dashboard: server-rendered pages and plain forms."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payintents.web.dashboard import (
    auth_routes,
    customer_routes,
    developer_routes,
    payment_routes,
    refund_form_routes,
    terminal_routes,
)
from payintents.web.public_url import redirect_location
from payintents.web.templating import STATIC_DIR


def routes() -> list[BaseRoute]:
    """The dashboard's pages under /dashboard and its stylesheet and script under /dashboard/static."""
    return [
        Mount("/dashboard/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Mount(
            "/dashboard",
            app=HostFreeRedirects(
                Router(
                    routes=[
                        *auth_routes.ROUTES,
                        *payment_routes.ROUTES,
                        *refund_form_routes.ROUTES,
                        *customer_routes.ROUTES,
                        *developer_routes.ROUTES,
                        *terminal_routes.ROUTES,
                    ]
                )
            ),
        ),
    ]


class HostFreeRedirects:
    """Starlette's trailing-slash redirect (``/dashboard/payments/`` → ``/dashboard/payments``)
    names the site from the request's Host header, so a forged Host made it send browsers to
    another site. This keeps the path and query of such a redirect, behind the public URL when one
    is set (public_url.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_without_host(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (307, 308):
                message["headers"] = [
                    (name, _host_free(Request(scope), value) if name == b"location" else value)
                    for name, value in message["headers"]
                ]
            await send(message)

        await self.app(scope, receive, send_without_host)


def _host_free(request: Request, location: bytes) -> bytes:
    target = urlsplit(location.decode("latin-1"))
    # One leading slash: "//host/…" (or "/\\host/…") is another site to a browser.
    path = "/" + target.path.lstrip("/\\") + (f"?{target.query}" if target.query else "")
    return redirect_location(request, path).encode("latin-1")
