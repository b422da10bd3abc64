"""JSON Schemas of the terminal API's answers (Dojo's Terminal, TerminalSession and
ProblemDetailsTerminals) and of the sandbox's terminal settings, for /openapi.json."""

from __future__ import annotations

from payintents.domain.terminal import CardOutcome, SessionStatus, SessionType, TerminalStatus
from payintents.web.openapi_schemas import (
    DATE_TIME,
    NULLABLE_STRING,
    STRING,
    JsonSchema,
    obj,
    ref,
)
from payintents.web.wire import enum_values

_MONEY = ref("Money")
_SESSION_STATUS: JsonSchema = {"type": "string", "enum": list(enum_values(SessionStatus))}
_RECEIPT_TEXT = obj(
    {
        "value": STRING,
        "size": {"type": "string", "enum": ["SizeHeader1", "SizeHeader2", "SizeBody"]},
        "align": {"type": "string", "enum": ["AlignLeft", "AlignCenter", "AlignRight"]},
        "emphasisBold": {"type": "boolean"},
    },
    ["value", "size", "align", "emphasisBold"],
)
_RECEIPT_LINE = obj({"lineType": {"type": "string", "enum": ["Text"]}, "text": _RECEIPT_TEXT}, ["lineType"])

_NOTIFICATIONS: JsonSchema = {
    "type": "array",
    "items": obj({"notificationType": STRING, "createdAt": DATE_TIME}, ["notificationType", "createdAt"]),
}
_STATUS_EVENTS: JsonSchema = {
    "type": "array",
    "items": obj(
        {"status": _SESSION_STATUS, "createdAt": DATE_TIME, "debugMessage": STRING},
        ["status", "createdAt", "debugMessage"],
    ),
}
_DETAILS: JsonSchema = obj(
    {
        "sessionType": {"type": "string", "enum": list(enum_values(SessionType))},
        "sale": obj({"paymentIntentId": STRING}, ["paymentIntentId"]),
        "matchedRefund": obj({"paymentIntentId": STRING, "amount": _MONEY}, ["paymentIntentId"]),
        "unlinkedRefund": obj({"amount": _MONEY, "cardholderNotPresent": {"type": "boolean"}}, ["amount"]),
    },
    ["sessionType"],
)

TERMINAL_SCHEMAS: dict[str, JsonSchema] = {
    "ProblemDetailsTerminals": obj(
        {
            "type": NULLABLE_STRING,
            "title": NULLABLE_STRING,
            "status": {"type": "integer", "format": "int32", "nullable": True},
            "detail": NULLABLE_STRING,
            "traceId": NULLABLE_STRING,
            "errors": {"type": "object", "nullable": True, "additionalProperties": {}},
        },
        ["type", "title", "status", "detail", "traceId", "errors"],
    ),
    "TerminalPaymentDetails": obj(
        {
            "transactionDateTime": DATE_TIME,
            "message": STRING,
            "card": obj(
                {
                    "cardNumber": STRING,
                    "expiryDate": STRING,
                    "cardType": STRING,
                    "last4PAN": STRING,
                    "entryMode": STRING,
                }
            ),
        },
        ["transactionDateTime", "message", "card"],
    ),
    "TerminalSessionHistoryEntry": obj(
        {
            "terminalSession": obj(
                {
                    "terminalId": STRING,
                    "id": STRING,
                    "status": _SESSION_STATUS,
                    "expireAt": DATE_TIME,
                    "createdAt": DATE_TIME,
                    "updatedAt": DATE_TIME,
                    "notificationEvents": _NOTIFICATIONS,
                    "statusEvents": _STATUS_EVENTS,
                    "details": _DETAILS,
                }
            ),
            "payment": {
                **obj(
                    {
                        "transactionDateTime": STRING,
                        "cardNumber": STRING,
                        "expiryDate": NULLABLE_STRING,
                        "cardType": STRING,
                        "entryMode": STRING,
                    }
                ),
                "nullable": True,
            },
        },
        ["terminalSession", "payment"],
    ),
    "Terminal": obj(
        {
            "id": STRING,
            "properties": obj({"tid": STRING}, ["tid"]),
            "status": {"type": "string", "enum": list(enum_values(TerminalStatus))},
            "updatedAt": DATE_TIME,
        },
        ["id", "properties", "status", "updatedAt"],
    ),
    "TerminalList": {"type": "array", "items": ref("Terminal")},
    "TerminalSettings": obj(
        {
            "id": STRING,
            "properties": obj({"tid": STRING}, ["tid"]),
            "status": {"type": "string", "enum": list(enum_values(TerminalStatus))},
            "updatedAt": DATE_TIME,
            "autoOutcome": {"type": "string", "nullable": True, "enum": [*enum_values(CardOutcome), None]},
            "delayMs": {"type": "integer"},
        },
        ["id", "properties", "status", "updatedAt", "autoOutcome", "delayMs"],
    ),
    "TerminalSession": obj(
        {
            "id": STRING,
            "terminalId": STRING,
            "status": _SESSION_STATUS,
            "createdAt": DATE_TIME,
            "updatedAt": DATE_TIME,
            "expireAt": DATE_TIME,
            "notificationEvents": _NOTIFICATIONS,
            "statusEvents": _STATUS_EVENTS,
            "details": _DETAILS,
            "receipt": obj({"lines": {"type": "array", "items": _RECEIPT_LINE}}, ["lines"]),
            "paymentDetails": {"nullable": True, "oneOf": [ref("TerminalPaymentDetails")]},
        },
        [
            "id",
            "terminalId",
            "status",
            "createdAt",
            "updatedAt",
            "expireAt",
            "notificationEvents",
            "statusEvents",
        ],
    ),
}
