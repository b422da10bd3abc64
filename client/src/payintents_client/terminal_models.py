"""What Dojo's terminal API answers (Pay at Counter): terminals and terminal sessions, and the
sandbox's terminal settings.

The models follow ``models``' rules: snake_case wire names, required fields without defaults,
unknown members ignored and the whole answer kept in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents_client._parse import (
    JsonObject,
    ResponseFormatError,
    as_object,
    opt_int,
    opt_str,
    parsed_list,
    req_datetime,
    req_str,
)
from payintents_client.models import _raw
from payintents_client.money import Money

__all__ = ["Terminal", "TerminalSession", "TerminalSettings"]


@dataclass(frozen=True, slots=True)
class TerminalProperties:
    tid: str

    @classmethod
    def from_wire(cls, data: JsonObject) -> TerminalProperties:
        return cls(req_str(data, "tid"))


@dataclass(frozen=True, slots=True)
class Terminal:
    """A card terminal: ``Available``, ``InUse`` while a session holds it, or ``Offline``."""

    id: str
    properties: TerminalProperties
    status: str
    updated_at: datetime
    raw: Mapping[str, Any] = _raw()

    @property
    def tid(self) -> str:
        return self.properties.tid

    @classmethod
    def from_wire(cls, data: JsonObject) -> Terminal:
        properties = TerminalProperties.from_wire(as_object(data.get("properties"), "properties"))
        return cls(
            req_str(data, "id"),
            properties,
            req_str(data, "status"),
            req_datetime(data, "updatedAt"),
            raw=data,
        )


def terminal_list(data: Any) -> tuple[Terminal, ...]:
    """``GET /terminals`` answers a bare JSON array."""
    if not isinstance(data, list):
        raise ResponseFormatError("the terminal list is not a list")
    return tuple(Terminal.from_wire(as_object(item, "Terminal")) for item in data)


@dataclass(frozen=True, slots=True)
class TerminalSettings:
    """A virtual terminal's sandbox settings: the auto-pilot's card (None: off) and its delay."""

    id: str
    properties: TerminalProperties
    status: str
    updated_at: datetime
    auto_outcome: str | None
    delay_ms: int | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> TerminalSettings:
        terminal = Terminal.from_wire(data)
        return cls(
            terminal.id,
            terminal.properties,
            terminal.status,
            terminal.updated_at,
            opt_str(data, "autoOutcome"),
            opt_int(data, "delayMs"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What the terminal's screen showed (``PresentCard``, ``Approved`` …), and when."""

    notification_type: str
    created_at: datetime

    @classmethod
    def from_wire(cls, data: JsonObject) -> NotificationEvent:
        return cls(req_str(data, "notificationType"), req_datetime(data, "createdAt"))


@dataclass(frozen=True, slots=True)
class SessionStatusEvent:
    status: str
    created_at: datetime
    debug_message: str

    @classmethod
    def from_wire(cls, data: JsonObject) -> SessionStatusEvent:
        return cls(req_str(data, "status"), req_datetime(data, "createdAt"), req_str(data, "debugMessage"))


@dataclass(frozen=True, slots=True)
class TerminalSession:
    """A sale or refund on a terminal; ``status`` ends at ``Captured`` when it succeeded.
    ``details`` is the session request's details as the server answers them."""

    id: str
    terminal_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    notification_events: tuple[NotificationEvent, ...]
    status_events: tuple[SessionStatusEvent, ...]
    details: Mapping[str, Any] | None = None
    receipt: Mapping[str, Any] | None = None
    payment_details: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def session_type(self) -> str:
        return str((self.details or {}).get("sessionType", ""))

    def _detail(self) -> Mapping[str, Any]:
        kind = self.session_type
        found = (self.details or {}).get(kind[:1].lower() + kind[1:]) if kind else None
        return found if isinstance(found, Mapping) else {}

    @property
    def payment_intent_id(self) -> str | None:
        found = self._detail().get("paymentIntentId")
        return None if found is None else str(found)

    @property
    def amount(self) -> Money | None:
        found = self._detail().get("amount")
        return None if found is None else Money.from_wire(found)

    @property
    def notifications(self) -> tuple[str, ...]:
        return tuple(event.notification_type for event in self.notification_events)

    @classmethod
    def from_wire(cls, data: JsonObject) -> TerminalSession:
        return cls(
            id=req_str(data, "id"),
            terminal_id=req_str(data, "terminalId"),
            status=req_str(data, "status"),
            created_at=req_datetime(data, "createdAt"),
            updated_at=req_datetime(data, "updatedAt"),
            expire_at=req_datetime(data, "expireAt"),
            notification_events=parsed_list(data, "notificationEvents", NotificationEvent.from_wire),
            status_events=parsed_list(data, "statusEvents", SessionStatusEvent.from_wire),
            details=_opt_object(data, "details"),
            receipt=_opt_object(data, "receipt"),
            payment_details=_opt_object(data, "paymentDetails"),
            raw=data,
        )


def _opt_object(data: JsonObject, name: str) -> Mapping[str, Any] | None:
    return None if data.get(name) is None else as_object(data[name], name)
