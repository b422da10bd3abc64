"""Terminals and terminal sessions in SQL.

A terminal is claimed by a session with one guarded UPDATE (free, online), so two sessions racing
for one terminal cannot both get it; a session is saved only over the version it was loaded at.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select, update

from payintents.adapters.sql.schema import terminal_sessions, terminals
from payintents.adapters.sql.statements import in_bound_scope, in_scope, scope_params
from payintents.domain.intent import Environment, Scope
from payintents.domain.terminal import (
    CardOutcome,
    Notification,
    SessionStatus,
    SessionType,
    StatusEvent,
    Terminal,
    TerminalSession,
)
from payintents.service.ports import ConcurrentUpdateError

# Every read of a payment intent asks for its sessions: built once (statements.py).
SESSIONS_FOR_INTENT = (
    select(terminal_sessions)
    .where(in_bound_scope(terminal_sessions), terminal_sessions.c.payment_intent_id == bindparam("intent_id"))
    .order_by(terminal_sessions.c.created_at, terminal_sessions.c.id)
)


class SqlTerminalRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_terminal(self, terminal: Terminal) -> None:
        self._conn.execute(
            terminals.insert().values(
                id=terminal.id,
                account_id=terminal.scope.account_id,
                environment=terminal.scope.environment.value,
                tid=terminal.tid,
                offline=terminal.offline,
                created_at=terminal.updated_at,
                updated_at=terminal.updated_at,
            )
        )

    def list_terminals(self, scope: Scope) -> list[Terminal]:
        rows = self._conn.execute(
            select(terminals)
            .where(in_scope(terminals, scope))
            .order_by(terminals.c.created_at, terminals.c.id)
        ).mappings()
        return [_terminal(row) for row in rows]

    def get_terminal(self, scope: Scope, terminal_id: str) -> Terminal | None:
        row = (
            self._conn.execute(
                select(terminals).where(in_scope(terminals, scope), terminals.c.id == terminal_id)
            )
            .mappings()
            .first()
        )
        return None if row is None else _terminal(row)

    def configure_terminal(self, terminal: Terminal) -> None:
        """Store the sandbox settings (offline, auto-pilot) of ``terminal``."""
        self._conn.execute(
            update(terminals)
            .where(terminals.c.id == terminal.id)
            .values(
                offline=terminal.offline,
                auto_outcome=None if terminal.auto_outcome is None else terminal.auto_outcome.value,
                auto_delay_ms=terminal.auto_delay_ms,
                updated_at=terminal.updated_at,
            )
        )

    def claim_terminal(self, scope: Scope, terminal_id: str, session_id: str, now: datetime) -> bool:
        """Give the terminal to the session if it is online and free; False otherwise."""
        claimed = self._conn.execute(
            update(terminals)
            .where(
                in_scope(terminals, scope),
                terminals.c.id == terminal_id,
                terminals.c.open_session_id.is_(None),
                terminals.c.offline.is_(False),
            )
            .values(open_session_id=session_id, updated_at=now)
        )
        return claimed.rowcount == 1

    def free_terminal(self, terminal_id: str, session_id: str, now: datetime) -> None:
        self._conn.execute(
            update(terminals)
            .where(terminals.c.id == terminal_id, terminals.c.open_session_id == session_id)
            .values(open_session_id=None, updated_at=now)
        )

    def add_session(self, session: TerminalSession) -> None:
        self._conn.execute(terminal_sessions.insert().values(_session_values(session)))

    def get_session(self, scope: Scope, session_id: str) -> TerminalSession | None:
        row = (
            self._conn.execute(
                select(terminal_sessions).where(
                    in_scope(terminal_sessions, scope), terminal_sessions.c.id == session_id
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _session(row)

    def save_session(self, session: TerminalSession) -> None:
        """Save over the version loaded; another writer got there first → ConcurrentUpdateError."""
        saved = self._conn.execute(
            update(terminal_sessions)
            .where(terminal_sessions.c.id == session.id, terminal_sessions.c.version == session.version)
            .values(_session_values(session, version=session.version + 1))
        )
        if saved.rowcount != 1:
            raise ConcurrentUpdateError(f"terminal session {session.id} changed meanwhile")
        session.version += 1

    def sessions_for_intent(self, scope: Scope, intent_id: str) -> list[TerminalSession]:
        params = {**scope_params(scope), "intent_id": intent_id}
        return [_session(row) for row in self._conn.execute(SESSIONS_FOR_INTENT, params).mappings()]

    def latest_on(self, scope: Scope, terminal_id: str) -> TerminalSession | None:
        """The terminal's newest session (what its screen shows)."""
        row = (
            self._conn.execute(
                select(terminal_sessions)
                .where(in_scope(terminal_sessions, scope), terminal_sessions.c.terminal_id == terminal_id)
                .order_by(terminal_sessions.c.created_at.desc(), terminal_sessions.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return None if row is None else _session(row)

    def held_on(self, scope: Scope, intent_id: str) -> int:
        """What the intent's open matched-refund sessions hold of its refundable amount."""
        held = self._conn.execute(
            select(func.coalesce(func.sum(terminal_sessions.c.held_amount), 0)).where(
                in_scope(terminal_sessions, scope), terminal_sessions.c.payment_intent_id == intent_id
            )
        ).scalar_one()
        return int(held)

    def open_sessions(self, limit: int) -> list[TerminalSession]:
        """Unfinished sessions of every account, least recently changed first (housekeeping)."""
        rows = self._conn.execute(
            select(terminal_sessions)
            .where(terminal_sessions.c.finished.is_(False))
            .order_by(terminal_sessions.c.updated_at)
            .limit(limit)
        ).mappings()
        return [_session(row) for row in rows]

    def unlinked_refunds(self, scope: Scope, limit: int) -> list[TerminalSession]:
        rows = self._conn.execute(
            select(terminal_sessions)
            .where(
                in_scope(terminal_sessions, scope),
                terminal_sessions.c.session_type == SessionType.UNLINKED_REFUND.value,
            )
            .order_by(terminal_sessions.c.created_at.desc())
            .limit(limit)
        ).mappings()
        return [_session(row) for row in rows]

    def release_all(self, scope: Scope) -> None:
        """Sandbox reset: every session of the scope gone, its terminals free again."""
        self._conn.execute(update(terminals).where(in_scope(terminals, scope)).values(open_session_id=None))
        self._conn.execute(terminal_sessions.delete().where(in_scope(terminal_sessions, scope)))


def _terminal(row: RowMapping) -> Terminal:
    return Terminal(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        tid=row["tid"],
        offline=bool(row["offline"]),
        open_session_id=row["open_session_id"],
        updated_at=row["updated_at"],
        auto_outcome=None if row["auto_outcome"] is None else CardOutcome(row["auto_outcome"]),
        auto_delay_ms=row["auto_delay_ms"],
    )


def _session_values(session: TerminalSession, version: int | None = None) -> dict[str, Any]:
    history = {
        "statusEvents": [[e.status.value, e.at.isoformat(), e.debug_message] for e in session.status_events],
        "notifications": [[n.kind, n.at.isoformat()] for n in session.notifications],
        "card": session.card,
    }
    return {
        "id": session.id,
        "account_id": session.scope.account_id,
        "environment": session.scope.environment.value,
        "terminal_id": session.terminal_id,
        "session_type": session.session_type.value,
        "payment_intent_id": session.payment_intent_id,
        "amount": session.amount,
        "currency": session.currency,
        "status": session.status.value,
        "held_amount": session.held_amount,
        "operation_id": session.operation_id,
        "software_house_id": session.software_house_id,
        "reseller_id": session.reseller_id,
        "cardholder_not_present": session.cardholder_not_present,
        "history": json.dumps(history, separators=(",", ":")),
        "version": session.version if version is None else version,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "expire_at": session.expire_at,
        "signature_due_at": session.signature_due_at,
        "finished": session.is_final,
    }


def _session(row: RowMapping) -> TerminalSession:
    history = json.loads(row["history"])
    return TerminalSession(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        terminal_id=row["terminal_id"],
        session_type=SessionType(row["session_type"]),
        amount=row["amount"],
        currency=row["currency"],
        status=SessionStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expire_at=row["expire_at"],
        software_house_id=row["software_house_id"],
        reseller_id=row["reseller_id"],
        payment_intent_id=row["payment_intent_id"],
        cardholder_not_present=row["cardholder_not_present"],
        held_amount=row["held_amount"],
        version=row["version"],
        operation_id=row["operation_id"],
        card=history["card"],
        signature_due_at=row["signature_due_at"],
        status_events=[
            StatusEvent(SessionStatus(s), datetime.fromisoformat(at), msg)
            for s, at, msg in history["statusEvents"]
        ],
        notifications=[
            Notification(kind, datetime.fromisoformat(at)) for kind, at in history["notifications"]
        ],
    )
