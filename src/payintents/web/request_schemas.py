"""Dojo's request bodies in the ``wire`` schema language, limits included,
each paired with the dataclass its handler reads (request_bodies.py)."""

from __future__ import annotations

from payintents.domain.intent import AutoExpireAction, CaptureMode, Status
from payintents.domain.money import Currency
from payintents.domain.sandbox import FailOperation, FailOutcome
from payintents.domain.terminal import CardOutcome, SessionType
from payintents.domain.webhooks import KNOWN_EVENTS
from payintents.web import request_bodies as bodies
from payintents.web.wire import (
    Body,
    Check,
    Field,
    JsonSchema,
    Obj,
    Rule,
    amount,
    array,
    boolean,
    date_time,
    enum_values,
    integer,
    one_of,
    one_of_enum,
    string,
    string_map,
)


def _opt(check: Check) -> Field:
    return Field(check)


def _req(check: Check) -> Field:
    return Field(check, required=True, nullable=False)


def money(minimum: int = 1) -> Obj:
    return Obj({"value": _req(amount(minimum)), "currencyCode": _req(one_of_enum(Currency))})


ADDRESS = Obj(
    {
        **{name: _opt(string(100)) for name in ("address1", "address2", "address3", "address4")},
        **{name: _opt(string(100)) for name in ("city", "state", "locality", "county")},
        "postcode": _opt(string(50)),
        "countryCode": _req(string(10, 1)),
    }
)

CUSTOMER = Obj(
    {
        "id": _opt(string(100)),
        "emailAddress": _opt(string(254)),
        "phoneNumber": _opt(string(50)),
        "secret": _opt(string(200)),
        "savedCardId": _opt(string(100)),
    }
)

SHIPPING = Obj({"name": _opt(string(100)), "deliveryNotes": _opt(string(1024)), "address": _opt(ADDRESS)})

_COLLECTION = Obj({"collectionRequired": _opt(boolean)})

CONFIG = Obj(
    {
        "title": _opt(string(100)),
        "redirectUrl": _opt(string(2048, fmt="uri")),
        "cancelUrl": _opt(string(2048, fmt="uri")),
        "customerEmail": _opt(_COLLECTION),
        "details": _opt(Obj({"showTotal": _opt(boolean), "showReference": _opt(boolean)})),
        "billingAddress": _opt(_COLLECTION),
        "shippingDetails": _opt(_COLLECTION),
        "payment": _opt(Obj({"customAmountAllowed": _opt(boolean), "tipsAllowed": _opt(boolean)})),
    }
)

MODIFIER = Obj(
    {
        "id": _req(string(60)),
        "name": _req(string(100)),
        "amountPerModifier": _req(money(0)),
        "quantity": _req(integer(0, 2**31 - 1)),
    }
)

ITEM_LINE = Obj(
    {
        "id": _opt(string(60)),
        "quantity": _opt(integer(0, 2**31 - 1)),
        "name": _opt(string(100)),
        # The 2022-04-07 name of ``name`` (Dojo's PHP SDK and samples send it on every version).
        "caption": _opt(string(100)),
        "category": _opt(string(100)),
        "modifiers": _opt(array(MODIFIER, 100)),
        "amountTotal": _req(money(0)),
        "plu": _opt(string(200)),
    }
)

TAX_LINE = Obj(
    {
        "id": _opt(string(60)),
        "caption": _opt(string(100)),
        "subCaption": _opt(string(100)),
        "amountTotal": _req(money(0)),
        "affectedPlu": _opt(string(200)),
    }
)

CREATE_PAYMENT_INTENT_SHAPE = Obj(
    {
        "amount": _req(money()),
        "reference": _req(string(60, 1)),
        "captureMode": _opt(one_of_enum(CaptureMode)),
        "tipsAmount": _opt(money(0)),
        "cashbackAmount": _opt(money(0)),
        "serviceChargeAmount": _opt(money(0)),
        "description": _opt(string(4096)),
        "customer": _opt(CUSTOMER),
        "billingAddress": _opt(ADDRESS),
        "shippingDetails": _opt(SHIPPING),
        "cardHolderNotPresent": _opt(boolean),
        # 2022-04-07 only (http_input.FIELDS_UNTIL); MOTO records the intent as cardholder not present.
        "transactionSource": _opt(one_of("MOTO")),
        "config": _opt(CONFIG),
        "requestSecurity": _opt(
            Obj(
                {
                    "userAgent": _opt(string(300)),
                    "ipAddress": _opt(string(70)),
                    "device": _opt(string(120)),
                }
            )
        ),
        "itemLines": _opt(array(ITEM_LINE, 500)),
        "taxLines": _opt(array(TAX_LINE, 100)),
        "paymentMethods": _opt(array(one_of("Card", "Wallet", "SavedCard"), 10)),
        "actionLink": _opt(
            Obj(
                {
                    "url": _req(string(2048, 1, fmt="uri")),
                    "label": _req(string(60, 1)),
                    "action": _opt(one_of("OpenLink", "DownloadFile")),
                    "fileName": _opt(string(256)),
                }
            )
        ),
        "expireAt": _opt(date_time),
        # A .NET TimeSpan ([d.]hh:mm:ss[.fffffff]), checked by domain/intent.py parse_timespan.
        "autoExpireIn": _opt(string(30, fmt="timespan")),
        "autoExpireAction": _opt(one_of_enum(AutoExpireAction)),
        "metadata": _opt(string_map()),
        "setupIntentId": _opt(string(100)),
        "orderDetails": _opt(
            Obj(
                {
                    "availabilityDate": _opt(date_time),
                    "isUpdate": _opt(boolean),
                    "id": _opt(string(100)),
                    "externalId": _opt(string(100)),
                }
            )
        ),
        "generateRemoteToken": _opt(boolean),
        "isNotOnlineCheckout": _opt(boolean),
    }
)
CREATE_PAYMENT_INTENT = Body(CREATE_PAYMENT_INTENT_SHAPE, bodies.CreatePaymentIntentBody)

CREATE_CAPTURE = Body(
    Obj({"amount": _req(amount()), "tipsAmount": _opt(amount(0))}), bodies.CreateCaptureBody
)

CREATE_REFUND = Body(
    Obj(
        {
            "amount": _req(amount()),
            "refundReason": _opt(string(1024)),
            "notes": _opt(string(4096)),
            "previousTransactionId": _opt(string(100)),
        }
    ),
    bodies.CreateRefundBody,
)

SET_AMOUNT = Body(
    Obj(
        {
            "amount": _req(money()),
            "itemLines": _opt(array(ITEM_LINE, 500)),
            "taxLines": _opt(array(TAX_LINE, 100)),
        }
    ),
    bodies.SetAmountBody,
)

SET_TIPS = Body(Obj({"tipsAmount": _req(money(0))}), bodies.SetTipsBody)

_SEARCH = Obj(
    {
        "statuses": _opt(array(one_of_enum(Status), 6)),
        "startDate": _opt(date_time),
        "endDate": _opt(date_time),
        "cursor": _opt(
            Obj(
                {
                    "limit": _opt(integer(1, 100)),
                    "before": _opt(string(200)),
                    "after": _opt(string(200)),
                }
            )
        ),
    }
)
SEARCH = Body(_SEARCH, bodies.SearchBody)

PAY = Body(
    Obj(
        {
            "cardNumber": _req(string(23, 12)),
            "expiryDate": _req(string(7, 4)),
            "cvv": _req(string(4, 3)),
            "cardName": _opt(string(100)),
        }
    ),
    bodies.PayBody,
)

CHALLENGE = Body(Obj({"outcome": _req(one_of("pass", "fail"))}), bodies.ChallengeBody)

_CUSTOMER_DETAILS = {
    "name": _opt(string(100)),
    "emailAddress": _opt(string(254)),
    "phoneNumber": _opt(string(50, 5)),
    "vatNumber": _opt(string(50)),
    "billingAddress": _opt(ADDRESS),
    "shippingAddress": _opt(ADDRESS),
}
CREATE_CUSTOMER = Body(Obj(_CUSTOMER_DETAILS), bodies.CustomerBody)
UPDATE_CUSTOMER = Body(Obj(_CUSTOMER_DETAILS), bodies.CustomerBody)

SEARCH_CUSTOMERS = Body(
    Obj({"limit": _opt(integer(1, 100)), "before": _opt(string(200)), "after": _opt(string(200))}),
    bodies.SearchCustomersBody,
)

MERCHANT_INITIATED_TYPES = ("NoShow", "Unscheduled")
CREATE_SETUP_INTENT = Body(
    Obj(
        {
            "reference": _req(string(60, 1)),
            "merchantInitiatedTransactionType": _req(one_of(*MERCHANT_INITIATED_TYPES)),
            "terms": _req(string(10240, 1)),
            "description": _opt(string(4096)),
            # Dojo's Customer here: no secret or saved card, as on a payment intent.
            "customer": _opt(
                Obj({name: CUSTOMER.fields[name] for name in ("id", "emailAddress", "phoneNumber")})
            ),
            "captureMode": _opt(one_of_enum(CaptureMode)),
            "paymentMethods": _opt(array(one_of("Card", "Wallet", "SavedCard"), 10)),
            "billingAddress": _opt(ADDRESS),
            "shippingDetails": _opt(SHIPPING),
            "config": _opt(CONFIG),
            "metadata": _opt(string_map()),
            "intendedAmount": _opt(money(0)),
            "orderDetails": CREATE_PAYMENT_INTENT_SHAPE.fields["orderDetails"],
            "expireAt": _opt(date_time),
        }
    ),
    bodies.CreateSetupIntentBody,
)

SAVE_CARD = Body(
    Obj({**PAY.shape.fields, "saveCard": _opt(boolean)}),
    bodies.SaveCardBody,
)

# Extension: paying at the checkout with a card saved for the intent's customer (ADR 0028).
PAY_WITH_SAVED_CARD = Body(Obj({"paymentMethodId": _req(string(100, 1))}), bodies.SavedCardChoiceBody)


def _described(check: Check, **refinements: object) -> Check:
    """``check`` documented with rules a later layer enforces (the domain's), so the document
    says everything the server will refuse."""
    return Rule(check, {**check.json_schema, **refinements})


# The domain checks names, count and repeats (domain/webhooks.py) and receiver URLs (webhook_urls.py).
_EVENTS = _described(
    array(string(100, 1), 20),
    items={"type": "string", "enum": sorted(KNOWN_EVENTS)},
    minItems=1,
    uniqueItems=True,
)
_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
# https:// on a public DNS name (http:// also for the sandbox's hosts: by default 127.0.0.1,
# localhost and ::1, PAYINTENTS_SANDBOX_WEBHOOK_HOSTS), no credentials, a valid port. Public IP
# literals, and other sandbox hosts a server may name, are accepted too but left out here.
RECEIVER_URL_SHAPE = rf"^(https://({_LABEL}\.)+[A-Za-z]{{2,63}}|https?://(127\.0\.0\.1|localhost|\[::1\]))(:{_PORT})?([/?#]\S*)?$"
_RECEIVER_URL = _described(string(2048, 1), format="uri", pattern=RECEIVER_URL_SHAPE)

# The domain checks each address and the count (domain/receipts.py), so one 400 names them all.
SEND_RECEIPT = Body(
    Obj(
        {
            "emails": _req(
                _described(
                    array(string(254), 10),
                    minItems=1,
                    items={"type": "string", "format": "email", "maxLength": 254},
                )
            )
        }
    ),
    bodies.SendReceiptBody,
)

SUBSCRIBE = Body(
    Obj(
        {
            "events": _req(_EVENTS),
            "url": _req(_RECEIVER_URL),
            "description": _opt(string(1024)),
            # Extension: a listener's subscription (``webhooks listen``), exempt from one-per-event.
            "listener": _opt(_described(boolean, **{"x-payintents-extension": True})),
        }
    ),
    bodies.SubscribeBody,
)

UPDATE_SUBSCRIPTION = Body(
    Obj({"events": _opt(_EVENTS), "url": _opt(_RECEIVER_URL), "description": _opt(string(1024))}),
    bodies.UpdateSubscriptionBody,
)

FAIL_NEXT = Body(
    Obj(
        {
            "operation": _req(one_of_enum(FailOperation)),
            "outcome": _req(one_of_enum(FailOutcome)),
            "delayMs": _opt(integer(0, 30_000)),
        }
    ),
    bodies.FailNextBody,
)

ADVANCE_CLOCK = Body(
    Obj({"seconds": _opt(integer(0, 10 * 365 * 86_400)), "to": _opt(date_time)}), bodies.AdvanceClockBody
)


class _OneDetailObject(Obj):
    """Dojo's TerminalSessionDetails: besides ``sessionType``, exactly the detail object it names,
    checked by the route and said in the document's description (a oneOf of the three shapes
    made schemathesis generate bodies that are not objects at all)."""

    @property
    def json_schema(self) -> JsonSchema:
        rule = "Exactly one of sale, matchedRefund and unlinkedRefund: the one sessionType names."
        return {**super().json_schema, "description": rule}


_TERMINAL_SESSION_DETAILS = _OneDetailObject(
    {
        "sessionType": _req(one_of_enum(SessionType)),
        "sale": _opt(Obj({"paymentIntentId": _req(string(64, 1))})),
        "matchedRefund": _opt(Obj({"paymentIntentId": _req(string(64, 1)), "amount": _opt(money())})),
        "unlinkedRefund": _opt(Obj({"amount": _req(money()), "cardholderNotPresent": _opt(boolean)})),
    }
)

CREATE_TERMINAL_SESSION = Body(
    Obj({"terminalId": _req(string(64, 1)), "details": _req(_TERMINAL_SESSION_DETAILS)}),
    bodies.CreateTerminalSessionBody,
)

SIGNATURE = Body(Obj({"accepted": _req(boolean)}), bodies.SignatureBody)

AUTO_PILOT_OFF = "Off"

# The sandbox's card driver; a test card number of 12 to 19 digits (shown masked).
PRESENT_CARD = Body(
    Obj(
        {
            "outcome": _req(one_of_enum(CardOutcome)),
            "cardNumber": Field(_described(string(19, 12), pattern="^[0-9]{12,19}$"), nullable=False),
        }
    ),
    bodies.PresentCardBody,
)

CONFIGURE_TERMINAL = Body(
    Obj(
        {
            # "Off" switches the auto-pilot off; a property left out leaves its setting as it is.
            "autoOutcome": Field(one_of(*enum_values(CardOutcome), AUTO_PILOT_OFF), nullable=False),
            "delayMs": Field(integer(0, 600_000), nullable=False),
            "offline": Field(boolean, nullable=False),
        }
    ),
    bodies.ConfigureTerminalBody,
)
