"""The built-in sandbox processor: Dojo's published test cards, and approval of captures and refunds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from payintents.domain.card import mask_card_number, shown_last_digits
from payintents.domain.intent import PaymentIntent, Scope
from payintents.domain.sandbox import FailOutcome, InjectedFailure
from payintents.service.ports import (
    CardResult,
    ProcessorDeclinedError,
    ProcessorTimeoutError,
    ProcessorUnavailableError,
    SandboxCard,
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
        self, timeout_s: float = 5.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self._timeout_s = timeout_s
        self._sleep = sleep

    async def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        card = card_summary(card_number, expiry)
        if card_number == SUCCESS_CARD:
            return CardResult("approved", card)
        if card_number == CHALLENGE_CARD:
            return CardResult("challenge", card)
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
        if not passed:
            return CardResult("declined", {**card, "message": CHALLENGE_FAILED})
        return CardResult("approved", card)

    def capture(self, intent: PaymentIntent, amount: int, injected: InjectedFailure | None = None) -> None:
        _obey(injected, "capture")

    def refund(
        self, scope: Scope, intent_id: str, amount: int, injected: InjectedFailure | None = None
    ) -> None:
        _obey(injected, "refund")


def _obey(injected: InjectedFailure | None, what: str) -> None:
    """Fail the way the test asked ("slow" was already waited out by the service)."""
    if injected is None or injected.outcome is FailOutcome.SLOW:
        return
    if injected.outcome is FailOutcome.DECLINED:
        raise ProcessorDeclinedError(f"The card processor declined the {what} (sandbox: fail-next declined).")
    raise ProcessorUnavailableError(
        f"The card processor failed to process the {what} (sandbox: fail-next processor_error); "
        "nothing was changed, retry with the same idempotency key."
    )
