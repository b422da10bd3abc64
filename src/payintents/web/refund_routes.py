"""Routes for refunds: Dojo's create endpoint, retrieval by id, and the list extension.

There is no way to cancel or delete a refund: other methods on these paths answer 405 + Allow.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import ValidationError
from payintents.domain.idempotency import StoredResponse
from payintents.domain.refund import RefundOutcome, RefundRequest
from payintents.service import refunds
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, Operation, answer_response, api_route, json_response
from payintents.web.presenters import (
    present_refund,
    present_refund_created,
    present_refund_listed,
    stored_json,
)
from payintents.web.request_bodies import CreateRefundBody

MAX_REFUND_ID_LENGTH = 50


async def create(call: ApiCall[CreateRefundBody]) -> Response:
    intent_id = call.path_param("paymentIntentId")
    # The endpoint already refused a missing or malformed key, together with any body errors.
    idempotent = call.idempotent(intent_id, required=True)
    body = call.body
    refund_request = RefundRequest(
        amount=body.amount,
        refund_reason=body.refund_reason,
        notes=body.notes,
        previous_transaction_id=body.previous_transaction_id,
    )

    def render(outcome: RefundOutcome) -> StoredResponse:
        return stored_json(present_refund_created(outcome))

    answer = await refunds.create_refund(
        call.deps, call.context, call.scope, intent_id, refund_request, idempotent, render
    )
    return answer_response(answer)


async def list_for_intent(call: ApiCall) -> Response:
    found = await refunds.list_refunds(call.deps, call.scope, call.path_param("paymentIntentId"))
    return json_response({"data": [present_refund_listed(r) for r in found]})


async def get(call: ApiCall) -> Response:
    refund_id = call.path_param("refundId")
    if len(refund_id) > MAX_REFUND_ID_LENGTH:
        raise ValidationError(
            {"refundId": [f"The refundId must be at most {MAX_REFUND_ID_LENGTH} characters."]}
        )
    return json_response(present_refund(await refunds.get_refund(call.deps, call.scope, refund_id)))


# Literal segments first: /payment-intents/refunds/{refundId} must win over /{paymentIntentId}.
ROUTES: list[Route] = [
    api_route(
        "/payment-intents/refunds/{refundId}",
        GET=Operation(get, summary="Retrieve a refund", success=(200, "Refund"), errors=(404,)),
    ),
    api_route(
        "/payment-intents/{paymentIntentId}/refunds",
        POST=Operation(
            create,
            schemas.CREATE_REFUND,
            body_required=True,
            key_required=True,
            summary="Refund all or part of a captured payment",
            success=(200, "RefundCreated"),
            # 502: the processor failed (sandbox: fail-next "processor_error"); nothing was refunded.
            # 504: it did not answer in time; the outcome is settled later, a retry answers it.
            errors=(404, 409, 413, 415, 502, 504),
        ),
        GET=Operation(
            list_for_intent,
            summary="List a payment intent's refunds with amounts",
            success=(200, "RefundList"),
            errors=(404,),
            extension=True,
        ),
    ),
]
