"""The built-in sandbox processor: Dojo's published test cards, and approval of captures and refunds."""

from __future__ import annotations

from payintents.domain.intent import PaymentIntent, Scope
from payintents.service.ports import CardResult

SUCCESS_CARD = "5200000000001005"
CHALLENGE_CARD = "5200000000001096"
DECLINED_CARD = "4456530000001013"

_SCHEMES = {"4": "VISA", "5": "MASTERCARD"}


def card_summary(number: str, expiry: str) -> dict[str, str]:
    """The masked card block Dojo shows in ``paymentDetails.card`` (``44565300****1096``)."""
    return {
        "cardNumber": f"{number[:8]}****{number[-4:]}",
        "expiryDate": expiry,
        "cardType": _SCHEMES.get(number[:1], "UNKNOWN"),
        "last4PAN": number[-4:],
    }


class SandboxProcessor:
    """Approves the success cards, declines the decline card, challenges the 3DS card."""

    def authorize(self, intent: PaymentIntent, card_number: str, expiry: str, cvv: str) -> CardResult:
        card = card_summary(card_number, expiry)
        if card_number == SUCCESS_CARD:
            return CardResult("approved", card)
        if card_number == CHALLENGE_CARD:
            return CardResult("challenge", card)
        # Any other number, including the documented decline card, is declined.
        return CardResult("declined", card)

    def complete_challenge(self, intent: PaymentIntent, passed: bool) -> CardResult:
        # The card is the one that was challenged, remembered on the AuthChallenged event.
        challenged = [e.card for e in intent.events if e.event_type == "AuthChallenged" and e.card]
        card = dict(challenged[-1]) if challenged else {}
        return CardResult("approved" if passed else "declined", card)

    def capture(self, intent: PaymentIntent, amount: int) -> None:
        return None

    def refund(self, scope: Scope, intent_id: str, amount: int) -> None:
        return None
