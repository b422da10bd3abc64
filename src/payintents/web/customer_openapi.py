"""JSON Schemas of what the customer, saved-card, setup-intent and charge operations answer, for
/openapi.json (merged with openapi_schemas.RESPONSE_SCHEMAS)."""

from __future__ import annotations

from payintents.domain.setup_intent import SetupIntentStatus
from payintents.web.customer_presenters import MERCHANT_CONFIG
from payintents.web.openapi_schemas import (
    CAPTURE_STATUSES,
    DATE_TIME,
    NULLABLE_STRING,
    STRING,
    JsonSchema,
    echoed,
    obj,
    ref,
)
from payintents.web.request_schemas import ADDRESS, CREATE_SETUP_INTENT, CUSTOMER, SHIPPING
from payintents.web.wire import Obj, enum_values

_SETUP_REQUEST = CREATE_SETUP_INTENT.shape.fields
_MONEY = echoed(_SETUP_REQUEST["intendedAmount"].check.json_schema)
_CARD = obj({"pan": STRING, "expiryDate": STRING, "scheme": STRING}, ["pan", "expiryDate", "scheme"])
_EVENT = obj(
    {
        "transactionId": STRING,
        "transactionDateTime": DATE_TIME,
        "eventType": {"type": "string", "enum": ["AuthChallenged", "Declined", "Authorized"]},
        "cardNumber": STRING,
        "expiryDate": STRING,
        "cardType": STRING,
        "cardholderName": STRING,
        "paymentMethodId": STRING,
        "message": {**STRING, "x-payintents-extension": True},
    },
    ["eventType", "transactionDateTime"],
)
_SETUP_PUBLIC: dict[str, JsonSchema] = {
    "id": STRING,
    "clientSessionSecret": STRING,
    "clientSessionSecretExpirationDate": DATE_TIME,
    "status": {"type": "string", "enum": list(enum_values(SetupIntentStatus))},
    "paymentMethods": {"type": "array", "items": STRING},
    "customer": echoed(
        Obj({n: CUSTOMER.fields[n] for n in ("id", "emailAddress", "phoneNumber")}).json_schema
    ),
    "createdAt": DATE_TIME,
    "updatedAt": DATE_TIME,
    "expireAt": DATE_TIME,
    "reference": STRING,
    "description": STRING,
    "billingAddress": echoed(ADDRESS.json_schema),
    "shippingDetails": echoed(SHIPPING.json_schema),
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "terms": STRING,
    "merchantConfig": ref("MerchantConfig"),
    "config": echoed(_SETUP_REQUEST["config"].check.json_schema),
    "paymentDetails": obj(
        {
            "transactionId": STRING,
            "transactionDateTime": DATE_TIME,
            "message": STRING,
            "paymentMethodId": STRING,
            "card": obj(
                {name: STRING for name in ("cardNumber", "cardName", "expiryDate", "cardType", "last4PAN")}
            ),
        }
    ),
    "intendedAmount": _MONEY,
    "merchantInitiatedTransactionType": STRING,
    "paymentSource": STRING,
}
_SETUP_REQUIRED = [
    "id",
    "status",
    "createdAt",
    "updatedAt",
    "expireAt",
    "reference",
    "merchantInitiatedTransactionType",
]

CUSTOMER_SCHEMAS: dict[str, JsonSchema] = {
    "CustomerFull": obj(
        {
            "id": STRING,
            "name": STRING,
            "shippingAddress": echoed(ADDRESS.json_schema),
            "billingAddress": echoed(ADDRESS.json_schema),
            "emailAddress": STRING,
            "phoneNumber": STRING,
            "vatNumber": STRING,
            "createdAt": DATE_TIME,
            "updatedAt": DATE_TIME,
            "documentVersion": {"type": "integer", "format": "int32"},
        },
        ["id", "createdAt", "updatedAt", "documentVersion"],
    ),
    "CustomerList": {"type": "array", "items": ref("CustomerFull")},
    "CustomerSecret": obj(
        {"secret": STRING, "createdAt": DATE_TIME, "expireAt": DATE_TIME}, ["secret", "createdAt", "expireAt"]
    ),
    "PagedCustomer": obj(
        {
            "data": {"type": "array", "items": ref("CustomerFull")},
            "before": NULLABLE_STRING,
            "after": NULLABLE_STRING,
        },
        ["data"],
    ),
    "CustomerPaymentMethods": obj(
        {
            "customerId": STRING,
            "merchantId": STRING,
            "savedPaymentMethods": {
                "type": "array",
                "items": obj({"id": STRING, "cardDetails": _CARD}, ["id", "cardDetails"]),
            },
            "supportedPaymentMethods": obj(
                {
                    name: {"type": "array", "items": STRING}
                    for name in MERCHANT_CONFIG["supportedPaymentMethods"]
                },
                list(MERCHANT_CONFIG["supportedPaymentMethods"]),
            ),
        },
        ["customerId", "merchantId", "savedPaymentMethods", "supportedPaymentMethods"],
    ),
    "SetupIntentPublic": obj(_SETUP_PUBLIC, _SETUP_REQUIRED),
    "SetupIntent": obj(
        {"setupEvents": {"type": "array", "items": _EVENT}, **_SETUP_PUBLIC},
        ["setupEvents", *_SETUP_REQUIRED],
    ),
    "ChargeResponse": obj(
        {
            "paymentIntentId": STRING,
            "status": {"type": "string", "enum": CAPTURE_STATUSES},
            "message": STRING,
        },
        ["paymentIntentId", "status", "message"],
    ),
}
