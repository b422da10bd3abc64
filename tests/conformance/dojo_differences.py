"""The reviewed allow-list: every way our OpenAPI document may differ from Dojo's published one.

Keys are difference ids (tests/conformance/dojo_comparison.py says how they are formed), values a
short reason. docs/dojo-differences.md explains each entry with its source: the Dojo page a fact
comes from, or the section of our docs that states our choice. An entry that no longer
matches a real difference fails the suite, and so does one the document does not explain.
"""

from __future__ import annotations

_IDEMPOTENT_EXTENSION = (
    "Extension: the idempotencyKey header is honoured, never required (docs/api.md 'Idempotency')."
)
_ANSWER_EXTENSION = "Extension: we answer a property Dojo's schema lacks but its examples show."
_ERROR_SHAPE = "Errors use the flat {type,title,status,detail?,errors?,traceId} body (docs/api.md 'Errors')."
_NO_403 = "We have no per-key permissions: another account's object is 404 (docs/api.md 'Authentication')."
_NO_ACQUIRER = "The sandbox processor has no acquirer data of this kind; we do not invent it."
_AMOUNTS = "Amounts are 1 (0 for tips and line totals) … 2^53-1 minor units (docs/api.md 'Amounts')."
_ENUM = "Dojo's spec made this a free string; other values are refused (docs/dojo-differences.md)."
_BOUNDED = "We bound every string, array and map (docs/api.md); Dojo's spec leaves this one unbounded."
_REQUIRED_VALUE = "A required value must be present: empty or null is refused (docs/api.md 'Request bodies')."
_LEGACY = "Dojo's legacy version 2022-04-07 names or shapes it so; its PHP SDK sends or reads it (ADR 0007)."
_SANDBOX_URL = "Sandbox keys may also use http://127.0.0.1 or localhost receivers (docs/webhooks.md)."

DIFFERENCES: dict[str, str] = {
    # Extensions.
    **dict.fromkeys(
        [
            f"{operation} parameter header:idempotencyKey extra"
            for operation in (
                "POST /payment-intents",
                "DELETE /payment-intents/{paymentIntentId}",
                "POST /payment-intents/{paymentIntentId}/captures",
                "POST /payment-intents/{paymentIntentId}/reversal",
                "POST /payment-intents/{paymentIntentId}/amount",
                "POST /payment-intents/{paymentIntentId}/tips-amount",
                "POST /payment-intents/{paymentIntentId}/refresh-client-session-secret",
                "POST /payment-intents/{paymentIntentId}/charge",
                "POST /customers",
                "POST /setup-intents",
            )
        ],
        _IDEMPOTENT_EXTENSION,
    ),
    "response PaymentStatusResponse.message extra": (
        "Extension: why a card was declined, as on paymentEvents (docs/api.md 'Setup intents')."
    ),
    "response Refund.message extra": _ANSWER_EXTENSION,
    "response PaymentIntent.paymentEvents extra": _ANSWER_EXTENSION,
    "response PaymentIntent.paymentSource extra": _ANSWER_EXTENSION,
    "response SubscriptionSecret.lastUsedAt extra": _ANSWER_EXTENSION,
    "response Subscription.disabledAt extra": (
        "Extension: when a receiver's 410 disabled it (docs/webhooks.md)."
    ),
    **dict.fromkeys(
        [
            "request SubscriptionRequest.listener extra",
            "response Subscription.listener extra",
            "response Subscription.expiresAt extra",
        ],
        "Extension: a webhooks listen session's subscription, beside the app's (ADR 0019); "
        "only listeners carry these members.",
    ),
    # Error bodies and statuses.
    "error ProblemDetails.instance missing": _ERROR_SHAPE,
    "error ProblemDetails.extensions missing": _ERROR_SHAPE,
    **dict.fromkeys(
        [
            f"{operation} response 403 missing"
            for operation in (
                "POST /payment-intents",
                "GET /webhooks/events",
                "GET /webhooks",
                "POST /webhooks",
                "PATCH /webhooks/{subscriptionId}",
                "DELETE /webhooks/{subscriptionId}",
                "GET /webhooks/{subscriptionId}/secrets",
                "POST /webhooks/{subscriptionId}/secrets",
                "PUT /webhooks/{subscriptionId}/secrets/{secretId}/activate",
                "DELETE /webhooks/{subscriptionId}/secrets/{secretId}",
                "POST /payment-intents/{paymentIntentId}/charge",
            )
        ],
        _NO_403,
    ),
    "DELETE /setup-intents/{setupIntentId} response 500 missing": (
        "An unexpected failure is 500 everywhere; we do not declare it per operation."
    ),
    "GET /customers/public/{customerId}/payment-methods parameter header:authorization missing": (
        "Declared as the CustomerSecretAuth security scheme instead (docs/api.md 'Customers')."
    ),
    (
        "DELETE /customers/public/{customerId}/payment-methods/{paymentMethodId}"
        " parameter header:authorization missing"
    ): "Declared as the CustomerSecretAuth security scheme instead (docs/api.md 'Customers').",
    "POST /webhooks response 404 missing": (
        "Subscribing looks nothing up; unknown events are 400 (docs/webhooks.md)."
    ),
    # Headers.
    "parameter Version enum": (
        "We list the published versions; any later date also works (docs/api.md 'Version header')."
    ),
    "parameter VersionCustomers enum": "The customers' version header is the same header (docs/api.md).",
    "parameter VersionCustomers format": "The customers' version header is the same header (docs/api.md).",
    "DELETE /setup-intents/{setupIntentId} parameter header:version enum": (
        "The same version header as everywhere (docs/api.md 'Version header')."
    ),
    "POST /payment-intents/{paymentIntentId}/refunds parameter header:idempotencyKey minLength": (
        "An empty refund idempotency key is refused (docs/api.md 'Idempotency')."
    ),
    "POST /payment-intents/{paymentIntentId}/refunds parameter header:idempotencyKey pattern": (
        "A refund idempotency key is printable ASCII (docs/api.md 'Idempotency')."
    ),
    # What the sandbox has no data for.
    "response PaymentDetails.authCode missing": _NO_ACQUIRER,
    "response PaymentDetails.avsResult missing": _NO_ACQUIRER,
    "response Card.cardFundingType missing": _NO_ACQUIRER,
    "response Card.entryMode missing": _NO_ACQUIRER,
    "response Card.verificationMethod missing": _NO_ACQUIRER,
    "response PaymentIntent.subtotalLineItems missing": "No Dojo source defines its value; omitted.",
    "response PaymentStatusResponse.authCode missing": _NO_ACQUIRER,
    "response SetupIntentResponse.requestSecurity missing": (
        "Dojo's CreateSetupIntentRequest has no requestSecurity: nothing to echo."
    ),
    "response SetupIntentPublicResponse.requestSecurity missing": (
        "Dojo's CreateSetupIntentRequest has no requestSecurity: nothing to echo."
    ),
    # Amounts and currencies.
    **dict.fromkeys(
        [
            "request Money.value minimum",
            "request Money.value maximum",
            "request CreateCaptureRequest.amount minimum",
            "request CreateCaptureRequest.amount maximum",
            "request CreateCaptureRequest.tipsAmount minimum",
            "request CreateCaptureRequest.tipsAmount maximum",
            "request CreateRefundRequest.amount minimum",
            "request CreateRefundRequest.amount maximum",
        ],
        _AMOUNTS,
    ),
    "request Money.currencyCode enum": "GBP and EUR only (docs/api.md 'Amounts').",
    # Enumerations.
    "request PaymentMethod enum": _ENUM,
    "request SubscriptionRequest.events[] enum": _ENUM,
    "request SubscriptionUpdateRequest.events[] enum": _ENUM,
    "request MerchantInitiatedTransactionType enum": _ENUM,
    # Bounded input.
    **dict.fromkeys(
        [
            "request ActionLink.url maxLength",
            "request PaymentIntentConfigRequest.redirectUrl maxLength",
            "request PaymentIntentConfigRequest.cancelUrl maxLength",
            "request CreatePaymentIntentRequest.autoExpireIn maxLength",
            "request CreatePaymentIntentRequest.setupIntentId maxLength",
            "request ItemLine.category maxLength",
            "request Modifier.id maxLength",
            "request Modifier.name maxLength",
            "request OrderDetails.id maxLength",
            "request OrderDetails.externalId maxLength",
            "request PaymentCustomerDetails.id maxLength",
            "request PaymentCustomerDetails.secret maxLength",
            "request PaymentCustomerDetails.savedCardId maxLength",
            "request Cursor.before maxLength",
            "request Cursor.after maxLength",
            "request SubscriptionRequest.url maxLength",
            "request SubscriptionUpdateRequest.url maxLength",
            "request SubscriptionRequest.description maxLength",
            "request SubscriptionUpdateRequest.description maxLength",
            "request CreatePaymentIntentRequest.itemLines maxItems",
            "request CreatePaymentIntentRequest.taxLines maxItems",
            "request CreatePaymentIntentRequest.paymentMethods maxItems",
            "request CreatePaymentIntentRequest.metadata maxProperties",
            "request ItemLine.modifiers maxItems",
            "request SetAmountRequest.itemLines maxItems",
            "request SetAmountRequest.taxLines maxItems",
            "request SearchPaymentIntentRequest.statuses maxItems",
            "request SubscriptionRequest.events maxItems",
            "request SubscriptionUpdateRequest.events maxItems",
            "request UpdateCustomerRequest.name maxLength",
            "request UpdateCustomerRequest.emailAddress maxLength",
            "request UpdateCustomerRequest.phoneNumber minLength",
            "request UpdateCustomerRequest.phoneNumber maxLength",
            "request UpdateCustomerRequest.vatNumber maxLength",
            "request CreateSetupIntentRequest.paymentMethods maxItems",
            "request CreateSetupIntentRequest.metadata maxProperties",
            "request Customer.id maxLength",
            "GET /setup-intents/{setupIntentId} parameter path:setupIntentId maxLength",
            "GET /setup-intents/public/{setupIntentId} parameter path:setupIntentId maxLength",
            *(
                f"POST {path}/refresh-client-session-secret parameter path:setupIntentId maxLength"
                for path in ("/setup-intents/{setupIntentId}", "/setup-intents/public/{setupIntentId}")
            ),
            "request ItemLine.quantity minimum",
            "request Modifier.quantity minimum",
            "request Modifier.quantity format",
        ],
        _BOUNDED,
    ),
    # Required values.
    **dict.fromkeys(
        [
            "request Address.countryCode minLength",
            "request SubscriptionUpdateRequest.url minLength",
            "request SubscriptionRequest.events minItems",
            "request SubscriptionUpdateRequest.events minItems",
            "request ItemLine.amountTotal nullable",
        ],
        _REQUIRED_VALUE,
    ),
    "request Modifier additionalProperties": (
        "Unknown properties are refused everywhere (docs/api.md 'Request bodies')."
    ),
    "request SendEmailReceiptRequest additionalProperties": (
        "Unknown properties are refused everywhere (docs/api.md 'Request bodies')."
    ),
    # Receipt recipients (docs/api.md 'Receipts').
    **dict.fromkeys(
        [
            "request SendEmailReceiptRequest.emails minItems",
            "request SendEmailReceiptRequest.emails maxItems",
            "request SendEmailReceiptRequest.emails[] format",
            "request SendEmailReceiptRequest.emails[] maxLength",
        ],
        "A receipt goes to 1-10 email addresses of at most 254 characters (docs/api.md 'Receipts').",
    ),
    # Webhook receiver URLs.
    "request SubscriptionRequest.url pattern": _SANDBOX_URL,
    "request SubscriptionUpdateRequest.url pattern": _SANDBOX_URL,
    "response Subscription.url pattern": _SANDBOX_URL,
    # Dojo's legacy version 2022-04-07, which its PHP SDK sends.
    **dict.fromkeys(
        [
            "request ItemLine.caption extra",
            "response ItemLine.caption extra",
            "request CreatePaymentIntentRequest.transactionSource extra",
            *(
                f"response PaymentDetails.{name} extra"
                for name in ("cardNumber", "cardName", "expiryDate", "cardType")
            ),
        ],
        _LEGACY,
    ),
    # Terminals (docs/terminals.md).
    "GET /terminals/{terminalId} response 403 missing": _NO_403,
    **dict.fromkeys(
        [
            "error Error.code missing",
            "error Error.detail nullable",
            "error Error.errors nullable",
            "error Error.errors{} type",
            "error Error.status nullable",
            "error Error.title nullable",
            "error Error.traceId nullable",
            "error Error.type nullable",
        ],
        "The terminal API answers Dojo's ProblemDetailsTerminals on every path and status.",
    ),
    **dict.fromkeys(
        [
            "parameter ResellerId maxLength",
            "parameter SoftwareHouseId maxLength",
            "request CreateTerminalSessionRequest.terminalId maxLength",
            "request TerminalSessionMatchedRefundDetails.paymentIntentId maxLength",
            "request TerminalSessionSaleDetails.paymentIntentId maxLength",
        ],
        _BOUNDED,
    ),
    **dict.fromkeys(
        [
            "parameter SoftwareHouseId minLength",
            "request CreateTerminalSessionRequest.terminalId minLength",
            "request TerminalSessionMatchedRefundDetails.paymentIntentId minLength",
            "request TerminalSessionSaleDetails.paymentIntentId minLength",
        ],
        _REQUIRED_VALUE,
    ),
    **dict.fromkeys(
        [
            "request SignatureVerificationRequest additionalProperties",
            "request TerminalSessionDetails additionalProperties",
            "request TerminalSessionMatchedRefundDetails additionalProperties",
            "request TerminalSessionSaleDetails additionalProperties",
            "request TerminalSessionUnlinkedRefundDetails additionalProperties",
        ],
        "Unknown properties are refused everywhere (docs/api.md 'Request bodies').",
    ),
    **dict.fromkeys(
        [
            "response Card.cardName missing",
            "response PaymentDetails.transactionId missing",
            "response PaymentDetails.paymentMethodId missing",
            "response TerminalSessionReceiptLine.imageLogo missing",
            "response TerminalSessionPaymentResponse.authGatewayTransactionId missing",
            "response TerminalSessionPaymentResponse.cardHolderName missing",
            "response TerminalSessionPaymentResponse.verificationMode missing",
        ],
        "A virtual terminal reads no cardholder name or saved card, keeps the transaction on the "
        "intent, prints no logo.",
    ),
}
