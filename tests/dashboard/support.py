"""Helpers for the dashboard's HTTP tests: a browser-like client that signs in through the forms,
reads hidden fields from the pages, and walks the refund form, its confirmation and its answer."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from payintents.service.dependencies import Dependencies
from payintents.service.users import create_user

PASSWORD = "correct horse battery staple"
# The console script pip installed next to this interpreter: the command as a person types it.
PAYINTENTS = Path(sys.executable).parent / "payintents"


def payintents(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``payintents ARGS --database URL``, with ``stdin`` typed in; never raises on exit codes."""
    return subprocess.run(
        [str(PAYINTENTS), *args, "--database", database_url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.values.setdefault(str(named["name"]), named.get("value") or "")


def fields(page: str) -> dict[str, str]:
    """Every input's value by name (the first of each name), as a browser would send it."""
    parser = _Inputs()
    parser.feed(page)
    return parser.values


def hidden(page: str, name: str) -> str:
    """The value of the first input named ``name`` on the page."""
    found = fields(page)
    assert name in found, f"no field {name} on the page"
    return found[name]


def text_of(page: str) -> str:
    """The page's visible words, tags removed and spaces collapsed, for plain-text assertions."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(without_tags).split())


class Dashboard:
    """One browser: its own cookie jar, on the same app as the ``client`` fixture."""

    def __init__(self, client: TestClient) -> None:
        self.http = TestClient(client.app, base_url=str(client.base_url), follow_redirects=False)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data=form)

    def csrf(self) -> str:
        return hidden(self.get("/dashboard/payments").text, "csrf_token")

    def sign_in(self, **fields: str) -> httpx.Response:
        token = hidden(self.get("/dashboard/sign-in").text, "csrf_token")
        return self.post("/dashboard/sign-in", {"csrf_token": token, **fields})

    def sign_in_with_key(self, key: str) -> httpx.Response:
        response = self.sign_in(method="key", api_key=key)
        assert response.status_code == 303, response.text
        return response

    def sign_in_as(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = self.sign_in(method="password", username=username, password=password)
        assert response.status_code == 303, response.text
        return response

    def switch_to(self, environment: str) -> httpx.Response:
        return self.post("/dashboard/environment", {"csrf_token": self.csrf(), "environment": environment})

    def refund_form(self, intent_id: str) -> dict[str, str]:
        """The fields the refund form carries, as a browser would send them back."""
        page = self.get(f"/dashboard/payments/{intent_id}/refund")
        assert page.status_code == 200, page.text
        found = fields(page.text)
        return {name: found[name] for name in ("csrf_token", "refund_key", "amount")}

    def review(self, intent_id: str, form: dict[str, str], **fields: str) -> httpx.Response:
        return self.post(f"/dashboard/payments/{intent_id}/refund", {**form, "step": "review", **fields})

    def confirm(self, intent_id: str, form: dict[str, str], **fields: str) -> httpx.Response:
        return self.post(f"/dashboard/payments/{intent_id}/refund/confirm", {**form, **fields})

    def refund(self, intent_id: str, amount: str, **fields: str) -> httpx.Response:
        """Form, review, confirm: the answer to the confirmation."""
        form = self.refund_form(intent_id)
        reviewed = self.review(intent_id, form, amount=amount, **fields)
        assert reviewed.status_code == 200, reviewed.text
        return self.confirm(intent_id, form, amount=amount, **fields)


def new_user(deps: Dependencies, account_id: str, username: str = "alice") -> str:
    create_user(deps, username, account_id, PASSWORD)
    return username


def account_id_of(deps: Dependencies, api_key: str) -> str:
    from payintents.service.accounts import authenticate

    scope = authenticate(deps, api_key)
    assert scope is not None
    return scope.account_id


def refunds_of(api: Any, intent_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/payment-intents/{intent_id}/refunds")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
