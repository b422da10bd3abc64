"""The terminal session's rules in pure form (domain/terminal.py): which states take a card, a
cancel or a signature answer; what the screen shows; when a terminal is free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payintents.domain import terminal as rules
from payintents.domain.intent import Environment, Scope
from payintents.domain.terminal import SessionStatus, SessionType, Terminal, TerminalSession, TerminalStatus

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SCOPE = Scope("acc_1", Environment.SANDBOX)


def _session(kind: SessionType = SessionType.SALE) -> TerminalSession:
    session = TerminalSession(
        id="ts_sandbox_1",
        scope=SCOPE,
        terminal_id="tm_sandbox_1",
        session_type=kind,
        amount=1000,
        currency="GBP",
        status=SessionStatus.INITIATE_REQUESTED,
        created_at=NOW,
        updated_at=NOW,
        expire_at=NOW + rules.CARD_WAIT,
        software_house_id="softwareHouse1",
        reseller_id=None,
    )
    rules.open_session(session)
    return session


def test_a_session_asks_for_the_card_then_is_approved() -> None:
    session = _session()
    rules.initiate(session, NOW)
    rules.ensure_waiting_for_card(session)
    rules.approve(session, NOW, {"cardNumber": "520000******1005"}, captured=True)
    assert [e.status for e in session.status_events] == [
        SessionStatus.INITIATE_REQUESTED,
        SessionStatus.INITIATED,
        SessionStatus.CAPTURED,
    ]
    assert [n.kind for n in session.notifications] == ["PresentCard", "Approved"]
    assert session.is_final
    with pytest.raises(rules.SessionStateError):
        rules.request_cancel(session, NOW)


def test_cancel_only_before_the_card() -> None:
    session = _session()
    rules.request_cancel(session, NOW)
    assert session.status is SessionStatus.CANCEL_REQUESTED
    with pytest.raises(rules.SessionStateError):
        rules.ensure_waiting_for_card(session)


def test_a_signature_is_due_80_seconds_after_it_is_asked_for() -> None:
    session = _session()
    with pytest.raises(rules.SessionStateError):
        rules.ensure_signature_pending(session)
    rules.require_signature(session, NOW, {"cardNumber": "520000******1005"})
    assert session.signature_due_at == NOW + timedelta(seconds=80)
    rules.ensure_signature_pending(session)
    assert session.notifications[-1].kind == "SignatureVerification"


def test_an_unlinked_refund_without_the_cardholder_asks_to_key_the_card() -> None:
    session = _session(SessionType.UNLINKED_REFUND)
    session.cardholder_not_present = True
    rules.initiate(session, NOW)
    assert session.notifications[-1].kind == "KeyCardNumber"


@pytest.mark.parametrize(
    ("offline", "open_session", "status"),
    [
        (False, None, TerminalStatus.AVAILABLE),
        (False, "ts_1", TerminalStatus.IN_USE),
        (True, None, TerminalStatus.OFFLINE),
        (True, "ts_1", TerminalStatus.OFFLINE),
    ],
)
def test_terminal_status(offline: bool, open_session: str | None, status: TerminalStatus) -> None:
    terminal = Terminal("tm_sandbox_1", SCOPE, "12345678", offline, open_session, NOW)
    assert terminal.status is status
