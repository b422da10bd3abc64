"""The request bodies as a handler reads them: frozen dataclasses, one per schema in
request_schemas.py, built by ``wire.Body`` from the validated body.

Each attribute is the schema's property of the same name in snake_case; a property sent as null
or left out is None. Objects a route reads into are dataclasses here; objects the domain reads from
the stored document (``PaymentIntent.document``: customer, config, item lines...) stay mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents.domain.intent import AutoExpireAction, CaptureMode, Status
from payintents.domain.money import Currency, Money
from payintents.domain.sandbox import FailOperation, FailOutcome
from payintents.domain.terminal import CardOutcome, SessionType

# A JSON object passed on whole, as validated (canonical property names).
Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AmountBody:
    """``{value, currencyCode}``: an amount in minor units and its currency."""

    value: int
    currency_code: Currency

    def as_money(self) -> Money:
        return Money(self.value, self.currency_code)


@dataclass(frozen=True, slots=True)
class CreatePaymentIntentBody:
    amount: AmountBody
    reference: str
    capture_mode: CaptureMode | None
    tips_amount: AmountBody | None
    cashback_amount: AmountBody | None
    service_charge_amount: AmountBody | None
    description: str | None
    customer: Document | None
    billing_address: Document | None
    shipping_details: Document | None
    card_holder_not_present: bool | None
    transaction_source: str | None
    config: Document | None
    request_security: Document | None
    item_lines: tuple[Document, ...] | None
    tax_lines: tuple[Document, ...] | None
    payment_methods: tuple[str, ...] | None
    action_link: Document | None
    expire_at: datetime | None
    auto_expire_in: str | None
    auto_expire_action: AutoExpireAction | None
    metadata: Mapping[str, str] | None
    setup_intent_id: str | None
    order_details: Document | None
    generate_remote_token: bool | None
    is_not_online_checkout: bool | None


@dataclass(frozen=True, slots=True)
class CreateCaptureBody:
    amount: int
    tips_amount: int | None


@dataclass(frozen=True, slots=True)
class CreateRefundBody:
    amount: int
    refund_reason: str | None
    notes: str | None
    previous_transaction_id: str | None


@dataclass(frozen=True, slots=True)
class SetAmountBody:
    amount: AmountBody
    item_lines: tuple[Document, ...] | None
    tax_lines: tuple[Document, ...] | None


@dataclass(frozen=True, slots=True)
class SetTipsBody:
    tips_amount: AmountBody


@dataclass(frozen=True, slots=True)
class SearchCursorBody:
    limit: int | None
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class SearchBody:
    statuses: tuple[Status, ...] | None
    start_date: datetime | None
    end_date: datetime | None
    cursor: SearchCursorBody | None


@dataclass(frozen=True, slots=True)
class PayBody:
    card_number: str
    expiry_date: str
    cvv: str
    card_name: str | None


@dataclass(frozen=True, slots=True)
class SendReceiptBody:
    emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChallengeBody:
    outcome: str

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass(frozen=True, slots=True)
class SubscribeBody:
    events: tuple[str, ...]
    url: str
    description: str | None
    listener: bool | None


@dataclass(frozen=True, slots=True)
class UpdateSubscriptionBody:
    events: tuple[str, ...] | None
    url: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class FailNextBody:
    operation: FailOperation
    outcome: FailOutcome
    delay_ms: int | None


@dataclass(frozen=True, slots=True)
class AdvanceClockBody:
    seconds: int | None
    to: datetime | None


@dataclass(frozen=True, slots=True)
class SaleDetailsBody:
    payment_intent_id: str


@dataclass(frozen=True, slots=True)
class MatchedRefundDetailsBody:
    payment_intent_id: str
    amount: AmountBody | None


@dataclass(frozen=True, slots=True)
class UnlinkedRefundDetailsBody:
    amount: AmountBody
    cardholder_not_present: bool | None


@dataclass(frozen=True, slots=True)
class TerminalSessionDetailsBody:
    session_type: SessionType
    sale: SaleDetailsBody | None
    matched_refund: MatchedRefundDetailsBody | None
    unlinked_refund: UnlinkedRefundDetailsBody | None


@dataclass(frozen=True, slots=True)
class CreateTerminalSessionBody:
    terminal_id: str
    details: TerminalSessionDetailsBody


@dataclass(frozen=True, slots=True)
class SignatureBody:
    accepted: bool


@dataclass(frozen=True, slots=True)
class PresentCardBody:
    outcome: CardOutcome
    card_number: str | None


@dataclass(frozen=True, slots=True)
class ConfigureTerminalBody:
    auto_outcome: str | None
    delay_ms: int | None
    offline: bool | None


@dataclass(frozen=True, slots=True)
class CustomerBody:
    """CreateCustomerRequest and UpdateCustomerRequest: the same properties, all optional."""

    name: str | None
    email_address: str | None
    phone_number: str | None
    vat_number: str | None
    billing_address: Document | None
    shipping_address: Document | None


@dataclass(frozen=True, slots=True)
class SearchCustomersBody:
    limit: int | None
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class CreateSetupIntentBody:
    reference: str
    merchant_initiated_transaction_type: str
    terms: str
    description: str | None
    customer: Document | None
    capture_mode: CaptureMode | None
    payment_methods: tuple[str, ...] | None
    billing_address: Document | None
    shipping_details: Document | None
    config: Document | None
    metadata: Mapping[str, str] | None
    intended_amount: AmountBody | None
    order_details: Document | None
    expire_at: datetime | None


@dataclass(frozen=True, slots=True)
class SaveCardBody:
    """A card sent to the checkout's JSON twin; ``save_card`` asks to keep it for the intent's customer."""

    card_number: str
    expiry_date: str
    cvv: str
    card_name: str | None
    save_card: bool | None


@dataclass(frozen=True, slots=True)
class SavedCardChoiceBody:
    """Extension: the checkout paid with the intent's customer's saved card of this id."""

    payment_method_id: str
