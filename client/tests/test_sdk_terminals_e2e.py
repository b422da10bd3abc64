"""The SDK's terminal resources and the ``terminal-sessions`` command against a real server:
``client.terminals``, ``client.terminal_sessions`` and ``client.sandbox.present_card``."""

from __future__ import annotations

import json

import pytest

from payintents_client import ApiError, Client, Money
from payintents_client.cli import main
from sdk_support import ServerUnderTest

pytestmark = pytest.mark.e2e


def _epos(server: ServerUnderTest) -> Client:
    return Client(
        server.api_key, base_url=server.base_url, software_house_id="softwareHouse1", reseller_id="reseller1"
    )


def test_a_sale_and_a_matched_refund_through_the_sdk(server: ServerUnderTest) -> None:
    with _epos(server) as client:
        terminal = client.terminals.list(statuses=["Available"])[0]
        assert client.terminals.get(terminal.id).status == "Available"
        intent = client.payment_intents.create(Money(1500, "GBP"), "Till 3")
        session = client.terminal_sessions.start_sale(terminal.id, intent.id)
        assert session.status == "InitiateRequested" and session.payment_intent_id == intent.id
        done = client.sandbox.present_card(session.id, "Approved")
        assert done.status == "Captured" and done.notifications[-1] == "Approved"
        assert client.payment_intents.get(intent.id).status == "Captured"

        refund = client.terminal_sessions.start_matched_refund(terminal.id, intent.id, Money(500, "GBP"))
        assert client.sandbox.present_card(refund.id).status == "Captured"
        assert client.payment_intents.get(intent.id).refunded_amount == 500

        late = client.terminal_sessions.start_unlinked_refund(terminal.id, Money(100, "GBP"))
        client.sandbox.present_card(late.id)
        with pytest.raises(ApiError) as refused:
            client.terminal_sessions.cancel(late.id)
        assert refused.value.status == 422


def test_the_terminal_sessions_command(server: ServerUnderTest, capsys: pytest.CaptureFixture[str]) -> None:
    with _epos(server) as client:
        terminal = client.terminals.list(statuses=["Available"])[0]
        intent = client.payment_intents.create(Money(700, "GBP"), "Till 4")
    common = ["--base-url", server.base_url, "--api-key", server.api_key, "--json"]
    assert main(["terminal-sessions", "sale", terminal.id, intent.id, *common]) == 0
    started = json.loads(capsys.readouterr().out)
    assert main(["terminal-sessions", "cancel", started["id"], *common]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "CancelRequested"
    assert main(["terminal-sessions", "get", started["id"], *common]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "Canceled"
