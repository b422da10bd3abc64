"""payintents_client: a typed, retry-safe client for Dojo's card-payments API and for payintents.

from payintents_client import Client
with Client(base_url="http://127.0.0.1:8000") as dojo:      # api_key from $PAYINTENTS_API_KEY
    dojo.refunds.create("pi_sandbox_…", 1000, "Demo refund", "Duplicate transaction")
"""

from payintents_client._client import (
    AsyncClient,
    AsyncPaymentIntents,
    AsyncRefunds,
    AsyncWebhooks,
    Client,
    PaymentIntents,
    Refunds,
    Webhooks,
)
from payintents_client._parse import ResponseFormatError
from payintents_client._transport import DEFAULT_BASE_URL, DEFAULT_VERSION
from payintents_client._version import __version__
from payintents_client.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    PayintentsError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    ValidationFailedError,
)
from payintents_client.models import (
    Capture,
    CaptureDetails,
    Delivery,
    DeliveryAttempt,
    PaymentEvent,
    PaymentIntent,
    PaymentIntentPage,
    Refund,
    RefundCreated,
    RefundListItem,
    RetryScheduled,
    Reversal,
    Subscription,
    SubscriptionSecret,
    SubscriptionSecrets,
    WebhookEventGroup,
)
from payintents_client.money import AmountError, Money, format_minor, to_minor_units
from payintents_client.webhook_signatures import (
    WebhookVerificationError,
    verify_dojo_signature,
    verify_standard_webhook,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_VERSION",
    "AmountError",
    "ApiError",
    "AsyncClient",
    "AsyncPaymentIntents",
    "AsyncRefunds",
    "AsyncWebhooks",
    "AuthenticationError",
    "Capture",
    "CaptureDetails",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "Delivery",
    "DeliveryAttempt",
    "MethodNotAllowedError",
    "Money",
    "NotFoundError",
    "PayintentsError",
    "PaymentEvent",
    "PaymentIntent",
    "PaymentIntentPage",
    "PaymentIntents",
    "PermissionDeniedError",
    "RateLimitedError",
    "Refund",
    "RefundCreated",
    "RefundListItem",
    "Refunds",
    "ResponseFormatError",
    "RetryScheduled",
    "Reversal",
    "ServerError",
    "ServiceUnavailableError",
    "Subscription",
    "SubscriptionSecret",
    "SubscriptionSecrets",
    "TransportError",
    "ValidationFailedError",
    "WebhookEventGroup",
    "WebhookVerificationError",
    "Webhooks",
    "__version__",
    "format_minor",
    "to_minor_units",
    "verify_dojo_signature",
    "verify_standard_webhook",
]
