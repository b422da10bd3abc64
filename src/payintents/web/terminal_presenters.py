"""Terminals and terminal sessions rendered as Dojo's JSON (schemas Terminal, TerminalSession)."""

from __future__ import annotations

from typing import Any

from payintents.domain.terminal import SessionType, Terminal, TerminalSession, receipt_lines
from payintents.web.presenters import iso

_DETAIL_NAMES = {
    SessionType.SALE: "sale",
    SessionType.MATCHED_REFUND: "matchedRefund",
    SessionType.UNLINKED_REFUND: "unlinkedRefund",
}


def present_terminal(terminal: Terminal) -> dict[str, Any]:
    return {
        "id": terminal.id,
        "properties": {"tid": terminal.tid},
        "status": terminal.status.value,
        "updatedAt": iso(terminal.updated_at),
    }


def present_session(session: TerminalSession, tid: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": session.id,
        "terminalId": session.terminal_id,
        "status": session.status.value,
        "createdAt": iso(session.created_at),
        "updatedAt": iso(session.updated_at),
        "expireAt": iso(session.expire_at),
        "notificationEvents": [
            {"notificationType": n.kind, "createdAt": iso(n.at)} for n in session.notifications
        ],
        "statusEvents": [
            {"status": e.status.value, "createdAt": iso(e.at), "debugMessage": e.debug_message}
            for e in session.status_events
        ],
        "details": _details(session),
        "paymentDetails": _payment_details(session),
    }
    if session.is_final and session.card:
        lines = receipt_lines(session, tid)
        receipt = {"lines": [_receipt_line(line) for line in lines]}
        body["receipt"] = receipt
    return body


def _receipt_line(text: str) -> dict[str, Any]:
    style = {"size": "SizeBody", "align": "AlignCenter", "emphasisBold": False}
    return {"lineType": "Text", "text": {"value": text, **style}}


def present_session_in_history(session: TerminalSession) -> dict[str, Any]:
    """One entry of an intent's ``terminalSessionHistory`` (Dojo's TerminalSessionHistoryResponse):
    the session, and the card it read once it is final."""
    full = present_session(session)
    shown = ("terminalId", "id", "status", "expireAt", "createdAt", "updatedAt")
    terminal_session = {name: full[name] for name in shown}
    terminal_session |= {name: full[name] for name in ("notificationEvents", "statusEvents", "details")}
    payment = None
    if session.is_final and session.card:
        card = session.card
        payment = {
            "transactionDateTime": iso(session.updated_at),
            "cardNumber": card.get("cardNumber"),
            "expiryDate": card.get("expiryDate"),
            "cardType": card.get("cardType"),
            "entryMode": "Contactless",
        }
    return {"terminalSession": terminal_session, "payment": payment}


def _details(session: TerminalSession) -> dict[str, Any]:
    amount = {"value": session.amount, "currencyCode": session.currency}
    detail: dict[str, Any]
    if session.session_type is SessionType.SALE:
        detail = {"paymentIntentId": session.payment_intent_id}
    elif session.session_type is SessionType.MATCHED_REFUND:
        detail = {"paymentIntentId": session.payment_intent_id, "amount": amount}
    else:
        detail = {"amount": amount}
        if session.cardholder_not_present is not None:
            detail["cardholderNotPresent"] = session.cardholder_not_present
    return {"sessionType": session.session_type.value, _DETAIL_NAMES[session.session_type]: detail}


def _payment_details(session: TerminalSession) -> dict[str, Any] | None:
    """Only once the session is final and a card was read, as Dojo documents."""
    if not session.is_final or not session.card:
        return None
    card = {
        k: session.card[k] for k in ("cardNumber", "expiryDate", "cardType", "last4PAN") if k in session.card
    }
    return {
        "transactionDateTime": iso(session.updated_at),
        "message": session.status.value.upper(),
        "card": {**card, "entryMode": "Contactless"},
    }
