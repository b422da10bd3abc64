"""The examples of Dojo's "Refund a payment" page against a real ``payintents serve`` (2 workers,
SQLite) on loopback: https://docs.dojo.tech/payments/manage-payments/cancelling-payments/refund

The curl and Python ``http.client`` examples run unchanged except for host, port, key and intent
id; the C# and PHP clients are represented by the HTTP requests their SDKs send.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import seed_examples
from tests.support import Api, RunningServer, running_server

pytestmark = pytest.mark.e2e
REFUND_ID = re.compile(r"^rfnd_[A-Za-z0-9_-]{22}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("seed")
    with running_server(f"sqlite:///{directory / 'seed.db'}", directory, workers=2) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield Api(client, server.new_account()["sandboxKey"])


def _check_refund_answer(text: str, intent_id: str) -> None:
    body = json.loads(text)
    assert REFUND_ID.match(body["refundId"]), body
    assert body["paymentIntentId"] == intent_id
    assert body["refundReason"] == "Demo refund"
    assert body["notes"] == "Duplicate transaction"
    assert body["message"] == "refund for Order 234"


def test_seed_curl_example(server: RunningServer, api: Api) -> None:
    intent_id = api.captured_intent(1000)
    command = (
        seed_examples.CURL.replace("https://api.dojo.tech", server.base_url)
        .replace("<paymentIntentId>", intent_id)
        .replace("<your_api_key>", api.key)
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True)
    assert "< HTTP/1.1 200 OK" in done.stderr
    _check_refund_answer(done.stdout, intent_id)
    after = api.intent(intent_id)
    assert (after["status"], after["refundedAmount"]) == ("Refunded", 1000)


def test_seed_python_http_client_example(server: RunningServer, api: Api, tmp_path: Path) -> None:
    intent_id = api.captured_intent(1000)
    host, port = server.base_url.removeprefix("http://").split(":")
    script = (
        seed_examples.PYTHON.replace(
            'http.client.HTTPSConnection("api.dojo.tech")', f'http.client.HTTPConnection("{host}", {port})'
        )
        .replace("<your_api_key>", api.key)
        .replace("import http.client\n", f"import http.client\npaymentIntentId = {intent_id!r}\n", 1)
    )
    path = tmp_path / "seed_refund.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=30, check=True)
    _check_refund_answer(done.stdout, intent_id)
    # Running the same example again is a retry with the same key: same answer, no second refund.
    again = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=30, check=True
    )
    assert again.stdout == done.stdout
    assert api.intent(intent_id)["refundedAmount"] == 1000


def test_csharp_client_request_shape(api: Api) -> None:
    """RefundsClient.CreateAsync(id, "656565gfyd65", new CreateRefundRequest { Amount = 50, ... })."""
    intent_id = api.captured_intent(1000)
    body = {"Amount": 50, "Notes": "Demo refund", "RefundReason": "Duplicate transaction"}
    response = api.client.post(
        f"/payment-intents/{intent_id}/refunds",
        content=json.dumps(body),
        headers={
            "Authorization": f"Basic {api.key}",
            "version": "2025-09-10",
            "idempotencyKey": "656565gfyd65",
            "Content-Type": "application/json; charset=utf-8",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["refundReason"] == "Duplicate transaction"
    assert api.intent(intent_id)["refundedAmount"] == 50


def test_php_client_request_shape(api: Api) -> None:
    """ApiFactory::createRefundsApi($key)->refundsCreate(\\Dojo_PHP\\API_VERSION, $id, "656565gfyd65", ...).

    The PHP SDK sends its pinned API version, 2022-04-07, and serialises ``refund_reason`` as
    ``refundReason``.
    """
    intent_id = api.captured_intent(1000)
    body = {"amount": 50, "notes": "Demo refund", "refundReason": "Duplicate transaction"}
    response = api.client.post(
        f"/payment-intents/{intent_id}/refunds",
        content=json.dumps(body),
        headers={
            "Authorization": f"Basic {api.key}",
            "version": "2022-04-07",
            "idempotencyKey": "656565gfyd65",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    assert REFUND_ID.match(response.json()["refundId"])
    assert api.intent(intent_id)["refundedAmount"] == 50
