"""Dojo's terminal API (Pay at Counter) and payintents' virtual-terminal driver, as ``Call`` objects.

Every terminal call needs the ``software-house-id`` header; the client sends the one it was given
(``Client(software_house_id=…)``). Creating a session is not replay-safe: a retry after a lost
answer could start a second session, so it is never retried automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from payintents_client._operations import Call, parser, path_segment
from payintents_client.money import Money
from payintents_client.terminal_models import Terminal, TerminalSession, TerminalSettings, terminal_list

_SESSIONS = "/terminal-sessions"


def list_terminals(statuses: Sequence[str] = ()) -> Call[tuple[Terminal, ...]]:
    """The account's terminals, only those in ``statuses`` if given (Available, InUse, Offline)."""
    params = {"statuses": ",".join(statuses)} if statuses else None
    return Call("GET", "/terminals", terminal_list, params=params, read_only=True)


def get_terminal(terminal_id: str) -> Call[Terminal]:
    return Call(
        "GET",
        f"/terminals/{path_segment(terminal_id)}",
        parser(Terminal.from_wire, "Terminal"),
        read_only=True,
    )


def _start(terminal_id: str, details: dict[str, Any]) -> Call[TerminalSession]:
    body = {"terminalId": terminal_id, "details": details}
    return Call("POST", _SESSIONS, parser(TerminalSession.from_wire, "TerminalSession"), body=body)


def start_sale(terminal_id: str, payment_intent_id: str) -> Call[TerminalSession]:
    """Ask the terminal to take payment for a ``Created`` intent."""
    return _start(terminal_id, {"sessionType": "Sale", "sale": {"paymentIntentId": payment_intent_id}})


def start_matched_refund(terminal_id: str, payment_intent_id: str, amount: Money) -> Call[TerminalSession]:
    """Refund part or all of a captured intent to the card presented (held at once, confirmed at the card)."""
    detail = {"paymentIntentId": payment_intent_id, "amount": amount.to_wire()}
    return _start(terminal_id, {"sessionType": "MatchedRefund", "matchedRefund": detail})


def start_unlinked_refund(
    terminal_id: str, amount: Money, *, cardholder_not_present: bool | None = None
) -> Call[TerminalSession]:
    """Refund any amount to the card presented, tied to no payment intent."""
    detail: dict[str, Any] = {"amount": amount.to_wire()}
    if cardholder_not_present is not None:
        detail["cardholderNotPresent"] = cardholder_not_present
    return _start(terminal_id, {"sessionType": "UnlinkedRefund", "unlinkedRefund": detail})


def _session(session_id: str, suffix: str = "") -> str:
    return f"{_SESSIONS}/{path_segment(session_id)}{suffix}"


def get_session(session_id: str) -> Call[TerminalSession]:
    return Call(
        "GET", _session(session_id), parser(TerminalSession.from_wire, "TerminalSession"), read_only=True
    )


def cancel_session(session_id: str) -> Call[TerminalSession]:
    """Cancel before a card is presented (after: 422, ``ApiError``)."""
    return Call("PUT", _session(session_id, "/cancel"), parser(TerminalSession.from_wire, "TerminalSession"))


def answer_signature(session_id: str, accepted: bool) -> Call[TerminalSession]:
    """Accept or reject the cardholder's signature (only in ``SignatureVerificationRequired``)."""
    return Call(
        "PUT",
        _session(session_id, "/signature"),
        parser(TerminalSession.from_wire, "TerminalSession"),
        body={"accepted": accepted},
    )


def present_card(
    session_id: str, outcome: str = "Approved", card_number: str | None = None
) -> Call[TerminalSession]:
    """Sandbox: a card at the virtual terminal: ``Approved``, ``Declined`` or ``SignatureRequired``."""
    body: dict[str, Any] = {"outcome": outcome}
    if card_number is not None:
        body["cardNumber"] = card_number
    return Call(
        "POST",
        f"/sandbox/terminal-sessions/{path_segment(session_id)}/present-card",
        parser(TerminalSession.from_wire, "TerminalSession"),
        body=body,
    )


def configure_terminal(
    terminal_id: str,
    *,
    auto_outcome: str | None = None,
    delay_ms: int | None = None,
    offline: bool | None = None,
) -> Call[TerminalSettings]:
    """Sandbox: put a virtual terminal on auto-pilot (every session gets ``auto_outcome`` after
    ``delay_ms``; ``"Off"`` stops it), or set it ``offline``."""
    body: dict[str, Any] = {"autoOutcome": auto_outcome, "delayMs": delay_ms, "offline": offline}
    return Call(
        "POST",
        f"/sandbox/terminals/{path_segment(terminal_id)}",
        parser(TerminalSettings.from_wire, "TerminalSettings"),
        body={name: value for name, value in body.items() if value is not None},
    )
