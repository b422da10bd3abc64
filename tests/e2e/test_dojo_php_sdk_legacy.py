"""Dojo's PHP SDK on its own API version, 2022-04-07, against a real ``payintents serve`` (SQLite,
one server for the module): item lines named with ``caption``, ``transactionSource: MOTO``, the
flat ``paymentDetails`` the SDK reads (docs/api.md, "Version header"; ADR 0007), and its receipt
request, recorded in the sandbox's outbox (ADR 0029).

Requests are written as the SDK's models serialise them (``ObjectSerializer``: camelCase names
from each model's attribute map, unset properties left out, integers for amounts) with the headers
its ``PaymentIntentsApi`` sends. The samples' ``caption`` on 2024-02-05 is covered too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import CHALLENGE_CARD, SUCCESS_CARD, RunningServer, running_server

pytestmark = pytest.mark.e2e
LEGACY = "2022-04-07"
CURRENT = "2024-02-05"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("php-sdk")
    with running_server(f"sqlite:///{directory / 'php.db'}", directory, workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(server: RunningServer) -> Iterator[PhpSdkCalls]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield PhpSdkCalls(client, server.new_account()["sandboxKey"])


class PhpSdkCalls:
    """The HTTP requests Dojo's PHP SDK makes (``Authorization: Basic <key>``, ``version``)."""

    def __init__(self, client: httpx.Client, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, version: str) -> dict[str, str]:
        return {
            "Authorization": f"Basic {self.key}",
            "version": version,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "OpenAPI-Generator/1.0.0/PHP",
        }

    def create(self, body: dict[str, Any], version: str = LEGACY) -> httpx.Response:
        # PHP's json_encode, as the SDK calls it: no spaces, "/" escaped.
        content = json.dumps(body, separators=(",", ":")).replace("/", "\\/")
        return self.client.post("/payment-intents", content=content, headers=self._headers(version))

    def get(self, intent_id: str, version: str = LEGACY) -> dict[str, Any]:
        response = self.client.get(f"/payment-intents/{intent_id}", headers=self._headers(version))
        assert response.status_code == 200, response.text
        return dict(response.json())


def _request(**fields: Any) -> dict[str, Any]:
    """A CreatePaymentIntentRequest as the SDK serialises it (captureMode, amount, reference first)."""
    return {
        "captureMode": "Auto",
        "amount": {"value": 1500, "currencyCode": "GBP"},
        "reference": "Order 42",
        **fields,
    }


# ItemLine.php: id, quantity, caption, amountTotal (ItemLineAmountTotal: value, currencyCode).
PHP_ITEM_LINE = {
    "id": "line-1",
    "quantity": 2,
    "caption": "Flat white",
    "amountTotal": {"value": 700, "currencyCode": "GBP"},
}


def test_caption_is_accepted_and_echoed_as_caption_on_2022_04_07(sdk: PhpSdkCalls) -> None:
    created = sdk.create(_request(itemLines=[PHP_ITEM_LINE]))
    assert created.status_code == 200, created.text
    line = created.json()["itemLines"][0]
    assert line == PHP_ITEM_LINE
    # The same intent read on a current version names the line as that version does.
    current = sdk.get(created.json()["id"], CURRENT)["itemLines"][0]
    assert current["name"] == "Flat white" and "caption" not in current


def test_caption_on_2024_02_05_as_dojo_samples_send_it_is_echoed_as_name(sdk: PhpSdkCalls) -> None:
    created = sdk.create(_request(itemLines=[PHP_ITEM_LINE]), CURRENT)
    assert created.status_code == 200, created.text
    line = created.json()["itemLines"][0]
    assert line["name"] == "Flat white" and "caption" not in line


def test_caption_and_a_different_name_are_refused(sdk: PhpSdkCalls) -> None:
    both = {**PHP_ITEM_LINE, "name": "Latte"}
    for version in (LEGACY, CURRENT):
        refused = sdk.create(_request(itemLines=[PHP_ITEM_LINE, both]), version)
        assert refused.status_code == 400, refused.text
        assert list(refused.json()["errors"]) == ["itemLines[1].caption"]
    same = sdk.create(_request(itemLines=[{**PHP_ITEM_LINE, "name": "Flat white"}]), CURRENT)
    assert same.status_code == 200, same.text


def test_moto_transaction_source_on_2022_04_07_is_recorded_as_cardholder_not_present(
    sdk: PhpSdkCalls,
) -> None:
    created = sdk.create(_request(transactionSource="MOTO"))
    assert created.status_code == 200, created.text
    assert created.json()["cardHolderNotPresent"] is True
    assert sdk.get(created.json()["id"], CURRENT)["cardHolderNotPresent"] is True
    plain = sdk.create(_request())
    assert plain.json()["cardHolderNotPresent"] is False


def test_a_moto_payment_is_not_challenged(sdk: PhpSdkCalls) -> None:
    """MOTO: no cardholder to authenticate, so the 3-D Secure test card pays without a challenge."""
    moto = sdk.create(_request(transactionSource="MOTO")).json()["id"]
    paid = sdk.client.post(f"/checkout/{moto}/pay", json=CHALLENGE_CARD)
    assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
    # Control: the same card on an ordinary intent waits for its challenge.
    plain = sdk.create(_request()).json()["id"]
    challenged = sdk.client.post(f"/checkout/{plain}/pay", json=CHALLENGE_CARD)
    assert challenged.json()["status"] == "Created" and "challengeUrl" in challenged.json()


def test_transaction_source_is_refused_from_2024_02_05(sdk: PhpSdkCalls) -> None:
    for version in (CURRENT, "2026-02-27"):
        refused = sdk.create(_request(transactionSource="MOTO"), version)
        assert refused.status_code == 400, refused.text
        assert "removed in version 2024-02-05" in refused.json()["errors"]["transactionSource"][0]
    unknown = sdk.create(_request(transactionSource="ECOM"))
    assert unknown.status_code == 400 and "transactionSource" in unknown.json()["errors"]
    contradiction = sdk.create(_request(transactionSource="MOTO", cardHolderNotPresent=False))
    assert contradiction.status_code == 400 and "cardHolderNotPresent" in contradiction.json()["errors"]


def test_legacy_callers_read_the_flat_payment_details(sdk: PhpSdkCalls) -> None:
    intent_id = sdk.create(_request()).json()["id"]
    paid = sdk.client.post(f"/checkout/{intent_id}/pay", json={**SUCCESS_CARD, "cardName": "Ada Lovelace"})
    assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
    legacy = sdk.get(intent_id)["paymentDetails"]
    # PaymentIntentPaymentDetails.php reads exactly these names.
    assert set(legacy) <= {
        "transactionDateTime",
        "message",
        "authCode",
        "cardNumber",
        "cardName",
        "expiryDate",
        "cardType",
    }
    assert legacy["cardNumber"] == "520000******1005"
    assert (legacy["cardType"], legacy["expiryDate"], legacy["cardName"]) == (
        "MASTERCARD",
        "12/29",
        "Ada Lovelace",
    )
    assert legacy["message"] == "DEPOSITED"
    current = sdk.get(intent_id, CURRENT)["paymentDetails"]
    assert current["card"]["cardNumber"] == "520000******1005" and "cardNumber" not in current
    assert current["transactionId"]


def test_the_sdks_receipt_request_is_recorded_in_the_outbox(sdk: PhpSdkCalls) -> None:
    """SendEmailReceiptRequest.php serialises as {"emails": [...]}; the answer is a bare 204."""
    intent_id = sdk.create(_request(itemLines=[PHP_ITEM_LINE])).json()["id"]
    assert sdk.client.post(f"/checkout/{intent_id}/pay", json=SUCCESS_CARD).status_code == 200
    content = json.dumps({"emails": ["ada@example.com"]}, separators=(",", ":"))
    path = f"/payment-intents/{intent_id}/receipt"
    sent = sdk.client.post(path, content=content, headers=sdk._headers(LEGACY))
    assert (sent.status_code, sent.content) == (204, b"")
    outbox = sdk.client.get(f"/sandbox/receipts?paymentIntentId={intent_id}", headers=sdk._headers(LEGACY))
    [receipt] = outbox.json()["data"]
    assert receipt["recipients"] == ["ada@example.com"] and "15.00 GBP" in receipt["text"]
