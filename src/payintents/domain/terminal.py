"""Virtual card terminals and their sessions (Dojo's Pay at Counter), as pure data and rules.

A terminal belongs to one (account, environment). It is ``InUse`` while a session holds it and
``Offline`` when the sandbox says so. A session asks the terminal for one card transaction: a
``Sale`` of a payment intent, a ``MatchedRefund`` of part of a captured intent, or an
``UnlinkedRefund`` of any amount. The functions below move a session through Dojo's statuses and
say what the terminal's screen shows; the service layer decides when (the card, the clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payintents.domain.errors import DomainError
from payintents.domain.intent import Scope

# How long a session waits for a card before it expires, and for the EPOS's signature answer
# before the signature counts as accepted (Dojo documents the automatic acceptance).
CARD_WAIT = timedelta(minutes=5)
SIGNATURE_WAIT = timedelta(seconds=80)
# Dojo's terminal ids are 24 hex characters after the prefix; its tids are 8 characters.
TERMINAL_ID_HEX = 24


class TerminalStatus(StrEnum):
    AVAILABLE = "Available"
    OFFLINE = "Offline"
    IN_USE = "InUse"


class SessionType(StrEnum):
    SALE = "Sale"
    MATCHED_REFUND = "MatchedRefund"
    UNLINKED_REFUND = "UnlinkedRefund"


class SessionStatus(StrEnum):
    INITIATE_REQUESTED = "InitiateRequested"
    INITIATED = "Initiated"
    AUTHORIZED = "Authorized"
    CAPTURED = "Captured"
    CANCEL_REQUESTED = "CancelRequested"
    CANCELED = "Canceled"
    SIGNATURE_ACCEPTED = "SignatureVerificationAccepted"
    SIGNATURE_REJECTED = "SignatureVerificationRejected"
    SIGNATURE_REQUIRED = "SignatureVerificationRequired"
    EXPIRED = "Expired"
    DECLINED = "Declined"


class CardOutcome(StrEnum):
    """What the customer's card does at the virtual terminal (the sandbox's driver)."""

    APPROVED = "Approved"
    DECLINED = "Declined"
    SIGNATURE_REQUIRED = "SignatureRequired"


# Statuses in which the terminal still waits for a card: the session can be canceled.
WAITING_FOR_CARD = frozenset({SessionStatus.INITIATE_REQUESTED, SessionStatus.INITIATED})
FINAL = frozenset(
    {
        SessionStatus.AUTHORIZED,
        SessionStatus.CAPTURED,
        SessionStatus.CANCELED,
        SessionStatus.SIGNATURE_REJECTED,
        SessionStatus.EXPIRED,
        SessionStatus.DECLINED,
    }
)


class SessionStateError(DomainError):
    """The session is in a state where this action is not possible (HTTP 422, as Dojo declares)."""


@dataclass(slots=True)
class Terminal:
    id: str
    scope: Scope
    tid: str
    offline: bool
    open_session_id: str | None
    updated_at: datetime
    # The sandbox's auto-pilot: the outcome every new session gets after ``auto_delay_ms``.
    auto_outcome: CardOutcome | None = None
    auto_delay_ms: int = 0

    @property
    def status(self) -> TerminalStatus:
        if self.offline:
            return TerminalStatus.OFFLINE
        return TerminalStatus.IN_USE if self.open_session_id else TerminalStatus.AVAILABLE


@dataclass(frozen=True, slots=True)
class StatusEvent:
    status: SessionStatus
    at: datetime
    debug_message: str


@dataclass(frozen=True, slots=True)
class Notification:
    """What the terminal's screen showed, and when (Dojo's notificationType)."""

    kind: str
    at: datetime


@dataclass(slots=True)
class TerminalSession:
    id: str
    scope: Scope
    terminal_id: str
    session_type: SessionType
    amount: int
    currency: str
    status: SessionStatus
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    software_house_id: str
    reseller_id: str | None
    payment_intent_id: str | None = None
    cardholder_not_present: bool | None = None
    # A matched refund's reservation on its intent while no money operation holds it yet.
    held_amount: int = 0
    version: int = 0
    operation_id: str | None = None
    card: dict[str, Any] | None = None
    signature_due_at: datetime | None = None
    status_events: list[StatusEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def move(self, status: SessionStatus, at: datetime, debug_message: str, shows: str | None = None) -> None:
        self.status = status
        self.updated_at = at
        self.status_events.append(StatusEvent(status, at, debug_message))
        if shows is not None:
            self.notifications.append(Notification(shows, at))


def open_session(session: TerminalSession) -> None:
    """A new session: asked of the terminal, which shows nothing yet."""
    session.status_events.append(StatusEvent(session.status, session.created_at, "Session requested."))


def initiate(session: TerminalSession, now: datetime) -> None:
    """The terminal took the session and asks for a card."""
    if session.status is SessionStatus.INITIATE_REQUESTED:
        prompt = "KeyCardNumber" if session.cardholder_not_present else "PresentCard"
        session.move(SessionStatus.INITIATED, now, "The terminal is waiting for a card.", prompt)


def ensure_waiting_for_card(session: TerminalSession) -> None:
    if session.status not in WAITING_FOR_CARD:
        raise SessionStateError(
            f"The terminal session is {session.status.value}: a card can no longer be presented."
        )


def request_cancel(session: TerminalSession, now: datetime) -> None:
    if session.status not in WAITING_FOR_CARD:
        raise SessionStateError(
            f"The terminal session is {session.status.value}: it can be canceled only before a card "
            "is presented."
        )
    session.move(SessionStatus.CANCEL_REQUESTED, now, "Cancel requested by the EPOS.")


def finish_cancel(session: TerminalSession, now: datetime) -> None:
    session.move(SessionStatus.CANCELED, now, "Canceled before a card was presented.", "Canceled")


def expire(session: TerminalSession, now: datetime) -> None:
    session.move(SessionStatus.EXPIRED, now, "No card was presented before expireAt.", "Expired")


def decline(session: TerminalSession, now: datetime, card: dict[str, Any] | None) -> None:
    session.card = card
    session.move(SessionStatus.DECLINED, now, "The card was declined.", "Declined")


def approve(session: TerminalSession, now: datetime, card: dict[str, Any] | None, captured: bool) -> None:
    session.card = card if card is not None else session.card
    status = SessionStatus.CAPTURED if captured else SessionStatus.AUTHORIZED
    session.move(status, now, "The card was approved.", "Approved")


def require_signature(session: TerminalSession, now: datetime, card: dict[str, Any]) -> None:
    session.card = card
    session.signature_due_at = now + SIGNATURE_WAIT
    session.expire_at = max(session.expire_at, session.signature_due_at)
    session.move(
        SessionStatus.SIGNATURE_REQUIRED,
        now,
        "The card needs the cardholder's signature.",
        "SignatureVerification",
    )


def ensure_signature_pending(session: TerminalSession) -> None:
    if session.status is not SessionStatus.SIGNATURE_REQUIRED:
        raise SessionStateError(
            f"The terminal session is {session.status.value}: no signature is waiting for verification."
        )


def accept_signature(session: TerminalSession, now: datetime, debug_message: str) -> None:
    session.move(SessionStatus.SIGNATURE_ACCEPTED, now, debug_message)


def reject_signature(session: TerminalSession, now: datetime) -> None:
    session.move(
        SessionStatus.SIGNATURE_REJECTED,
        now,
        "The signature was rejected; the payment was reversed.",
        "Declined",
    )


def receipt_lines(session: TerminalSession, tid: str) -> list[str]:
    """The receipt's text lines: what a printed slip of this session would say."""
    kind = {
        SessionType.SALE: "SALE",
        SessionType.MATCHED_REFUND: "REFUND",
        SessionType.UNLINKED_REFUND: "REFUND",
    }
    lines = [f"TID: {tid}", kind[session.session_type], f"{session.currency} {session.amount / 100:.2f}"]
    if session.card:
        lines.append(f"CARD: {session.card.get('cardNumber', '')}")
    lines.append(session.status.value.upper())
    return lines
