"""Typed request bodies, as frozen dataclasses; ``to_wire()`` renders the JSON the API expects.

Field names are the wire names in snake_case; a field left at ``None`` is not sent. Nested
structures Dojo defines in detail but this client does not interpret (``config``, ``customer``,
addresses, item lines…) are plain mappings in the wire's own camelCase.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from payintents_client.money import Money

__all__ = [
    "AdvanceClockRequest",
    "CreateCaptureRequest",
    "CreatePaymentIntentRequest",
    "CreateRefundRequest",
    "FailNextRequest",
    "SearchCursor",
    "SearchPaymentIntentsRequest",
    "SetAmountRequest",
    "SetTipsAmountRequest",
    "SubscribeRequest",
    "UpdateSubscriptionRequest",
    "camel_case",
]


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _wire_value(value: Any) -> Any:
    if isinstance(value, Money):
        return value.to_wire()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _wire_object(value)
    if isinstance(value, Mapping):
        return {str(k): _wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_value(item) for item in value]
    return value


def _wire_object(request: Any) -> dict[str, Any]:
    return {
        camel_case(f.name): _wire_value(getattr(request, f.name))
        for f in dataclasses.fields(request)
        if getattr(request, f.name) is not None
    }


class _Body:
    __slots__ = ()

    def to_wire(self) -> dict[str, Any]:
        return _wire_object(self)


@dataclasses.dataclass(frozen=True, slots=True)
class CreatePaymentIntentRequest(_Body):
    """``POST /payment-intents``."""

    amount: Money
    reference: str
    capture_mode: str | None = None
    tips_amount: Money | None = None
    cashback_amount: Money | None = None
    service_charge_amount: Money | None = None
    description: str | None = None
    customer: Mapping[str, Any] | None = None
    billing_address: Mapping[str, Any] | None = None
    shipping_details: Mapping[str, Any] | None = None
    card_holder_not_present: bool | None = None
    # ``"MOTO"``, with API version 2022-04-07 only (the server refuses it on later versions).
    transaction_source: str | None = None
    config: Mapping[str, Any] | None = None
    request_security: Mapping[str, Any] | None = None
    item_lines: Sequence[Mapping[str, Any]] | None = None
    tax_lines: Sequence[Mapping[str, Any]] | None = None
    payment_methods: Sequence[str] | None = None
    action_link: Mapping[str, Any] | None = None
    expire_at: datetime | None = None
    auto_expire_in: str | None = None
    auto_expire_action: str | None = None
    metadata: Mapping[str, str] | None = None
    setup_intent_id: str | None = None
    order_details: Mapping[str, Any] | None = None
    generate_remote_token: bool | None = None
    is_not_online_checkout: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CreateCaptureRequest(_Body):
    """``POST /payment-intents/{id}/captures``: plain integers in the intent's currency."""

    amount: int
    tips_amount: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CreateRefundRequest(_Body):
    """``POST /payment-intents/{id}/refunds``: ``amount`` in minor units of the intent's currency."""

    amount: int
    refund_reason: str | None = None
    notes: str | None = None
    previous_transaction_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SetAmountRequest(_Body):
    """``POST /payment-intents/{id}/amount``."""

    amount: Money
    item_lines: Sequence[Mapping[str, Any]] | None = None
    tax_lines: Sequence[Mapping[str, Any]] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SetTipsAmountRequest(_Body):
    """``POST /payment-intents/{id}/tips-amount``."""

    tips_amount: Money


@dataclasses.dataclass(frozen=True, slots=True)
class SearchCursor(_Body):
    """Where a search page starts: ``after`` (older) or ``before`` (newer), never both."""

    limit: int | None = None
    before: str | None = None
    after: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPaymentIntentsRequest(_Body):
    """``POST /payment-intents/search``."""

    statuses: Sequence[str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    cursor: SearchCursor | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SubscribeRequest(_Body):
    """``POST /webhooks``."""

    events: Sequence[str]
    url: str
    description: str | None = None
    listener: bool | None = None  # payintents extension: a ``webhooks listen`` session's own copy


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateSubscriptionRequest(_Body):
    """``PATCH /webhooks/{subscriptionId}``."""

    events: Sequence[str] | None = None
    url: str | None = None
    description: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FailNextRequest(_Body):
    """``POST /sandbox/payment-intents/{id}/fail-next`` (payintents extension)."""

    operation: str
    outcome: str
    delay_ms: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AdvanceClockRequest(_Body):
    """``POST /sandbox/clock/advance`` (payintents extension): exactly one of the two."""

    seconds: int | None = None
    to: datetime | None = None
