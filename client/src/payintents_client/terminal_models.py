"""What Dojo's terminal API answers (Pay at Counter): terminals and terminal sessions.

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
    opt_str,
    parsed_list,
    req_datetime,
    req_str,
)
from payintents_client.models import _raw
from payintents_client.money import Money

__all__ = ["Terminal", "TerminalSession"]


@dataclass(frozen=True, slots=True)
class Terminal:
    """A card terminal: ``Available``, ``InUse`` while a session holds it, or ``Offline``."""

    id: str
    tid: str
    status: str
    updated_at: datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Terminal:
        properties = as_object(data.get("properties"), "properties")
        return cls(
            req_str(data, "id"),
            req_str(properties, "tid"),
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
class TerminalSession:
    """A sale or refund on a terminal; ``status`` ends at ``Captured`` when it succeeded.

    ``notifications`` are what the terminal's screen showed, oldest first (``PresentCard``,
    ``Approved`` …); ``statuses`` every status the session went through.
    """

    id: str
    terminal_id: str
    status: str
    session_type: str
    payment_intent_id: str | None
    amount: Money | None
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    notifications: tuple[str, ...]
    statuses: tuple[str, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> TerminalSession:
        details = as_object(data.get("details"), "details")
        kind = req_str(details, "sessionType")
        detail = as_object(details.get(kind[:1].lower() + kind[1:]), kind)
        amount = None if detail.get("amount") is None else Money.from_wire(detail["amount"])
        return cls(
            id=req_str(data, "id"),
            terminal_id=req_str(data, "terminalId"),
            status=req_str(data, "status"),
            session_type=kind,
            payment_intent_id=opt_str(detail, "paymentIntentId"),
            amount=amount,
            created_at=req_datetime(data, "createdAt"),
            updated_at=req_datetime(data, "updatedAt"),
            expire_at=req_datetime(data, "expireAt"),
            notifications=tuple(
                str(e["notificationType"]) for e in parsed_list(data, "notificationEvents", dict)
            ),
            statuses=tuple(str(e["status"]) for e in parsed_list(data, "statusEvents", dict)),
            raw=data,
        )
