"""Dojo itself as an account's processor and upstream (ADR 0031, 0032).

``DojoProcessor`` moves money at Dojo for the two-phase write: a refund under the operation's
processor key as Dojo's ``idempotencyKey``, a capture, a reversal; it answers the id Dojo gave
what it created. Shoppers pay at Dojo's own page (the intent's ``paymentLink``), so every card
method refuses. ``lookup`` answers only past the operation's deadline, when the request that
made the call has given up on it: before, the caller itself records the answer. A refund is
then sent again under the same key, which Dojo applies at most once: its answer (the refund, or
a refusal: nothing done) is the outcome. A capture or reversal, which Dojo takes no key for, is
judged from the intent at Dojo (its status, and for a capture Dojo's capture of that amount);
one Dojo does not show stays pending a while longer before it is released.

``DojoUpstream`` creates and reads intents at Dojo for the mirror.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from payintents.adapters.dojo_api import (
    DojoApi,
    DojoIntent,
    DojoOutcomeUnknownError,
    DojoRefusedError,
    DojoUnavailableError,
)
from payintents.domain.customer import PaymentMethod
from payintents.domain.intent import PaymentIntent, Status
from payintents.domain.mirror import UpstreamCapture, UpstreamState
from payintents.domain.money_operation import (
    PRIOR_CAPTURE_IDS,
    MoneyOperation,
    OperationKind,
    ProcessorAnswer,
    ProcessorOutcome,
)
from payintents.service.ports import (
    CardResult,
    Clock,
    ProcessorDeclinedError,
    ProcessorOutcomeUnknownError,
    ProcessorUnavailableError,
    SandboxCard,
)
from payintents.service.upstream_ports import UpstreamIntent

T = TypeVar("T")
PAY_AT_DOJO = "This payment intent is paid on Dojo's own page (its paymentLink), not here."
# Dojo's statuses after a capture or a reversal it applied.
CAPTURED = frozenset({"Captured", "Refunded"})
REVERSED = frozenset({"Reversed"})
# How many times its own wait (timeout + margin) a capture or reversal Dojo does not show stays
# pending past its deadline before it is released.
UNSEEN_GRACE = 3


async def translated(call: Awaitable[T]) -> T:
    """Dojo's errors as the processor port's: refused → declined (400 with Dojo's detail);
    nothing done → unavailable (502); maybe done → outcome unknown (stays pending)."""
    try:
        return await call
    except DojoRefusedError as refused:
        raise ProcessorDeclinedError(str(refused)) from None
    except DojoUnavailableError as unavailable:
        raise ProcessorUnavailableError(f"Dojo did not take the request: {unavailable}") from None
    except DojoOutcomeUnknownError as unknown:
        raise ProcessorOutcomeUnknownError(
            f"Dojo's answer was lost ({unknown}); the outcome will be confirmed shortly: retry with "
            "the same idempotency key to get it."
        ) from None


def refund_body(operation: MoneyOperation) -> dict[str, Any]:
    details = operation.details or {}
    body: dict[str, Any] = {"amount": operation.amount}
    for name in ("refundReason", "notes", "previousTransactionId"):
        if details.get(name) is not None:
            body[name] = details[name]
    return body


class DojoProcessor:
    """Money moved at Dojo for one account (its key in ``api``)."""

    sandbox_cards: Sequence[SandboxCard] = ()
    ledger_in_our_store = False

    def __init__(self, api: DojoApi, clock: Clock) -> None:
        self._api = api
        # The clock operations' deadlines are set by.
        self._clock = clock

    async def perform(self, operation: MoneyOperation) -> str | None:
        return await translated(self._send(operation))

    async def _send(self, operation: MoneyOperation) -> str:
        intent_id = operation.intent_id
        if operation.kind is OperationKind.REFUND:
            body = refund_body(operation)
            return (await self._api.refund(intent_id, body, operation.processor_key)).refund_id
        if operation.kind is OperationKind.CAPTURE:
            return await self._api.capture(intent_id, operation.amount, operation.tips_amount)
        if operation.kind is OperationKind.REVERSAL:
            return await self._api.reverse(intent_id)
        raise DojoRefusedError("Merchant-initiated charges through the gateway are not supported.")

    async def lookup(self, operation: MoneyOperation) -> ProcessorAnswer | None:
        if self._clock.now() < operation.deadline_at:
            return None  # the request that called Dojo is still waiting for its answer
        try:
            if operation.kind is OperationKind.REFUND:
                return await self._resend_refund(operation)
            judged = _judged(operation, await self._api.get_intent(operation.intent_id))
            if judged.outcome is not ProcessorOutcome.SUCCEEDED and not self._unseen_long_enough(operation):
                raise DojoOutcomeUnknownError("not seen at Dojo yet")
            return judged
        except (DojoUnavailableError, DojoOutcomeUnknownError) as failed:
            # Cannot tell now: the operation stays pending and is asked about again.
            raise ProcessorUnavailableError(
                f"Dojo could not be asked about {operation.id}: {failed}"
            ) from None

    def _unseen_long_enough(self, operation: MoneyOperation) -> bool:
        """Whether a capture or reversal Dojo does not show may be taken as never done: Dojo takes
        no key for them and could still apply a call that reached it late, so not before
        ``UNSEEN_GRACE`` times the operation's own wait past its deadline."""
        waited = operation.deadline_at - operation.created_at
        return self._clock.now() >= operation.deadline_at + UNSEEN_GRACE * waited

    async def _resend_refund(self, operation: MoneyOperation) -> ProcessorAnswer:
        try:
            refund = await self._api.refund(
                operation.intent_id, refund_body(operation), operation.processor_key
            )
        except DojoRefusedError:
            return ProcessorAnswer(ProcessorOutcome.DECLINED)
        return ProcessorAnswer(ProcessorOutcome.SUCCEEDED, refund.refund_id)

    # --- shoppers pay at Dojo ----------------------------------------------------------------

    async def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        raise ProcessorDeclinedError(PAY_AT_DOJO)

    async def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult:
        raise ProcessorDeclinedError(PAY_AT_DOJO)

    async def authorize_saved_card(self, intent: PaymentIntent, method: PaymentMethod) -> CardResult:
        raise ProcessorDeclinedError(PAY_AT_DOJO)

    async def verify_card(self, card_number: str, expiry: str, cvv: str) -> CardResult:
        raise ProcessorDeclinedError(PAY_AT_DOJO)

    async def complete_verification(self, card: dict[str, str], passed: bool) -> CardResult:
        raise ProcessorDeclinedError(PAY_AT_DOJO)


def _judged(operation: MoneyOperation, at_dojo: DojoIntent) -> ProcessorAnswer:
    """A capture or reversal, from the status it leaves at Dojo. A capture takes the id of Dojo's
    latest capture of its amount (tips missing or 0 alike) that the intent did not have before it:
    captures of one intent never run side by side here, so that is this one, and the mirror then
    holds Dojo's id (following Dojo never adds it twice). A
    reversal keeps our id (Dojo's intent does not show its reversal's)."""
    if operation.kind is OperationKind.REVERSAL:
        reversed_at_dojo = at_dojo.status in REVERSED
        return ProcessorAnswer(ProcessorOutcome.SUCCEEDED if reversed_at_dojo else ProcessorOutcome.DECLINED)
    prior = set((operation.details or {}).get(PRIOR_CAPTURE_IDS) or ())
    same = [
        capture
        for capture in at_dojo.body.get("captures") or []
        if _capture_id(capture) not in prior
        and capture.get("amount") == operation.amount
        and (capture.get("tipsAmount") or 0) == (operation.tips_amount or 0)
    ]
    if at_dojo.status not in CAPTURED or not same:
        return ProcessorAnswer(ProcessorOutcome.DECLINED)
    return ProcessorAnswer(ProcessorOutcome.SUCCEEDED, _capture_id(same[-1]))


def _capture_id(capture: Mapping[str, Any]) -> str:
    return str(capture.get("id") or capture.get("captureId"))


class DojoUpstream:
    """An account's Dojo: intents created and read there, money moved through ``processor``."""

    def __init__(self, api: DojoApi, clock: Clock) -> None:
        self._api = api
        self._processor = DojoProcessor(api, clock)

    @property
    def processor(self) -> DojoProcessor:
        return self._processor

    async def create_intent(self, body: Mapping[str, Any], version: str) -> UpstreamIntent:
        return _mirrored(await translated(self._api.create_intent(body, version)))

    async def get_intent(self, intent_id: str) -> UpstreamIntent:
        return _mirrored(await translated(self._api.get_intent(intent_id)))

    async def cancel_intent(self, intent_id: str) -> UpstreamIntent:
        return _mirrored(await translated(self._api.cancel_intent(intent_id)))


def _mirrored(at_dojo: DojoIntent) -> UpstreamIntent:
    body = at_dojo.body
    captures = tuple(
        UpstreamCapture(_capture_id(c), int(c["amount"]), c.get("tipsAmount"))
        for c in body.get("captures") or []
    )
    try:
        status = Status(at_dojo.status)
    except ValueError:
        status = Status.CREATED  # a status this server does not know: nothing to follow
    state = UpstreamState(at_dojo.id, status, captures, body.get("paymentDetails") or None)
    return UpstreamIntent(at_dojo.id, state, body, at_dojo.captured_amount, at_dojo.refunded_amount)
