"""Virtual card terminals: listing them, adding them (``payintents terminals create``), and the
sandbox's settings of one (offline, auto-pilot). New sandbox accounts start with two."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Environment, Scope
from payintents.domain.terminal import TERMINAL_ID_HEX, CardOutcome, Terminal, TerminalStatus
from payintents.service.dependencies import Dependencies
from payintents.service.ports import UnitOfWork

STARTING_TERMINALS = 2


@dataclass(frozen=True, slots=True)
class AutoPilot:
    """The card every new session on the terminal gets, ``delay_ms`` after it starts (None: off)."""

    outcome: CardOutcome | None
    delay_ms: int = 0


TERMINAL_NOT_FOUND = "The terminal does not exist."
TID_DIGITS = 8


def new_terminal(deps: Dependencies, scope: Scope, now: datetime) -> Terminal:
    """A terminal with Dojo's id shape (``tm_sandbox_`` + 24 hex) and an 8-digit tid."""
    raw = deps.ids.new_uuid().replace("-", "")
    prefix = "tm_sandbox_" if scope.environment is Environment.SANDBOX else "tm_"
    tid = f"{int(raw[TERMINAL_ID_HEX:], 16) % 10**TID_DIGITS:0{TID_DIGITS}d}"
    return Terminal(
        id=prefix + raw[:TERMINAL_ID_HEX],
        scope=scope,
        tid=tid,
        offline=False,
        open_session_id=None,
        updated_at=now,
    )


def add_starting_terminals(deps: Dependencies, uow: UnitOfWork, account_id: str, now: datetime) -> None:
    """A new account's sandbox terminals (production ones come only with a gateway)."""
    scope = Scope(account_id, Environment.SANDBOX)
    for _ in range(STARTING_TERMINALS):
        uow.terminals.add_terminal(new_terminal(deps, scope, now))


def create_terminal(deps: Dependencies, account_id: str, environment: Environment) -> Terminal:
    """``payintents terminals create``: one more terminal for the account."""
    with deps.uow() as uow:
        if not uow.accounts.exists(account_id):
            raise NotFoundError(f"There is no account {account_id}.")
        terminal = new_terminal(deps, Scope(account_id, environment), deps.clock.now())
        uow.terminals.add_terminal(terminal)
        uow.commit()
    return terminal


async def list_terminals(
    deps: Dependencies, scope: Scope, statuses: Collection[TerminalStatus] = ()
) -> list[Terminal]:
    found = await deps.runner().read(lambda uow: uow.terminals.list_terminals(scope))
    return [terminal for terminal in found if not statuses or terminal.status in statuses]


async def get_terminal(deps: Dependencies, scope: Scope, terminal_id: str) -> Terminal:
    found = await deps.runner().read(lambda uow: uow.terminals.get_terminal(scope, terminal_id))
    if found is None:
        raise NotFoundError(TERMINAL_NOT_FOUND)
    return found


async def configure_terminal(
    deps: Dependencies,
    scope: Scope,
    terminal_id: str,
    *,
    offline: bool | None,
    auto_pilot: AutoPilot | None,
    now: datetime,
) -> Terminal:
    """The sandbox's settings: ``offline`` and the auto-pilot (None leaves either as it is)."""

    def unit(uow: UnitOfWork) -> Terminal:
        terminal = uow.terminals.get_terminal(scope, terminal_id)
        if terminal is None:
            raise NotFoundError(TERMINAL_NOT_FOUND)
        if offline is not None:
            terminal.offline = offline
        if auto_pilot is not None:
            terminal.auto_outcome, terminal.auto_delay_ms = auto_pilot.outcome, auto_pilot.delay_ms
        terminal.updated_at = now
        uow.terminals.configure_terminal(terminal)
        return terminal

    return await deps.runner().write(unit)


async def sandbox_now(deps: Dependencies, scope: Scope) -> datetime:
    """Now on the account's clock (the sandbox clock moves sessions' deadlines too)."""
    if scope.environment is not Environment.SANDBOX:
        return deps.clock.now()
    offset: timedelta = await deps.runner().read(lambda uow: uow.sandbox.clock_offset(scope.account_id))
    return deps.clock.now() + offset
