"""The port of the terminal store (docs/terminals.md), beside ports.py as dashboard_ports.py is."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from payintents.domain.intent import Scope
from payintents.domain.terminal import Terminal, TerminalSession


class TerminalRepository(Protocol):
    def add_terminal(self, terminal: Terminal) -> None: ...
    def list_terminals(self, scope: Scope) -> list[Terminal]: ...
    def get_terminal(self, scope: Scope, terminal_id: str) -> Terminal | None: ...
    def configure_terminal(self, terminal: Terminal) -> None:
        """Store the terminal's sandbox settings (offline, auto-pilot)."""

    def claim_terminal(self, scope: Scope, terminal_id: str, session_id: str, now: datetime) -> bool:
        """Give the terminal to the session if it is online and free (one guarded UPDATE)."""

    def free_terminal(self, terminal_id: str, session_id: str, now: datetime) -> None: ...
    def add_session(self, session: TerminalSession) -> None: ...
    def get_session(self, scope: Scope, session_id: str) -> TerminalSession | None: ...
    def save_session(self, session: TerminalSession) -> None:
        """Save over the version loaded, else raise ConcurrentUpdateError."""

    def sessions_for_intent(self, scope: Scope, intent_id: str) -> list[TerminalSession]: ...
    def latest_on(self, scope: Scope, terminal_id: str) -> TerminalSession | None:
        """The terminal's newest session (what its screen shows)."""

    def held_on(self, scope: Scope, intent_id: str) -> int:
        """What the intent's open matched-refund sessions hold of its refundable amount."""

    def open_sessions(self, limit: int) -> list[TerminalSession]: ...
    def unlinked_refunds(self, scope: Scope, limit: int) -> list[TerminalSession]: ...
    def release_all(self, scope: Scope) -> None:
        """Sandbox reset: the scope's sessions deleted, its terminals free."""
