"""Dashboard sessions on both stores: signing in with an API key or a user's password, the session
cookie's flags, CSRF refusals, signing out, expiry and the sandbox / production switch."""

from __future__ import annotations

from starlette.testclient import TestClient

from payintents.bootstrap import Settings, build_dependencies
from payintents.service import dashboard
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, account_id_of, hidden, new_user, text_of
from tests.fakes import FakeClock
from tests.support import Api


def test_pages_send_a_signed_out_browser_to_sign_in_and_back(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    answer = browser.get("/dashboard/payments", status="Captured")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fpayments%3Fstatus%3DCaptured"
    token = hidden(
        browser.get("/dashboard/sign-in", next="/dashboard/payments?status=Captured").text, "csrf_token"
    )
    signed_in = browser.post(
        "/dashboard/sign-in",
        {
            "csrf_token": token,
            "method": "key",
            "api_key": api.key,
            "next": "/dashboard/payments?status=Captured",
        },
    )
    assert signed_in.headers["location"] == "/dashboard/payments?status=Captured"


def test_sign_in_never_redirects_to_another_site(client: TestClient, api: Api) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/dashboard/..//evil", "/\\evil.example"):
        browser = Dashboard(client)
        token = hidden(browser.get("/dashboard/sign-in").text, "csrf_token")
        answer = browser.post(
            "/dashboard/sign-in", {"csrf_token": token, "method": "key", "api_key": api.key, "next": target}
        )
        assert answer.headers["location"] == "/dashboard/payments"


def test_a_sandbox_key_opens_the_sandbox_with_a_strict_session_cookie(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    answer = browser.sign_in_with_key(api.key)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("payintents_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/dashboard"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    page = browser.get("/dashboard/payments")
    assert page.status_code == 200
    assert "Sandbox" in text_of(page.text) and "Signed in with an API key" in text_of(page.text)


def test_the_cookie_is_secure_behind_an_https_proxy_and_on_https(client: TestClient, api: Api) -> None:
    for base_url, headers in (
        ("http://testserver", {"X-Forwarded-Proto": "https"}),
        ("https://testserver", {}),
    ):
        browser = TestClient(client.app, base_url=base_url, follow_redirects=False)
        form = browser.get("/dashboard/sign-in", headers=headers)
        assert "secure" in form.headers["set-cookie"].lower()
        token = hidden(form.text, "csrf_token")
        # The browser speaks https to the proxy, so it sends the Secure sign-in cookie back.
        answer = browser.post(
            "/dashboard/sign-in",
            data={"csrf_token": token, "method": "key", "api_key": api.key},
            headers={**headers, "Cookie": f"payintents_sign_in={token}"},
        )
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("payintents_session="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_production_key_opens_production(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    browser = Dashboard(client)
    browser.sign_in_with_key(account.prod_key)
    page = text_of(browser.get("/dashboard/payments").text)
    assert "Production" in page and "Sandbox:" not in page and "Switch to" not in page


def test_unknown_keys_and_wrong_passwords_are_refused_alike(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    new_user(deps, account.account_id)
    browser = Dashboard(client)
    for fields in (
        {"method": "key", "api_key": "sk_sandbox_" + "x" * 86},
        {"method": "key", "api_key": "not a key"},
        {"method": "key", "api_key": ""},
    ):
        answer = browser.sign_in(**fields)
        assert answer.status_code == 401
        assert "That API key does not open any account" in text_of(answer.text)
        assert "payintents_session" not in answer.headers.get("set-cookie", "")
    for username, password in (("alice", "wrong password!!"), ("nobody", "correct horse battery staple")):
        answer = browser.sign_in(method="password", username=username, password=password)
        assert answer.status_code == 401
        assert "The username or password is not correct." in text_of(answer.text)
    assert browser.get("/dashboard/payments").status_code == 303


def test_the_sign_in_form_needs_its_csrf_token(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    browser.get("/dashboard/sign-in")
    for token in ("", "forged"):
        answer = browser.post(
            "/dashboard/sign-in", {"csrf_token": token, "method": "key", "api_key": api.key}
        )
        assert answer.status_code == 403
        assert "form has expired" in text_of(answer.text)
    assert browser.get("/dashboard/payments").status_code == 303


def test_a_user_signs_in_to_production_and_switches_to_sandbox(
    client: TestClient, deps: Dependencies
) -> None:
    account = create_account(deps, "merchant")
    browser = Dashboard(client)
    browser.sign_in_as(new_user(deps, account.account_id))
    page = text_of(browser.get("/dashboard/payments").text)
    assert "Production" in page and "alice" in page
    assert browser.switch_to("sandbox").status_code == 303
    assert "Sandbox" in text_of(browser.get("/dashboard/payments").text)
    browser.switch_to("prod")
    assert "Switch to sandbox" in text_of(browser.get("/dashboard/payments").text)
    assert browser.switch_to("staging").status_code == 400


def test_an_api_key_session_cannot_switch_environment(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    answer = browser.switch_to("prod")
    assert answer.status_code == 403
    assert "An API key opens its own environment only" in text_of(answer.text)
    assert "Sandbox" in text_of(browser.get("/dashboard/payments").text)


def test_posts_without_the_session_csrf_token_change_nothing(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    for token in ("", "x" * 43):
        answer = browser.post("/dashboard/sign-out", {"csrf_token": token})
        assert answer.status_code == 403
    another = Dashboard(client)
    another.sign_in_with_key(api.key)
    # A token from another session is no token for this one.
    assert browser.post("/dashboard/sign-out", {"csrf_token": another.csrf()}).status_code == 403
    assert browser.get("/dashboard/payments").status_code == 200


def test_forms_must_be_url_encoded(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    answer = browser.http.post("/dashboard/sign-out", json={"csrf_token": browser.csrf()})
    assert answer.status_code == 415
    answer = browser.http.post(
        "/dashboard/sign-out",
        content=f"csrf_token={browser.csrf()}&x=%00",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400


def test_signing_out_ends_the_session_for_good(client: TestClient, api: Api) -> None:
    browser = Dashboard(client)
    browser.sign_in_with_key(api.key)
    stolen = browser.http.cookies["payintents_session"]
    answer = browser.post("/dashboard/sign-out", {"csrf_token": browser.csrf()})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/sign-in"
    assert 'payintents_session=""' in answer.headers["set-cookie"]
    replayed = TestClient(client.app, follow_redirects=False, cookies={"payintents_session": stolen})
    assert replayed.get("/dashboard/payments").status_code == 303


def test_sessions_expire_and_are_stored_only_as_a_hash(database_url: str, api: Api) -> None:
    clock = FakeClock()
    deps = build_dependencies(Settings(database_url=database_url), clock=clock)
    signed_in = dashboard.sign_in_with_key(deps, api.key)
    assert signed_in is not None
    assert (
        signed_in.session.token_hash != signed_in.token
        and signed_in.token not in signed_in.session.token_hash
    )
    assert dashboard.find_session(deps, signed_in.token) == signed_in.session
    clock.advance(seconds=dashboard.SESSION_LIFETIME.total_seconds())
    assert dashboard.find_session(deps, signed_in.token) is None
    assert dashboard.find_session(deps, "x" * 500) is None


def test_a_user_of_one_account_never_sees_another_account(client: TestClient, deps: Dependencies) -> None:
    mine, theirs = create_account(deps, "mine"), create_account(deps, "theirs")
    assert account_id_of(deps, mine.sandbox_key) == mine.account_id
    browser = Dashboard(client)
    browser.sign_in_as(new_user(deps, mine.account_id))
    browser.switch_to("sandbox")
    Api(client, theirs.sandbox_key).create_intent(reference="Their order")
    assert "Their order" not in browser.get("/dashboard/payments").text
