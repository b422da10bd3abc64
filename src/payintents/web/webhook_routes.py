"""Routes for webhooks: Dojo's subscription and secret API and, as extensions,
the delivery history of a subscription and a manual re-send of an event."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.webhooks import CATALOGUE, Subscription
from payintents.service import webhooks
from payintents.service.ports import DeliveryView
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, Operation, api_route, json_response
from payintents.web.presenters import iso
from payintents.web.request_bodies import SubscribeBody, UpdateSubscriptionBody


def present_subscription(subscription: Subscription) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": subscription.id,
        "accountId": subscription.scope.account_id,
        "events": subscription.events,
        "url": subscription.url,
        "description": subscription.description,
        "secrets": present_secrets(subscription),
        "createdAt": iso(subscription.created_at),
        "updatedAt": iso(subscription.updated_at),
    }
    if subscription.disabled_at is not None:
        body["disabledAt"] = iso(subscription.disabled_at)  # extension: a 410 switched it off
    if subscription.listener_expires_at is not None:  # extension: a listener's subscription
        body["listener"] = True
        body["expiresAt"] = iso(subscription.listener_expires_at)
    return body


def present_secrets(subscription: Subscription) -> list[dict[str, Any]]:
    secrets = []
    for secret in subscription.secrets:
        shown: dict[str, Any] = {
            "id": secret.id,
            "value": secret.value,
            "createdAt": iso(secret.created_at),
            "isActive": secret.is_active,
        }
        if secret.last_used_at is not None:
            shown["lastUsedAt"] = iso(secret.last_used_at)
        secrets.append(shown)
    return secrets


def present_delivery(view: DeliveryView) -> dict[str, Any]:
    return {
        "eventId": view.event_id,
        "event": view.event_name,
        "status": view.status,
        "nextAttemptAt": iso(view.next_attempt_at) if view.next_attempt_at else None,
        "attempts": [
            {
                "attempt": a.attempt,
                "attemptedAt": iso(a.attempted_at),
                "statusCode": a.status_code,
                "durationMs": a.duration_ms,
                "error": a.error,
            }
            for a in view.attempts
        ],
    }


def list_events(call: ApiCall) -> Response:
    return json_response([{"model": model, "events": [e.value for e in names]} for model, names in CATALOGUE])


def list_subscriptions(call: ApiCall) -> Response:
    return json_response(
        [present_subscription(s) for s in webhooks.list_subscriptions(call.deps, call.scope)]
    )


def subscribe(call: ApiCall[SubscribeBody]) -> Response:
    body = call.body
    created = webhooks.subscribe(
        call.deps,
        call.scope,
        list(body.events),
        body.url,
        body.description,
        listener=body.listener is True,
    )
    return json_response(present_subscription(created))


def update(call: ApiCall[UpdateSubscriptionBody]) -> Response:
    body = call.body
    changed = webhooks.update_subscription(
        call.deps,
        call.scope,
        call.path_param("subscriptionId"),
        None if body.events is None else list(body.events),
        body.url,
        body.description,
    )
    return json_response(present_subscription(changed))


def unsubscribe(call: ApiCall) -> Response:
    webhooks.delete_subscription(call.deps, call.scope, call.path_param("subscriptionId"))
    return Response(status_code=204)


def _secrets_response(subscription: Subscription) -> Response:
    return json_response({"id": subscription.id, "secrets": present_secrets(subscription)})


def list_secrets(call: ApiCall) -> Response:
    subscription = webhooks.get_subscription(call.deps, call.scope, call.path_param("subscriptionId"))
    return _secrets_response(subscription)


def generate_secret(call: ApiCall) -> Response:
    subscription = webhooks.generate_secret(call.deps, call.scope, call.path_param("subscriptionId"))
    return _secrets_response(subscription)


def activate_secret(call: ApiCall) -> Response:
    webhooks.activate_secret(
        call.deps, call.scope, call.path_param("subscriptionId"), call.path_param("secretId")
    )
    return Response(status_code=204)


def delete_secret(call: ApiCall) -> Response:
    webhooks.delete_secret(
        call.deps, call.scope, call.path_param("subscriptionId"), call.path_param("secretId")
    )
    return Response(status_code=204)


def list_deliveries(call: ApiCall) -> Response:
    views = webhooks.list_deliveries(call.deps, call.scope, call.path_param("subscriptionId"))
    return json_response({"data": [present_delivery(v) for v in views]})


def retry_event(call: ApiCall) -> Response:
    count = webhooks.retry_event(call.deps, call.scope, call.path_param("eventId"))
    return json_response({"eventId": call.path_param("eventId"), "deliveriesScheduled": count})


def _events_method_not_allowed(request: Request) -> Response:
    """Without this, DELETE or PATCH /webhooks/events would reach /webhooks/{subscriptionId}."""
    raise HTTPException(405, headers={"Allow": "GET, HEAD"})


# Literal segments first: /webhooks/events and /webhooks/deliveries/… before /webhooks/{id}.
ROUTES: list[Route] = [
    api_route(
        "/webhooks/events",
        GET=Operation(
            list_events, summary="List the events one can subscribe to", success=(200, "WebhookEvents")
        ),
    ),
    Route("/webhooks/events", _events_method_not_allowed, methods=["POST", "PUT", "PATCH", "DELETE"]),
    api_route(
        "/webhooks/deliveries/{eventId}/retry",
        POST=Operation(
            retry_event,
            summary="Send an event again now",
            success=(200, "RetryScheduled"),
            errors=(404,),
            extension=True,
        ),
    ),
    api_route(
        "/webhooks",
        GET=Operation(list_subscriptions, summary="List subscriptions", success=(200, "SubscriptionList")),
        POST=Operation(
            subscribe,
            schemas.SUBSCRIBE,
            body_required=True,
            summary="Subscribe a receiver URL to events",
            success=(200, "Subscription"),
            errors=(409, 413, 415),
        ),
    ),
    api_route(
        "/webhooks/{subscriptionId}",
        PATCH=Operation(
            update,
            schemas.UPDATE_SUBSCRIPTION,
            body_required=True,
            summary="Change a subscription (re-enables one a 410 disabled)",
            success=(200, "Subscription"),
            errors=(404, 409, 413, 415),
        ),
        DELETE=Operation(unsubscribe, summary="Delete a subscription", success=(204, None), errors=(404,)),
    ),
    api_route(
        "/webhooks/{subscriptionId}/deliveries",
        GET=Operation(
            list_deliveries,
            summary="Recent deliveries and their attempts",
            success=(200, "DeliveryList"),
            errors=(404,),
            extension=True,
        ),
    ),
    api_route(
        "/webhooks/{subscriptionId}/secrets",
        GET=Operation(list_secrets, summary="List secrets", success=(200, "SecretsResponse"), errors=(404,)),
        POST=Operation(
            generate_secret,
            summary="Generate a new, inactive secret",
            success=(200, "SecretsResponse"),
            errors=(404, 409),
        ),
    ),
    api_route(
        "/webhooks/{subscriptionId}/secrets/{secretId}/activate",
        PUT=Operation(
            activate_secret, summary="Make a secret the signing one", success=(204, None), errors=(404,)
        ),
    ),
    api_route(
        "/webhooks/{subscriptionId}/secrets/{secretId}",
        DELETE=Operation(
            delete_secret, summary="Delete an inactive secret", success=(204, None), errors=(404, 409)
        ),
    ),
]
