"""OpenAPI links for /openapi.json: which answer supplies the ids the next operation needs.

Creating an intent gives the id that retrieving, capturing, reversing, refunding, cancelling it or
sending its receipt takes; a refund gives the refund id; a subscription gives its id and its
secrets' ids; a customer and a setup intent give the id their other operations take. Generated
clients and stateful testers (schemathesis) follow these links to chain real calls.
"""

from __future__ import annotations

from typing import Any

# (method, path) of the operation that answers → link name → ((method, path) it feeds, parameters).
Target = tuple[str, str]
Link = tuple[Target, dict[str, str]]

_INTENT = "/payment-intents/{paymentIntentId}"
_SUBSCRIPTION = "/webhooks/{subscriptionId}"
_REFUND = "/payment-intents/refunds/{refundId}"
_SIGNING_ITEM = "/webhooks/{subscriptionId}/secrets/{secretId}"
_CUSTOMER = "/customers/{customerId}"
_SETUP = "/setup-intents/{setupIntentId}"
_PUBLIC_SETUP = "/setup-intents/public/{setupIntentId}"


def _intent_links(id_expression: str) -> dict[str, Link]:
    ids = {"paymentIntentId": id_expression}
    return {
        "GetPaymentIntent": (("get", _INTENT), ids),
        "CancelPaymentIntent": (("delete", _INTENT), ids),
        "CapturePaymentIntent": (("post", f"{_INTENT}/captures"), ids),
        "ReversePaymentIntent": (("post", f"{_INTENT}/reversal"), ids),
        "ChangeAmount": (("post", f"{_INTENT}/amount"), ids),
        "ChangeTipsAmount": (("post", f"{_INTENT}/tips-amount"), ids),
        "RefreshClientSessionSecret": (("post", f"{_INTENT}/refresh-client-session-secret"), ids),
        "RefundPaymentIntent": (("post", f"{_INTENT}/refunds"), ids),
        "ListRefunds": (("get", f"{_INTENT}/refunds"), ids),
        "SendReceipt": (("post", f"{_INTENT}/receipt"), ids),
    }


def _subscription_links(id_expression: str) -> dict[str, Link]:
    ids = {"subscriptionId": id_expression}
    return {
        "UpdateSubscription": (("patch", _SUBSCRIPTION), ids),
        "DeleteSubscription": (("delete", _SUBSCRIPTION), ids),
        "ListSecrets": (("get", f"{_SUBSCRIPTION}/secrets"), ids),
        "CreateSecret": (("post", f"{_SUBSCRIPTION}/secrets"), ids),
        "ListDeliveries": (("get", f"{_SUBSCRIPTION}/deliveries"), ids),
    }


_SECRET_IDS = {"subscriptionId": "$response.body#/id", "secretId": "$response.body#/secrets/0/id"}
_SECRET_LINKS: dict[str, Link] = {
    "ActivateSecret": (("put", f"{_SIGNING_ITEM}/activate"), _SECRET_IDS),
    "DeleteSecret": (("delete", _SIGNING_ITEM), _SECRET_IDS),
}
_REQUESTED_INTENT = "$request.path.paymentIntentId"
_CUSTOMER_IDS = {"customerId": "$response.body#/id"}
_CUSTOMER_LINKS: dict[str, Link] = {
    "GetCustomer": (("get", _CUSTOMER), _CUSTOMER_IDS),
    "UpdateCustomer": (("patch", _CUSTOMER), _CUSTOMER_IDS),
    "DeleteCustomer": (("delete", _CUSTOMER), _CUSTOMER_IDS),
    "CreateCustomerSecret": (("post", f"{_CUSTOMER}/create-secret"), _CUSTOMER_IDS),
}
_SETUP_IDS = {"setupIntentId": "$response.body#/id"}
_SETUP_LINKS: dict[str, Link] = {
    "GetSetupIntent": (("get", _SETUP), _SETUP_IDS),
    "CancelSetupIntent": (("delete", _SETUP), _SETUP_IDS),
    "RefreshSetupIntentSecret": (("post", f"{_SETUP}/refresh-client-session-secret"), _SETUP_IDS),
    "GetPublicSetupIntent": (("get", _PUBLIC_SETUP), _SETUP_IDS),
    "RefreshPublicSetupIntentSecret": (
        ("post", f"{_PUBLIC_SETUP}/refresh-client-session-secret"),
        _SETUP_IDS,
    ),
}

LINKS: dict[Target, dict[str, Link]] = {
    ("post", "/payment-intents"): _intent_links("$response.body#/id"),
    ("get", _INTENT): _intent_links("$response.body#/id"),
    ("post", f"{_INTENT}/captures"): _intent_links(_REQUESTED_INTENT),
    ("post", f"{_INTENT}/refunds"): {
        "GetRefund": (("get", _REFUND), {"refundId": "$response.body#/refundId"}),
        **_intent_links("$response.body#/paymentIntentId"),
    },
    ("post", "/webhooks"): _subscription_links("$response.body#/id"),
    ("post", "/customers"): _CUSTOMER_LINKS,
    ("patch", _CUSTOMER): _CUSTOMER_LINKS,
    ("post", "/setup-intents"): _SETUP_LINKS,
    ("get", f"{_SUBSCRIPTION}/secrets"): _SECRET_LINKS,
    ("post", f"{_SUBSCRIPTION}/secrets"): _SECRET_LINKS,
}


def add_links(paths: dict[str, Any]) -> None:
    """Put ``LINKS`` on each source operation's success answer, naming targets by operationId."""
    for (method, path), links in LINKS.items():
        responses = paths[path][method]["responses"]
        success = next(answer for status, answer in responses.items() if status.startswith("2"))
        success["links"] = {
            name: {
                "operationId": paths[target_path][target_method]["operationId"],
                "parameters": parameters,
            }
            for name, ((target_method, target_path), parameters) in links.items()
        }
