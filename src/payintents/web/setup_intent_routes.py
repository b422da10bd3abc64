"""Routes for setup intents (create, read, cancel, refresh the client session secret, and their
public twins found by id alone) and the merchant-initiated charge of the card one saved."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import PaymentIntent
from payintents.domain.setup_intent import SetupIntent
from payintents.service import charges, setup_intents
from payintents.web import request_schemas as schemas
from payintents.web.customer_presenters import (
    present_charge,
    present_setup_intent,
    present_setup_intent_public,
)
from payintents.web.endpoint import ApiCall, Auth, Operation, answer_response, api_route, json_response
from payintents.web.presenters import stored_json
from payintents.web.request_bodies import CreateSetupIntentBody

CREATE_TARGET = "setup-intents"
# Dojo's limit on the setupIntentId path parameter.
MAX_SETUP_INTENT_ID_LENGTH = 50


async def create(call: ApiCall[CreateSetupIntentBody]) -> Response:
    def render(intent: SetupIntent) -> StoredResponse:
        return stored_json(present_setup_intent(intent))

    answer = await setup_intents.create_setup_intent(
        call.deps,
        call.context,
        call.scope,
        dict(call.document),
        call.body.expire_at,
        call.idempotent(CREATE_TARGET),
        render,
    )
    return answer_response(answer)


async def get(call: ApiCall) -> Response:
    found = await setup_intents.get_setup_intent(call.deps, call.context, call.scope, _id(call))
    return json_response(present_setup_intent(found))


async def cancel(call: ApiCall) -> Response:
    changed = await setup_intents.change_setup_intent(
        call.deps, call.context, call.scope, _id(call), "cancel"
    )
    return json_response(present_setup_intent(changed))


async def refresh_secret(call: ApiCall) -> Response:
    changed = await setup_intents.change_setup_intent(
        call.deps, call.context, call.scope, _id(call), "refresh"
    )
    return json_response(present_setup_intent(changed))


async def get_public(call: ApiCall) -> Response:
    found = await setup_intents.find_public(call.deps, _id(call))
    return json_response(present_setup_intent_public(found, with_secret=False))


async def refresh_secret_public(call: ApiCall) -> Response:
    changed = await setup_intents.change_setup_intent(call.deps, None, None, _id(call), "refresh")
    return json_response(present_setup_intent_public(changed, with_secret=True))


async def charge(call: ApiCall) -> Response:
    intent_id = call.path_param("paymentIntentId")

    def render(intent: PaymentIntent) -> StoredResponse:
        return stored_json(present_charge(intent))

    answer = await charges.charge_intent(
        call.deps, call.context, call.scope, intent_id, call.idempotent(intent_id), render
    )
    return answer_response(answer)


def _id(call: ApiCall[Any]) -> str:
    return call.limited_path_param("setupIntentId", MAX_SETUP_INTENT_ID_LENGTH)


SETUP_INTENT = "SetupIntent"
PUBLIC = "SetupIntentPublic"

# Literal segments first: /setup-intents/public/{id} before /setup-intents/{id}.
ROUTES: list[Route] = [
    api_route(
        "/setup-intents",
        POST=Operation(
            create,
            schemas.CREATE_SETUP_INTENT,
            body_required=True,
            idempotent=True,
            summary="Create a setup intent (save a card for merchant-initiated charges)",
            success=(200, SETUP_INTENT),
            errors=(409, 413, 415),
        ),
    ),
    api_route(
        "/setup-intents/public/{setupIntentId}",
        GET=Operation(
            get_public,
            summary="Retrieve a setup intent by id alone",
            success=(200, PUBLIC),
            errors=(404,),
            auth=Auth.NONE,
        ),
    ),
    api_route(
        "/setup-intents/public/{setupIntentId}/refresh-client-session-secret",
        POST=Operation(
            refresh_secret_public,
            summary="Issue a new client session secret, by id alone",
            success=(200, PUBLIC),
            errors=(404, 409),
            auth=Auth.NONE,
        ),
    ),
    api_route(
        "/setup-intents/{setupIntentId}",
        GET=Operation(get, summary="Retrieve a setup intent", success=(200, SETUP_INTENT), errors=(404,)),
        DELETE=Operation(
            cancel,
            summary="Cancel a setup intent (Created or Authorized)",
            success=(200, SETUP_INTENT),
            errors=(404,),
        ),
    ),
    api_route(
        "/setup-intents/{setupIntentId}/refresh-client-session-secret",
        POST=Operation(
            refresh_secret,
            summary="Issue a new client session secret",
            success=(200, SETUP_INTENT),
            errors=(404, 409),
        ),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/charge",
        POST=Operation(
            charge,
            summary="Charge the card the intent's setup intent saved (merchant-initiated)",
            success=(200, "ChargeResponse"),
            idempotent=True,
            # 400: no chargeable setup intent, or the processor declined; 502: it failed;
            # 504: it did not answer in time, the outcome is settled later.
            errors=(404, 409, 502, 504),
        ),
    ),
]
