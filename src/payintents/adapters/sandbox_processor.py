"""The built-in sandbox processor: Dojo's published test cards, and captures, refunds and reversals
kept in a ledger of its own, so that it answers a repeated call or a lookup by key as a real
acquirer would (ADR 0026)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from payintents.domain.card import mask_card_number, shown_last_digits
from payintents.domain.customer import PaymentMethod, expiry_as_month
from payintents.domain.intent import PaymentIntent
from payintents.domain.money_operation import MoneyOperation, OperationKind, ProcessorAnswer, ProcessorOutcome
from payintents.domain.sandbox import FailOutcome
from payintents.service.ports import (
    CardResult,
    Clock,
    ProcessorDeclinedError,
    ProcessorTimeoutError,
    ProcessorUnavailableError,
    SandboxCard,
    TransactionRunner,
    UnitOfWork,
)

SUCCESS_CARD = "5200000000001005"
CHALLENGE_CARD = "5200000000001096"
DECLINED_CARD = "4456530000001013"
# Our own test cards beyond Dojo's three (docs/sandbox.md).
DECLINE_REASONS = {
    DECLINED_CARD: "DECLINED",
    "4111110000000051": "INSUFFICIENT FUNDS",
    "4111110000000069": "EXPIRED CARD",
}
PROCESSOR_ERROR_CARD = "4111110000000119"
TIMEOUT_CARD = "4111110000000127"
# Saved without trouble, but every merchant-initiated charge of it is declined (ADR 0028).
CHARGE_DECLINED_CARD = "4111110000000135"
# The tokens of saved sandbox cards: what a later merchant-initiated charge does.
APPROVING_TOKEN = "sandbox-card:approves"  # noqa: S105 (a test card's behaviour, no secret)
DECLINING_TOKEN = "sandbox-card:declines-charges"  # noqa: S105

_SCHEMES = {"4": "VISA", "5": "MASTERCARD"}
CHALLENGE_FAILED = "AUTHENTICATION FAILED"

# What the checkout page offers, in the order a developer tries them; expiry and CVV as Dojo
# publishes them for its own three (any future expiry and any CVV will do).
SANDBOX_CARDS = (
    SandboxCard(SUCCESS_CARD, "12/29", "020", "Succeeds"),
    SandboxCard(CHALLENGE_CARD, "12/29", "020", "Asks for 3-D Secure"),
    SandboxCard(DECLINED_CARD, "12/29", "341", "Declined"),
    SandboxCard("4111110000000051", "12/29", "123", "Declined: insufficient funds"),
    SandboxCard(PROCESSOR_ERROR_CARD, "12/29", "123", "Processor error"),
    SandboxCard(TIMEOUT_CARD, "12/29", "123", "Processor timeout"),
    SandboxCard(CHARGE_DECLINED_CARD, "12/29", "123", "Succeeds; saved, later charges are declined"),
)


def card_summary(number: str, expiry: str) -> dict[str, str]:
    """The masked card block Dojo shows in ``paymentDetails.card`` (``445653******1096``)."""
    return {
        "cardNumber": mask_card_number(number),
        "expiryDate": expiry,
        "cardType": _SCHEMES.get(number[:1], "UNKNOWN"),
        "last4PAN": shown_last_digits(number),
    }


class SandboxProcessor:
    """Dojo's test cards plus ours: approvals, 3DS, declines with reasons, errors and timeouts."""

    sandbox_cards = SANDBOX_CARDS

    def __init__(
        self,
        timeout_s: float = 5.0,
        ledger: Ledger | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._timeout_s = timeout_s
        self._ledger = ledger or MemoryLedger()
        self._sleep = sleep

    async def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        verified = await self.verify_card(card_number, expiry, cvv)
        if verified.outcome == "challenge" and intent.document.get("cardHolderNotPresent"):
            # A cardholder-not-present (MOTO) payment has nobody to authenticate: no 3-D Secure.
            return await self.complete_verification(verified.card, passed=True)
        return verified

    async def authorize_saved_card(self, intent: PaymentIntent, method: PaymentMethod) -> CardResult:
        # The token says what the saved test card does, as for a merchant-initiated charge.
        saved = method.card
        card = {
            "cardNumber": saved.pan,
            "expiryDate": expiry_as_month(saved.expiry_date),
            "cardType": saved.scheme,
            "last4PAN": shown_last_digits(saved.pan),
        }
        if method.processor_token == APPROVING_TOKEN:
            return CardResult("approved", card, method.processor_token)
        return CardResult("declined", {**card, "message": "DECLINED"})

    async def verify_card(self, card_number: str, expiry: str, cvv: str) -> CardResult:
        card = card_summary(card_number, expiry)
        if card_number in (SUCCESS_CARD, CHARGE_DECLINED_CARD):
            token = DECLINING_TOKEN if card_number == CHARGE_DECLINED_CARD else APPROVING_TOKEN
            return CardResult("approved", card, token)
        if card_number == CHALLENGE_CARD:
            return CardResult("challenge", card, APPROVING_TOKEN)
        if card_number == PROCESSOR_ERROR_CARD:
            raise ProcessorUnavailableError("The card processor failed (sandbox test card); nothing changed.")
        if card_number == TIMEOUT_CARD:
            # A pause on the event loop: a shopper waiting here holds no thread.
            await self._sleep(self._timeout_s)
            raise ProcessorTimeoutError("The card processor did not answer in time (sandbox test card).")
        # Any other number is declined, with the reason of our test cards where there is one.
        return CardResult("declined", {**card, "message": DECLINE_REASONS.get(card_number, "DECLINED")})

    async def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult:
        # The card is the one that was challenged, remembered on the AuthChallenged event.
        challenged = [e.card for e in intent.events if e.event_type == "AuthChallenged" and e.card]
        card = dict(challenged[-1]) if challenged else {}
        return await self.complete_verification(card, passed)

    async def complete_verification(self, card: dict[str, str], passed: bool) -> CardResult:
        if not passed:
            return CardResult("declined", {**card, "message": CHALLENGE_FAILED})
        # Only the challenge card asks for 3-D Secure, and it approves.
        return CardResult("approved", card, APPROVING_TOKEN)

    async def perform(self, operation: MoneyOperation) -> None:
        # Applied first, answered after: a "slow" answer is late, not the work (service/fault_injection.py).
        asked = _outcome_asked(operation)
        stands = await self._ledger.record(operation.processor_key, operation, asked)
        _answer(stands, operation.kind)

    async def lookup(self, operation: MoneyOperation) -> ProcessorAnswer | None:
        found = await self._ledger.find(operation.processor_key)
        return None if found is None else ProcessorAnswer(found)

    @property
    def ledger_in_our_store(self) -> bool:
        return self._ledger.in_our_store


class Ledger(Protocol):
    """Where the sandbox processor remembers what it did under each key."""

    # Whether it is written into the server's own database (Processor.ledger_in_our_store).
    in_our_store: bool

    async def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome
    ) -> ProcessorOutcome:
        """Write ``outcome`` unless ``key`` is known; the outcome that stands."""

    async def find(self, key: str) -> ProcessorOutcome | None: ...


class MemoryLedger:
    """A ledger that lasts as long as the process: for a processor built without a database."""

    in_our_store = False

    def __init__(self) -> None:
        self._outcomes: dict[str, ProcessorOutcome] = {}

    async def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome
    ) -> ProcessorOutcome:
        return self._outcomes.setdefault(key, outcome)

    async def find(self, key: str) -> ProcessorOutcome | None:
        return self._outcomes.get(key)


class StoredLedger:
    """The ledger in its own table, each entry written in a short transaction of its own, as an
    external processor's would be: it survives a crash of the server that called it.

    An entry needs no flush to disk of its own (ADR 0030): it is written after the operation's
    reservation and before its record, and the record's durable commit carries it to disk. A
    crash of the database that lost the entry lost the record with it, and the reconciler then
    finds a call the processor never received, and releases it: the two agree.
    """

    in_our_store = True

    def __init__(self, runner: TransactionRunner, clock: Clock) -> None:
        self._runner = runner
        # The clock the operations' deadlines were set by.
        self._clock = clock

    async def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome
    ) -> ProcessorOutcome:
        def write(uow: UnitOfWork) -> ProcessorOutcome:
            now = self._clock.now()
            # A new call that reaches the ledger at or after its deadline (its caller gave up, and
            # the reconciler may already have asked) is refused, never applied.
            if now >= operation.deadline_at and uow.processor_ledger.find(key) is None:
                raise ProcessorTimeoutError("The card processor received the operation after its deadline.")
            return uow.processor_ledger.record(key, operation, outcome, now)

        return await self._runner.write(write, durable=False)

    async def find(self, key: str) -> ProcessorOutcome | None:
        return await self._runner.read(lambda uow: uow.processor_ledger.find(key))


def _outcome_asked(operation: MoneyOperation) -> ProcessorOutcome:
    injected = operation.injected
    if injected is None or injected.outcome is FailOutcome.SLOW:
        token = (operation.details or {}).get("processorToken")
        if operation.kind is OperationKind.CHARGE and token != APPROVING_TOKEN:
            return ProcessorOutcome.DECLINED
        return ProcessorOutcome.SUCCEEDED
    if injected.outcome is FailOutcome.DECLINED:
        return ProcessorOutcome.DECLINED
    return ProcessorOutcome.FAILED


def _answer(outcome: ProcessorOutcome, kind: OperationKind) -> None:
    """Fail the way the test asked, or return: the operation succeeded."""
    if outcome is ProcessorOutcome.DECLINED:
        raise ProcessorDeclinedError(
            f"The card processor declined the {kind} (sandbox: fail-next declined, or a saved test "
            "card whose charges are declined)."
        )
    if outcome is ProcessorOutcome.FAILED:
        raise ProcessorUnavailableError(
            f"The card processor failed to process the {kind} (sandbox: fail-next processor_error); "
            "nothing was changed, retry with the same idempotency key."
        )
