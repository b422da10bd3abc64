"""By default the test-card checkout never pays a production intent: the built-in processor moves
no real money, so such a "payment" would be a lie. Production intents answer like missing ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.support import SUCCESS_CARD, Api


@pytest.fixture
def default_client(database_url: str) -> Iterator[tuple[TestClient, Api, Api]]:
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url, production_checkout=False), engine=engine)
    account = create_account(deps, "live")
    with TestClient(build_app(deps)) as client:
        yield client, Api(client, account.sandbox_key), Api(client, account.prod_key)
    engine.dispose()


def test_production_intents_cannot_be_paid_with_test_cards(
    default_client: tuple[TestClient, Api, Api],
) -> None:
    client, sandbox, prod = default_client
    live = prod.create_intent(1000)["id"]
    missing = client.post("/checkout/pi_missing/pay", json=SUCCESS_CARD)
    paid = client.post(f"/checkout/{live}/pay", json=SUCCESS_CARD)
    assert paid.status_code == 404
    assert paid.json()["detail"] == missing.json()["detail"]
    # The shopper's pages answer as for a missing payment: the same HTML "not found" page.
    missing_page = client.get("/checkout/pi_missing")
    form = {"cardNumber": SUCCESS_CARD["cardNumber"], "expiryDate": "12/29", "cvv": "020"}
    for page in (client.get(f"/checkout/{live}"), client.post(f"/checkout/{live}", data=form)):
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == missing_page.text
    assert prod.intent(live)["status"] == "Created"
    assert prod.refund(live, 100).status_code == 400  # never captured, so nothing to refund
    assert sandbox.captured_intent(1000).startswith("pi_sandbox_")
