"""Dashboard addresses carrying what no filter, id or page link can hold answer a clear page
(400, or the list with the bad link explained), never a 500 — PostgreSQL cannot even compare text
containing NUL, and a date pushed past year 1 cannot be converted to UTC."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, text_of


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_hostile_addresses_are_refused_cleanly(client: TestClient, deps: Dependencies) -> None:
    dashboard = Dashboard(client)
    signed_in = dashboard.sign_in_with_key(create_account(deps, "merchant").sandbox_key)
    assert signed_in.status_code in (200, 303)
    assert dashboard.get("/dashboard/payments").status_code == 200

    nul = client.get("/dashboard/payments?q=a%00b")
    assert nul.status_code == 400

    for cursor in (_cursor("0001-01-01T00:00:00+14:00|pi_x"), _cursor("2026-01-01T00:00:00+00:00|pi\x00x")):
        page = dashboard.get("/dashboard/payments", after=cursor)
        assert page.status_code in (200, 400), page.status_code
        assert "page link is not one the dashboard made" in text_of(page.text)
