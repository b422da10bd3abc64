"""The virtual card terminals in the dashboard (sandbox only): a list of the account's terminals
with its unlinked refunds, and a page per terminal drawn as a card machine. Its screen shows
what the terminal's newest session shows (Dojo's notification events), refreshed by polling a
small JSON view; its buttons present a card (approve, decline, ask for a signature) through the
same use case as the sandbox API's ``present-card``, so a person testing an EPOS by hand can be
the customer. Production sessions get 404, like the sandbox API.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from anyio import from_thread
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Environment
from payintents.domain.terminal import CardOutcome, TerminalSession
from payintents.service import terminal_sessions, terminals
from payintents.web.dashboard.pages import BASE, Visit, page, redirect

SANDBOX_ONLY = "The virtual terminals are part of the sandbox: switch to sandbox to use them."
UNLINKED_SHOWN = 50
# What the screen says for each of Dojo's notification types (and when nothing is going on).
SCREEN_TEXT = {
    "PresentCard": "PRESENT CARD",
    "KeyCardNumber": "KEY CARD NUMBER",
    "SignatureVerification": "SIGNATURE VERIFICATION",
    "Approved": "APPROVED",
    "Declined": "DECLINED",
    "Canceled": "CANCELED",
    "Expired": "EXPIRED",
}
IDLE = "READY"
_T = TypeVar("_T")


def _on_loop(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run an async use case from the page's worker thread on the server's event loop."""
    return from_thread.run(work)


def _refuse_production(visit: Visit) -> Response | None:
    if visit.session.environment is not Environment.SANDBOX:
        return visit.error(404, SANDBOX_ONLY)
    return None


def list_page(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    found = _on_loop(lambda: terminals.list_terminals(visit.deps, visit.scope))
    unlinked = _on_loop(lambda: terminal_sessions.unlinked_refunds(visit.deps, visit.scope, UNLINKED_SHOWN))
    return visit.render("terminals.html", nav="terminals", terminals=found, unlinked=unlinked)


def terminal_page(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    terminal_id = str(visit.request.path_params["terminalId"])
    terminal = _on_loop(lambda: terminals.get_terminal(visit.deps, visit.scope, terminal_id))
    screen = _screen(_on_loop(lambda: terminal_sessions.screen_of(visit.deps, visit.scope, terminal_id)))
    return visit.render("terminal.html", nav="terminals", terminal=terminal, screen=screen)


def screen_state(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    terminal_id = str(visit.request.path_params["terminalId"])
    session = _on_loop(lambda: terminal_sessions.screen_of(visit.deps, visit.scope, terminal_id))
    return JSONResponse(_screen(session), headers={"Cache-Control": "no-store"})


def present_card(visit: Visit) -> Response:
    if refused := _refuse_production(visit):
        return refused
    terminal_id = str(visit.request.path_params["terminalId"])
    outcomes = {outcome.value: outcome for outcome in CardOutcome}
    outcome = outcomes.get(visit.form.get("outcome", ""))
    session = _on_loop(lambda: terminal_sessions.screen_of(visit.deps, visit.scope, terminal_id))
    if outcome is None or session is None:
        raise NotFoundError("There is no session on this terminal waiting for a card.")
    session_id = session.id
    _on_loop(lambda: terminal_sessions.present_card(visit.deps, visit.scope, session_id, outcome, None))
    return redirect(f"{BASE}/terminals/{terminal_id}")


def _screen(session: TerminalSession | None) -> dict[str, Any]:
    """What the screen shows: the last notification, the session's amount and what it is."""
    if session is None:
        return {"text": IDLE, "amount": "", "kind": "", "status": "", "waiting": False}
    shown = session.notifications[-1].kind if session.notifications else ""
    return {
        "text": SCREEN_TEXT.get(shown, IDLE if session.is_final else "PLEASE WAIT"),
        "amount": f"{session.currency} {session.amount / 100:.2f}",
        "kind": session.session_type.value,
        "status": session.status.value,
        "waiting": not session.is_final,
    }


ROUTES = [
    Route("/terminals", page(list_page), methods=["GET"]),
    Route("/terminals/{terminalId}", page(terminal_page), methods=["GET"]),
    Route("/terminals/{terminalId}/screen", page(screen_state), methods=["GET"]),
    Route("/terminals/{terminalId}/card", page(present_card), methods=["POST"]),
]
