"""Dojo's terminal API (Pay at Counter) and the sandbox's virtual-terminal driver.

Every answer on Dojo's six terminal paths has Dojo's ``ProblemDetailsTerminals`` error shape
(every member present, null when empty), and every call needs the ``software-house-id`` header;
it and ``reseller-id`` are recorded on the sessions created.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import ValidationError
from payintents.domain.terminal import CardOutcome, SessionType, TerminalSession, TerminalStatus
from payintents.service import terminal_sessions, terminals
from payintents.service.sandbox import require_sandbox
from payintents.service.terminal_sessions import SessionRequest
from payintents.service.terminals import AutoPilot
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, Operation, api_route, json_response
from payintents.web.request_bodies import (
    ConfigureTerminalBody,
    CreateTerminalSessionBody,
    PresentCardBody,
    SignatureBody,
)
from payintents.web.request_schemas import AUTO_PILOT_OFF
from payintents.web.terminal_presenters import present_session, present_terminal

SOFTWARE_HOUSE_HEADER = "software-house-id"
RESELLER_HEADER = "reseller-id"
MAX_HEADER_LENGTH = 100
_DETAIL_FIELDS = {
    SessionType.SALE: "sale",
    SessionType.MATCHED_REFUND: "matchedRefund",
    SessionType.UNLINKED_REFUND: "unlinkedRefund",
}


def _epos_headers(call: ApiCall[Any]) -> tuple[str, str | None]:
    """The EPOS's ``software-house-id`` (required) and ``reseller-id`` (optional)."""
    house = call.request.headers.get(SOFTWARE_HOUSE_HEADER, "").strip()
    reseller = call.request.headers.get(RESELLER_HEADER, "").strip() or None
    errors: dict[str, list[str]] = {}
    if not house or len(house) > MAX_HEADER_LENGTH:
        errors[SOFTWARE_HOUSE_HEADER] = [
            f"The {SOFTWARE_HOUSE_HEADER} header is required (1-100 characters)."
        ]
    if reseller is not None and len(reseller) > MAX_HEADER_LENGTH:
        errors[RESELLER_HEADER] = [f"The {RESELLER_HEADER} header must be at most 100 characters."]
    if errors:
        raise ValidationError(errors)
    return house, reseller


async def list_terminals(call: ApiCall) -> Response:
    _epos_headers(call)
    wanted = _statuses(call.request.query_params.getlist("statuses"))
    found = await terminals.list_terminals(call.deps, call.scope, wanted)
    return json_response([present_terminal(t) for t in found])


def _statuses(raw: list[str]) -> set[TerminalStatus]:
    names = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    known = {status.value.lower(): status for status in TerminalStatus}
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        allowed = ", ".join(s.value for s in TerminalStatus)
        raise ValidationError({"statuses": [f"Unknown terminal status {unknown[0]!r}: use {allowed}."]})
    return {known[name.lower()] for name in names}


async def get_terminal(call: ApiCall) -> Response:
    _epos_headers(call)
    found = await terminals.get_terminal(call.deps, call.scope, call.path_param("terminalId"))
    return json_response(present_terminal(found))


async def create_session(call: ApiCall[CreateTerminalSessionBody]) -> Response:
    house, reseller = _epos_headers(call)
    request = _session_request(call.body, house, reseller)
    session = await terminal_sessions.create_session(call.deps, call.context, call.scope, request)
    return await _session_response(call, session)


def _session_request(body: CreateTerminalSessionBody, house: str, reseller: str | None) -> SessionRequest:
    """Exactly one detail object, the one ``sessionType`` names (else 400)."""
    details = body.details
    given = {
        "sale": details.sale,
        "matchedRefund": details.matched_refund,
        "unlinkedRefund": details.unlinked_refund,
    }
    sent = [name for name, value in given.items() if value is not None]
    expected = _DETAIL_FIELDS[details.session_type]
    if sent != [expected]:
        message = (
            f"A {details.session_type.value} session needs details.{expected} and no other detail object."
        )
        raise ValidationError({f"details.{expected}": [message]})
    amount = None
    if details.matched_refund is not None:
        amount = details.matched_refund.amount
    if details.unlinked_refund is not None:
        amount = details.unlinked_refund.amount
    return SessionRequest(
        terminal_id=body.terminal_id,
        session_type=details.session_type,
        payment_intent_id=(details.sale or details.matched_refund or _NoIntent).payment_intent_id,
        amount=None if amount is None else amount.value,
        currency=None if amount is None else amount.currency_code.value,
        cardholder_not_present=None
        if details.unlinked_refund is None
        else details.unlinked_refund.cardholder_not_present,
        software_house_id=house,
        reseller_id=reseller,
    )


class _NoIntent:
    payment_intent_id = None


async def get_session(call: ApiCall) -> Response:
    _epos_headers(call)
    session = await terminal_sessions.get_session(call.deps, call.scope, call.path_param("terminalSessionId"))
    return await _session_response(call, session)


async def cancel_session(call: ApiCall) -> Response:
    _epos_headers(call)
    session = await terminal_sessions.cancel(call.deps, call.scope, call.path_param("terminalSessionId"))
    return await _session_response(call, session)


async def answer_signature(call: ApiCall[SignatureBody]) -> Response:
    _epos_headers(call)
    session_id = call.path_param("terminalSessionId")
    session = await terminal_sessions.answer_signature(call.deps, call.scope, session_id, call.body.accepted)
    return await _session_response(call, session)


async def present_card(call: ApiCall[PresentCardBody]) -> Response:
    require_sandbox(call.scope)
    number = call.body.card_number
    if number is not None and not number.isdigit():
        raise ValidationError({"cardNumber": ["The cardNumber must be 12 to 19 digits."]})
    session_id = call.path_param("terminalSessionId")
    session = await terminal_sessions.present_card(
        call.deps, call.scope, session_id, call.body.outcome, number
    )
    return await _session_response(call, session)


async def configure_terminal(call: ApiCall[ConfigureTerminalBody]) -> Response:
    require_sandbox(call.scope)
    body = call.body
    auto_pilot = None
    if body.auto_outcome is not None:
        outcome = None if body.auto_outcome == AUTO_PILOT_OFF else CardOutcome(body.auto_outcome)
        auto_pilot = AutoPilot(outcome, body.delay_ms or 0)
    terminal = await terminals.configure_terminal(
        call.deps,
        call.scope,
        call.path_param("terminalId"),
        offline=body.offline,
        auto_pilot=auto_pilot,
        now=call.context.now(call.deps.clock),
    )
    outcome_shown = None if terminal.auto_outcome is None else terminal.auto_outcome.value
    return json_response(
        {**present_terminal(terminal), "autoOutcome": outcome_shown, "delayMs": terminal.auto_delay_ms}
    )


async def _session_response(call: ApiCall[Any], session: TerminalSession) -> Response:
    terminal = await terminals.get_terminal(call.deps, call.scope, session.terminal_id)
    return json_response(present_session(session, terminal.tid))


def complete_problem(response: Response) -> Response:
    """Dojo's ProblemDetailsTerminals: every member present, null when it has nothing to say."""
    if response.status_code < 400 or response.media_type != "application/json":
        return response
    problem = json.loads(bytes(response.body))
    names = ("type", "title", "status", "detail", "traceId", "errors")
    completed = {name: problem.get(name) for name in names}
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in {"content-length", "content-type"}
    }
    return Response(
        json.dumps(completed, separators=(",", ":"), ensure_ascii=False).encode(),
        response.status_code,
        headers=headers,
        media_type="application/json",
    )


def _op(handler: Any, summary: str, success: str, errors: tuple[int, ...], **extra: Any) -> Operation:
    return Operation(
        handler,
        summary=summary,
        success=(200, success),
        errors=errors,
        headers=((SOFTWARE_HOUSE_HEADER, True), (RESELLER_HEADER, False)),
        problem_schema="ProblemDetailsTerminals",
        **extra,
    )


def _sandbox_op(
    handler: Any, summary: str, success: str, errors: tuple[int, ...] = (404,), **extra: Any
) -> Operation:
    return Operation(handler, summary=summary, success=(200, success), errors=errors, extension=True, **extra)


_SESSION = "/terminal-sessions/{terminalSessionId}"
ROUTES: list[Route] = [
    api_route(
        "/terminals",
        finish=complete_problem,
        GET=_op(
            list_terminals,
            "List the account's terminals",
            "TerminalList",
            (),
            query=(
                ("statuses", {"type": "array", "items": {"type": "string", "enum": list(TerminalStatus)}}),
            ),
        ),
    ),
    api_route(
        "/terminals/{terminalId}",
        finish=complete_problem,
        GET=_op(get_terminal, "Retrieve a terminal", "Terminal", (404,)),
    ),
    api_route(
        "/terminal-sessions",
        finish=complete_problem,
        POST=_op(
            create_session,
            "Start a sale or refund on a terminal",
            "TerminalSession",
            (404, 413, 415),
            schema=schemas.CREATE_TERMINAL_SESSION,
            body_required=True,
        ),
    ),
    api_route(
        _SESSION,
        finish=complete_problem,
        GET=_op(get_session, "Retrieve a terminal session", "TerminalSession", (404,)),
    ),
    api_route(
        f"{_SESSION}/cancel",
        finish=complete_problem,
        PUT=_op(
            cancel_session,
            "Cancel a terminal session before a card is presented",
            "TerminalSession",
            (404, 422),
        ),
    ),
    api_route(
        f"{_SESSION}/signature",
        finish=complete_problem,
        PUT=_op(
            answer_signature,
            "Accept or reject the cardholder's signature",
            "TerminalSession",
            (404, 413, 415, 422),
            schema=schemas.SIGNATURE,
            body_required=True,
        ),
    ),
    api_route(
        "/sandbox/terminal-sessions/{terminalSessionId}/present-card",
        POST=_sandbox_op(
            present_card,
            "Present a card at a virtual terminal",
            "TerminalSession",
            (404, 422),
            schema=schemas.PRESENT_CARD,
            body_required=True,
        ),
    ),
    api_route(
        "/sandbox/terminals/{terminalId}",
        POST=_sandbox_op(
            configure_terminal,
            "Set a virtual terminal offline or on auto-pilot",
            "TerminalSettings",
            schema=schemas.CONFIGURE_TERMINAL,
            body_required=True,
        ),
    ),
]
