"""The ``payintents-client`` command against a real ``payintents serve``: refunds with decimal amounts
converted exactly in the intent's currency (and refused when inexact), ``intents`` commands, JSON for
scripts and tables for people, one-line errors with the traceId and exit codes, and ``webhooks
listen`` receiving, verifying, printing and forwarding a real delivery, then removing its subscription."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from payintents_client import Client, Money, verify_dojo_signature
from payintents_client.cli import build_parser, main
from sdk_support import ServerUnderTest, captured_intent, pay, recording_receiver

pytestmark = pytest.mark.e2e
ERROR_LINE = re.compile(
    r"^payintents-client: 400 Bad Request: .+ \(traceId 00-[0-9a-f]{32}-[0-9a-f]{16}-01\)$"
)


def run(server: ServerUnderTest, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--base-url", server.base_url, "--api-key", server.api_key])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_refund_amount_in_the_intents_currency_is_converted_exactly(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    code, out, _ = run(
        server, capsys, "refund", intent_id, "--amount", "0.29", "--reason", "Demo refund", "--json"
    )
    assert code == 0
    body = json.loads(out)
    assert body["paymentIntentId"] == intent_id and body["refundReason"] == "Demo refund"
    assert [r.amount for r in client.refunds.list(intent_id)] == [29]  # not 28 (0.29 * 100 in floats)


def test_euro_amount_with_one_decimal_and_minor_units(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000, "EUR")
    assert run(server, capsys, "refund", intent_id, "--amount", "1.5")[0] == 0
    code, out, _ = run(server, capsys, "refund", intent_id, "--amount-minor", "250")
    assert code == 0
    assert "refunded so far    4.00 EUR of 10.00 EUR" in re.sub(r"[ \t]+\n", "\n", out)
    assert [r.amount for r in client.refunds.list(intent_id)] == [150, 250]


@pytest.mark.parametrize("amount", ["10.001", "1e3", "-1", "ten", "0.00"])
def test_inexact_or_nonsense_amounts_are_refused_before_any_refund(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    code, out, err = run(server, capsys, "refund", intent_id, f"--amount={amount}")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("payintents-client: --amount")
    assert client.refunds.list(intent_id) == ()


def test_an_api_error_is_one_line_with_the_trace_id_and_exit_code_1(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    assert run(server, capsys, "refund", intent_id, "--amount", "6.00")[0] == 0
    code, out, err = run(server, capsys, "refund", intent_id, "--amount", "4.01")
    assert code == 1 and out == ""
    assert ERROR_LINE.match(err.strip()), err
    assert client.payment_intents.get(intent_id).refunded_amount == 600


def test_a_reused_idempotency_key_replays_instead_of_refunding_again(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    intent_id = captured_intent(client, server.base_url, 1000)
    argv = ("refund", intent_id, "--amount", "2.00", "--idempotency-key", "cli-key-1", "--json")
    first, again = run(server, capsys, *argv), run(server, capsys, *argv)
    assert first[0] == again[0] == 0 and json.loads(first[1]) == json.loads(again[1])
    assert client.payment_intents.get(intent_id).refunded_amount == 200


def test_intents_create_get_list_capture_cancel_and_refunds(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        server, capsys, "intents", "create", "--amount", "12.34", "--reference", "CLI 1", "--json"
    )
    created = json.loads(out)
    assert code == 0 and created["amount"] == {"value": 1234, "currencyCode": "GBP"}
    code, out, _ = run(server, capsys, "intents", "get", created["id"])
    assert code == 0 and created["id"] in out and "12.34 GBP" in out and "Created" in out
    code, out, _ = run(server, capsys, "intents", "list", "--limit", "5", "--json")
    assert created["id"] in [i["id"] for i in json.loads(out)]
    code, out, _ = run(server, capsys, "intents", "list", "--status", "Created", "--limit", "3")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["ID", "STATUS", "AMOUNT"]
    assert (
        json.loads(run(server, capsys, "intents", "cancel", created["id"], "--json")[1])["status"]
        == "Canceled"
    )

    manual = client.payment_intents.create(Money(2000, "GBP"), "CLI 2", capture_mode="Manual")
    pay(server.base_url, manual.id)
    code, out, _ = run(server, capsys, "intents", "capture", manual.id, "--amount", "15.00")
    assert code == 0 and "Captured 15.00 GBP" in out
    assert [c.amount for c in client.payment_intents.get(manual.id).captures] == [1500]
    run(server, capsys, "refund", manual.id, "--amount", "5.00", "--reason", "Damaged")
    code, out, _ = run(server, capsys, "intents", "refunds", manual.id)
    assert code == 0 and "5.00 GBP" in out and "Damaged" in out

    code, out, _ = run(server, capsys, "intents", "receipt", manual.id, "ada@example.com", "bob@example.org")
    assert code == 0 and f"Receipt of {manual.id} sent to ada@example.com, bob@example.org" in out
    code, out, _ = run(server, capsys, "intents", "receipts", manual.id)
    assert code == 0 and out.splitlines()[0].split()[:2] == ["RECEIPT", "PAYMENT"]
    assert "ada@example.com, bob@example.org" in out and "Your receipt for CLI 2" in out
    code, out, _ = run(server, capsys, "intents", "receipts", manual.id, "--text")
    assert code == 0 and "Refunded: 5.00 GBP" in out


def test_missing_key_and_programme_name_for_delegation(
    server: ServerUnderTest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYINTENTS_API_KEY", raising=False)
    monkeypatch.delenv("DOJO_API_KEY", raising=False)
    assert main(["intents", "list", "--base-url", server.base_url], prog="payintents") == 1
    err = capsys.readouterr().err
    assert err.startswith("payintents: no API key")
    assert "--api-key" in err and "PAYINTENTS_API_KEY" in err and "api_key=" not in err  # the CLI's words


def test_a_bad_base_url_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intents", "list", "--api-key", "sk_sandbox_x", "--base-url", "ftp://example.com"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("payintents-client: --base-url (or PAYINTENTS_BASE_URL) must be an http(s) URL")
    assert "base_url" not in err


def test_intents_pay_with_test_cards_by_number_or_name(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    paid = client.payment_intents.create(Money(1250, "EUR"), "CLI pay")
    code, out, _ = run(server, capsys, "intents", "pay", paid.id)
    assert code == 0 and "Captured" in out and "12.50 EUR" in out
    assert client.payment_intents.get(paid.id).status == "Captured"

    declined = client.payment_intents.create(Money(1000, "GBP"), "CLI decline")
    code, out, _ = run(
        server, capsys, "intents", "pay", declined.id, "--card", "insufficient-funds", "--json"
    )
    assert code == 0 and json.loads(out)["status"] == "Created"
    assert json.loads(out)["paymentEvents"][-1]["message"] == "INSUFFICIENT FUNDS"
    code, out, _ = run(server, capsys, "intents", "pay", declined.id, "--card", "4456 5300 0000 1013")
    assert code == 0 and re.search(
        r"last payment event +Declined: DECLINED\n", re.sub(r"[ \t]+\n", "\n", out)
    )

    challenged = client.payment_intents.create(Money(1000, "GBP"), "CLI 3DS", capture_mode="Manual")
    code, out, err = run(server, capsys, "intents", "pay", challenged.id, "--card", "challenge")
    assert code == 0 and "AuthChallenged" in out and f"intents challenge {challenged.id}" in err
    code, out, _ = run(server, capsys, "intents", "challenge", challenged.id, "--fail")
    assert code == 0 and "Declined" in out and client.payment_intents.get(challenged.id).status == "Created"
    again = client.payment_intents.create(Money(1000, "GBP"), "CLI 3DS 2", capture_mode="Manual")
    code, out, _ = run(
        server, capsys, "intents", "pay", again.id, "--card", "challenge", "--challenge", "pass"
    )
    assert code == 0 and "Authorized" in out


def _every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _every_parser(sub)


@pytest.mark.parametrize("prog", ["payintents-client", "payintents"])
def test_no_help_text_carries_restructuredtext_markup(prog: str) -> None:
    parsers = list(_every_parser(build_parser(prog)))
    assert len(parsers) >= 12  # refund, intents and its 7 commands, webhooks and its 3
    for parser in parsers:
        text = parser.format_help()
        assert "``" not in text and ":class:" not in text and ":func:" not in text, parser.prog


def test_webhooks_listen_prints_and_forwards_a_verified_delivery_then_removes_its_subscription(
    client: Client, server: ServerUnderTest
) -> None:
    for existing in client.webhooks.list():
        client.webhooks.delete(existing.id)
    env = {**os.environ, "PAYINTENTS_API_KEY": server.api_key, "PAYINTENTS_BASE_URL": server.base_url}
    with recording_receiver() as (forward_url, forwarded):
        command = [sys.executable, "-m", "payintents_client.cli", "webhooks", "listen", "--json"]
        command += ["--events", "payment_intent.created", "--max-events", "1", "--forward-to", forward_url]
        listener = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 15
            while not client.webhooks.list():
                assert listener.poll() is None and time.monotonic() < deadline, listener.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.05)
            (subscription,) = client.webhooks.list()
            assert subscription.url.startswith("http://127.0.0.1:")
            secret = subscription.active_secret
            intent = client.payment_intents.create(Money(1000, "GBP"), "Listen 1")
            out, err = listener.communicate(timeout=20)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
    assert listener.returncode == 0, err
    event = json.loads(out.strip().splitlines()[0])
    assert event["event"] == "payment_intent.created" and event["data"]["paymentIntentId"] == intent.id
    assert "Ready! Listening on http://127.0.0.1:" in err and "rejected" not in err
    ((headers, body),) = forwarded
    assert json.loads(body) == event
    assert secret is not None and verify_dojo_signature(secret.value, body, headers["dojo-signature"])
    assert client.webhooks.list() == ()


def test_customers_and_a_merchant_initiated_charge(
    client: Client, server: ServerUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(server, capsys, "customers", "create", "--name", "Alex", "--json")
    assert code == 0, out
    customer_id = json.loads(out)["id"]
    setup = client.setup_intents.create("Table 4", "Booking fee on no-show.", customer_id=customer_id)
    card = {"cardNumber": "5200000000001005", "expiryDate": "12/29", "cvv": "020"}
    assert httpx.post(f"{server.base_url}/setup/{setup.id}/save", json=card, timeout=10).status_code == 200
    code, out, _ = run(server, capsys, "customers", "cards", customer_id)
    assert code == 0 and "520000******1005" in out and "MASTERCARD" in out
    intent = client.payment_intents.create(Money(700, "GBP"), "No-show", setup_intent_id=setup.id)
    code, out, _ = run(server, capsys, "intents", "charge", intent.id, "--json")
    assert code == 0 and json.loads(out)["status"] == "Successful"
    code, _, err = run(server, capsys, "intents", "charge", intent.id)
    assert code == 1 and "400 Bad Request" in err
