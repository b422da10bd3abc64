"""JSON Schemas of what the API answers, for /openapi.json (requests come from ``wire`` rules).

Request objects the server echoes back (addresses, lines, config, …) are described by the same
``wire`` rules that validated them, minus ``nullable``: the echo leaves nulls out.
"""

from __future__ import annotations

from typing import Any

from payintents.domain.intent import AutoExpireAction, CaptureMode, Status
from payintents.domain.money import Currency
from payintents.web.presenters import ECHOED_CUSTOMER_FIELDS, SUPPORTED_CARD_SCHEMES, SUPPORTED_WALLETS
from payintents.web.request_schemas import CREATE_PAYMENT_INTENT_SHAPE, CUSTOMER, ITEM_LINE, TAX_LINE
from payintents.web.wire import Obj, enum_values

JsonSchema = dict[str, Any]


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, JsonSchema], required: list[str] | None = None) -> JsonSchema:
    """A closed object: the server never answers a property its document does not list."""
    schema: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def echoed(schema: JsonSchema) -> JsonSchema:
    """A request rule's schema, for the same object answered back without its nulls."""
    result = {key: value for key, value in schema.items() if key != "nullable"}
    if "properties" in schema:
        result["properties"] = {name: echoed(item) for name, item in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        result["items"] = echoed(schema["items"])
    return result


def _echoed_field(name: str) -> JsonSchema:
    return echoed(CREATE_PAYMENT_INTENT_SHAPE.fields[name].check.json_schema)


def _echoed_customer() -> JsonSchema:
    return echoed(Obj({name: CUSTOMER.fields[name] for name in ECHOED_CUSTOMER_FIELDS}).json_schema)


STRING: JsonSchema = {"type": "string"}
NULLABLE_STRING: JsonSchema = {"type": "string", "nullable": True}
DATE_TIME: JsonSchema = {"type": "string", "format": "date-time"}
INT64: JsonSchema = {"type": "integer", "format": "int64"}
FREE_OBJECT: JsonSchema = {"type": "object", "additionalProperties": True}
CAPTURE_STATUSES = ["Created", "Successful", "Declined", "Failed"]

RESPONSE_SCHEMAS: dict[str, JsonSchema] = {
    "Problem": obj(
        {
            "type": STRING,
            "title": STRING,
            "status": {"type": "integer", "format": "int32"},
            "detail": STRING,
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": STRING}},
            "traceId": {"type": "string", "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-01$"},
        },
        ["type", "title", "status", "traceId"],
    ),
    "Money": obj(
        {"value": INT64, "currencyCode": {"type": "string", "enum": list(enum_values(Currency))}},
        ["value", "currencyCode"],
    ),
    "CaptureDetails": obj(
        {
            "id": STRING,
            "amount": INT64,
            "tipsAmount": INT64,
            "status": {"type": "string", "enum": CAPTURE_STATUSES},
            "createdAt": DATE_TIME,
        },
        ["id", "amount", "status", "createdAt"],
    ),
    "PaymentEvent": obj(
        {
            "eventType": STRING,
            "transactionDateTime": DATE_TIME,
            "transactionId": STRING,
            "cardNumber": STRING,
            "expiryDate": STRING,
            "cardType": STRING,
            "cardholderName": STRING,
            "message": STRING,
        },
        ["eventType", "transactionDateTime"],
    ),
    "PaymentIntent": obj(
        {
            "id": STRING,
            "captureMode": {"type": "string", "enum": list(enum_values(CaptureMode))},
            "cardHolderNotPresent": {"type": "boolean"},
            "clientSessionSecret": STRING,
            "clientSessionSecretExpirationDate": DATE_TIME,
            "paymentDetails": ref("PaymentDetails"),
            "status": {"type": "string", "enum": list(enum_values(Status))},
            "paymentMethods": {"type": "array", "items": STRING},
            "amount": ref("Money"),
            "tipsAmount": ref("Money"),
            "requestedAmount": ref("Money"),
            "totalAmount": ref("Money"),
            "cashbackAmount": ref("Money"),
            "serviceChargeAmount": ref("Money"),
            "refundedAmount": INT64,
            "createdAt": DATE_TIME,
            "updatedAt": DATE_TIME,
            "reference": STRING,
            "description": STRING,
            "itemLines": {"type": "array", "items": echoed(ITEM_LINE.json_schema)},
            "taxLines": {"type": "array", "items": echoed(TAX_LINE.json_schema)},
            "customer": _echoed_customer(),
            "requestSecurity": _echoed_field("requestSecurity"),
            "billingAddress": _echoed_field("billingAddress"),
            "shippingDetails": _echoed_field("shippingDetails"),
            "actionLink": _echoed_field("actionLink"),
            "metadata": {"type": "object", "additionalProperties": STRING},
            "orderDetails": _echoed_field("orderDetails"),
            "setupIntentId": STRING,
            "merchantConfig": ref("MerchantConfig"),
            "config": _echoed_field("config"),
            "paymentSource": STRING,
            "autoExpireAction": {"type": "string", "enum": list(enum_values(AutoExpireAction))},
            "expireAt": DATE_TIME,
            "autoExpireIn": {"type": "string", "format": "timespan"},
            "paymentEvents": {"type": "array", "items": ref("PaymentEvent")},
            "paymentLink": {"type": "string", "format": "uri"},
            # GET /payment-intents/{id} lists the intent's terminal sessions; other answers: [].
            "terminalSessionHistory": {"type": "array", "items": ref("TerminalSessionHistoryEntry")},
            "captures": {"type": "array", "items": ref("CaptureDetails")},
        },
        [
            "id",
            "captureMode",
            "status",
            "amount",
            "totalAmount",
            "refundedAmount",
            "createdAt",
            "updatedAt",
            "reference",
        ],
    ),
    # Both shapes in one object: from 2024-02-05 on, transactionId and the nested card are always
    # there; a 2022-04-07 caller gets the card's fields flat instead (web/legacy_shapes.py).
    "PaymentDetails": {
        **obj(
            {
                "transactionId": STRING,
                "transactionDateTime": DATE_TIME,
                "message": STRING,
                "paymentMethodId": {**STRING, "description": "The saved card that paid, if one did."},
                "card": obj(
                    {
                        "cardNumber": STRING,
                        "cardName": STRING,
                        "expiryDate": STRING,
                        "cardType": STRING,
                        "last4PAN": STRING,
                    }
                ),
                **{
                    name: {**STRING, "description": "Version 2022-04-07 only: the card's field, flat."}
                    for name in ("cardNumber", "cardName", "expiryDate", "cardType")
                },
            },
            ["transactionDateTime", "message"],
        ),
        "description": "Version 2022-04-07 answers the flat legacy shape (cardNumber, cardName, "
        "expiryDate, cardType beside the payment's fields); later versions transactionId and card.",
    },
    "MerchantConfig": obj(
        {
            "supportedPaymentMethods": obj(
                {
                    "cardSchemes": {
                        "type": "array",
                        "items": {"type": "string", "enum": SUPPORTED_CARD_SCHEMES},
                    },
                    "wallets": {"type": "array", "items": {"type": "string", "enum": SUPPORTED_WALLETS}},
                },
                ["cardSchemes", "wallets"],
            )
        },
        ["supportedPaymentMethods"],
    ),
    "PagedPaymentIntent": obj(
        {
            "data": {"type": "array", "items": ref("PaymentIntent")},
            "before": NULLABLE_STRING,
            "after": NULLABLE_STRING,
        },
        ["data"],
    ),
    "Capture": obj({"message": STRING, "captureId": STRING}, ["message", "captureId"]),
    "Reversal": obj({"message": STRING, "reversalId": STRING}, ["message", "reversalId"]),
    "Refund": obj(
        {
            "paymentIntentId": STRING,
            "refundId": STRING,
            "refundReason": NULLABLE_STRING,
            "notes": NULLABLE_STRING,
        },
        ["paymentIntentId", "refundId", "refundReason", "notes"],
    ),
    "RefundCreated": obj(
        {
            "paymentIntentId": STRING,
            "refundId": STRING,
            "refundReason": NULLABLE_STRING,
            "notes": NULLABLE_STRING,
            "message": STRING,
        },
        ["paymentIntentId", "refundId", "refundReason", "notes", "message"],
    ),
    "RefundList": obj(
        {
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "refundId": STRING,
                        "amount": INT64,
                        "refundReason": NULLABLE_STRING,
                        "notes": NULLABLE_STRING,
                        "createdAt": DATE_TIME,
                    },
                    ["refundId", "amount", "refundReason", "notes", "createdAt"],
                ),
            }
        },
        ["data"],
    ),
    "WebhookEvents": {
        "type": "array",
        "items": obj({"model": STRING, "events": {"type": "array", "items": STRING}}, ["model", "events"]),
    },
    "SubscriptionSecret": obj(
        {
            "id": STRING,
            "value": STRING,
            "createdAt": DATE_TIME,
            "isActive": {"type": "boolean"},
            "lastUsedAt": DATE_TIME,
        },
        ["id", "value", "createdAt", "isActive"],
    ),
    "Subscription": obj(
        {
            "id": STRING,
            "accountId": STRING,
            "events": {"type": "array", "items": STRING},
            "url": {"type": "string", "format": "uri", "minLength": 1, "maxLength": 2048},
            "description": NULLABLE_STRING,
            "secrets": {"type": "array", "items": ref("SubscriptionSecret")},
            "createdAt": DATE_TIME,
            "updatedAt": DATE_TIME,
            "disabledAt": DATE_TIME,
            "listener": {"type": "boolean", "enum": [True], "x-payintents-extension": True},
            "expiresAt": {**DATE_TIME, "x-payintents-extension": True},
        },
        ["id", "accountId", "events", "url", "secrets", "createdAt", "updatedAt"],
    ),
    "SubscriptionList": {"type": "array", "items": ref("Subscription")},
    "SecretsResponse": obj(
        {"id": STRING, "secrets": {"type": "array", "items": ref("SubscriptionSecret")}}, ["id", "secrets"]
    ),
    "DeliveryList": obj(
        {
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "eventId": STRING,
                        "event": STRING,
                        "status": {"type": "string", "enum": ["pending", "delivered", "failed", "disabled"]},
                        "nextAttemptAt": {"type": "string", "format": "date-time", "nullable": True},
                        "attempts": {"type": "array", "items": FREE_OBJECT},
                    },
                    ["eventId", "event", "status", "attempts"],
                ),
            }
        },
        ["data"],
    ),
    "RetryScheduled": obj({"eventId": STRING, "deliveriesScheduled": {"type": "integer"}}, ["eventId"]),
    "FailNext": obj(
        {"paymentIntentId": STRING, "operation": STRING, "outcome": STRING, "delayMs": {"type": "integer"}},
        ["paymentIntentId", "operation", "outcome", "delayMs"],
    ),
    "SandboxClock": obj({"now": DATE_TIME, "offsetSeconds": {"type": "number"}}, ["now", "offsetSeconds"]),
    "ClockAdvanced": obj(
        {
            "now": DATE_TIME,
            "offsetSeconds": {"type": "number"},
            "intentsExpired": {"type": "integer"},
            "keysReaped": {"type": "integer"},
            "webhookRetriesMoved": {"type": "integer"},
        },
        ["now", "offsetSeconds", "intentsExpired", "keysReaped", "webhookRetriesMoved"],
    ),
    "Reset": obj({"deleted": {"type": "integer"}}, ["deleted"]),
    "ReceiptList": obj(
        {
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "id": STRING,
                        "paymentIntentId": STRING,
                        "recipients": {"type": "array", "items": STRING},
                        "subject": STRING,
                        "text": STRING,
                        "html": STRING,
                        "createdAt": DATE_TIME,
                    },
                    ["id", "paymentIntentId", "recipients", "subject", "text", "html", "createdAt"],
                ),
            }
        },
        ["data"],
    ),
    "RequestLog": obj(
        {
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "traceId": STRING,
                        "at": DATE_TIME,
                        "method": STRING,
                        "path": STRING,
                        "status": {"type": "integer"},
                        "durationMs": {"type": "integer"},
                        "idempotencyKey": NULLABLE_STRING,
                        "replayed": {"type": "boolean"},
                        "paymentIntentId": NULLABLE_STRING,
                        "requestBody": STRING,
                        "responseBody": STRING,
                    },
                    # Every entry carries them all (null where the type allows it).
                    [
                        "traceId",
                        "at",
                        "method",
                        "path",
                        "status",
                        "durationMs",
                        "idempotencyKey",
                        "replayed",
                        "paymentIntentId",
                        "requestBody",
                        "responseBody",
                    ],
                ),
            }
        },
        ["data"],
    ),
}
