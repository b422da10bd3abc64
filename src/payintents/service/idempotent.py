"""Running a write exactly once: claim the idempotency key, act, store the answer, commit.

All four steps are one unit of work, run by the transaction runner (``Dependencies.runner``) in one
transaction, so a crash leaves either everything or nothing, and a rejected request (any
DomainError) rolls back its key as well: it may be retried with the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from payintents.domain.idempotency import StoredResponse, replay
from payintents.domain.intent import Scope
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ConcurrentUpdateError, RequestContext, StoreBusyError, UnitOfWork

T = TypeVar("T")

# Retries for writes that lost a race: a version check (intents) or, for refunds, a capture that
# committed between the guarded UPDATE and the re-read. Three is plenty: each retry re-reads.
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A caller's key (or None), what it is scoped to, and the fingerprint of the request."""

    key: str | None
    target: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Answer:
    response: StoredResponse
    replayed: bool


class _ReplayError(Exception):
    """The key was used before: the stored answer, and nothing to commit (its unit rolls back)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("replayed")
        self.answer = answer


Action = Callable[[UnitOfWork, datetime], T]
Render = Callable[[T], StoredResponse]


async def execute_once(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    request: IdempotentRequest,
    action: Action[T],
    render: Render[T],
) -> Answer:
    """Run ``action`` in one transaction, at the request's time, at most once per idempotency key."""

    def unit(uow: UnitOfWork) -> Answer:
        now = ctx.now(deps.clock)
        if request.key is not None:
            record = uow.idempotency.claim(scope, request.target, request.key, request.fingerprint, now)
            if record is not None:
                raise _ReplayError(Answer(replay(record, request.fingerprint), replayed=True))
        response = render(action(uow, now))
        if request.key is not None:
            uow.idempotency.complete(scope, request.target, request.key, response)
        return Answer(response, replayed=False)

    for _ in range(MAX_ATTEMPTS):
        try:
            return await deps.runner().write(unit)
        except _ReplayError as replayed:
            return replayed.answer
        except ConcurrentUpdateError:
            continue
    raise StoreBusyError("the object kept changing under this request")


class _UnusedKeyError(Exception):
    """The key is not stored: the claim made to find out is rolled back."""


async def stored_answer(
    deps: Dependencies, ctx: RequestContext, scope: Scope, request: IdempotentRequest
) -> Answer | None:
    """The answer stored for the caller's key (a replay, or a 409 for another body), or None when
    the key is unused; claims nothing. For work done elsewhere before ``execute_once`` runs."""
    if request.key is None:
        return None
    key = request.key

    def unit(uow: UnitOfWork) -> Answer:
        record = uow.idempotency.claim(scope, request.target, key, request.fingerprint, ctx.now(deps.clock))
        if record is None:
            raise _UnusedKeyError
        raise _ReplayError(Answer(replay(record, request.fingerprint), replayed=True))

    try:
        return await deps.runner().write(unit)
    except _ReplayError as replayed:
        return replayed.answer
    except _UnusedKeyError:
        return None
