"""Links and redirects come from PAYINTENTS_PUBLIC_URL when it is set, never from the Host header
a client sends; without it, redirects are bare paths and links follow the request (a local
developer's http://127.0.0.1:8000). The dashboard's cookies are Secure behind an https URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from payintents.bootstrap import ConfigurationError, Settings
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from payintents.web.dashboard.pages import SESSION_COOKIE, SIGN_IN_COOKIE
from payintents.web.public_url import parse_public_url
from tests.dashboard.support import hidden
from tests.support import Api

PUBLIC = "https://pay.example.com"
FORGED = {"Host": "evil.example"}


@pytest.fixture
def public_client(deps: Dependencies) -> Iterator[TestClient]:
    """The app behind a TLS proxy: the proxy speaks plain http to it, the public URL is https."""
    app = build_app(deps, public_url=PUBLIC)
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as client:
        yield client


def test_the_trailing_slash_redirect_is_a_path_whatever_the_host(client: TestClient) -> None:
    for path in ("/dashboard/payments/", "/dashboard/sign-in/"):
        answer = client.get(path, headers=FORGED, follow_redirects=False)
        assert answer.status_code == 307
        assert answer.headers["location"] == path.rstrip("/")


def test_the_trailing_slash_redirect_names_the_public_url(public_client: TestClient) -> None:
    answer = public_client.get("/dashboard/payments/?status=Captured", headers=FORGED)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"{PUBLIC}/dashboard/payments?status=Captured"


def test_payment_links_come_from_the_public_url_not_the_host(
    public_client: TestClient, deps: Dependencies
) -> None:
    api = Api(public_client, create_account(deps, "merchant").sandbox_key)
    created = api.post(
        "/payment-intents", {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "o1"}, **FORGED
    ).json()
    assert created["paymentLink"] == f"{PUBLIC}/checkout/{created['id']}"
    read = public_client.get(f"/payment-intents/{created['id']}", headers={**api.headers(), **FORGED})
    assert read.json()["paymentLink"] == created["paymentLink"]


def test_the_checkout_challenge_url_comes_from_the_public_url_not_the_host(
    public_client: TestClient, deps: Dependencies
) -> None:
    api = Api(public_client, create_account(deps, "merchant").sandbox_key)
    created = api.post(
        "/payment-intents", {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "o1"}
    ).json()
    card = {"cardNumber": "5200000000001096", "expiryDate": "12/29", "cvv": "020"}
    paid = public_client.post(f"/checkout/{created['id']}/pay", json=card, headers=FORGED)
    assert paid.json()["challengeUrl"] == f"{PUBLIC}/checkout/{created['id']}/3ds"


def test_without_a_public_url_payment_links_follow_the_request(api: Api) -> None:
    created = api.create_intent(1000)
    assert created["paymentLink"] == f"http://testserver/checkout/{created['id']}"


def test_cookies_are_secure_when_the_public_url_is_https(
    public_client: TestClient, deps: Dependencies
) -> None:
    page = public_client.get("/dashboard/sign-in")
    assert "secure" in page.headers["set-cookie"].lower()
    key = create_account(deps, "merchant").sandbox_key
    # The client talks plain http to the app, so its jar would keep the Secure cookie back.
    token = hidden(page.text, "csrf_token")
    signed_in = public_client.post(
        "/dashboard/sign-in",
        data={"csrf_token": token, "method": "key", "api_key": key},
        headers={"Cookie": f"{SIGN_IN_COOKIE}={page.cookies[SIGN_IN_COOKIE]}"},
    )
    assert signed_in.status_code == 303
    session_cookie = [c for c in signed_in.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert session_cookie and "secure" in session_cookie[0].lower()


def test_cookies_over_plain_http_without_a_public_url_are_not_secure(client: TestClient) -> None:
    assert "secure" not in client.get("/dashboard/sign-in").headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("setting", "parsed"),
    [
        ("", None),
        ("https://pay.example.com", PUBLIC),
        ("https://pay.example.com/", PUBLIC),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_public_url_setting_accepted(setting: str, parsed: str | None) -> None:
    assert parse_public_url(setting) == parsed


@pytest.mark.parametrize(
    "setting",
    [
        "pay.example.com",
        "ftp://pay.example.com",
        "https://pay.example.com/base",
        "https://u:p@pay.example.com",
        "https://pay.example.com?x=1",
        "https://pay.example.com:port",
        "https://",
    ],
)
def test_public_url_setting_refused_at_start(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYINTENTS_PUBLIC_URL", setting)
    with pytest.raises(ConfigurationError, match="PAYINTENTS_PUBLIC_URL"):
        Settings.from_environment()
