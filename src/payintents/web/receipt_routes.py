"""Routes for receipts: Dojo's ``POST /payment-intents/{id}/receipt`` (204), and the sandbox's
receipt outbox ``GET /sandbox/receipts`` (extension, sandbox keys only)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.receipts import Receipt
from payintents.service import receipts
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, Operation, api_route, json_response
from payintents.web.presenters import iso
from payintents.web.request_bodies import SendReceiptBody
from payintents.web.sandbox_routes import int_param

MAX_RECEIPTS = 100


async def send(call: ApiCall[SendReceiptBody]) -> Response:
    intent_id = call.path_param("paymentIntentId")
    await receipts.send_receipt(call.deps, call.context, call.scope, intent_id, call.body.emails)
    return Response(status_code=204)


async def outbox(call: ApiCall) -> Response:
    params = call.request.query_params
    limit = int_param(params.get("limit"), "limit", 1, MAX_RECEIPTS) or 20
    found = await receipts.list_receipts(call.deps, call.scope, params.get("paymentIntentId") or None, limit)
    return json_response({"data": [present_receipt(receipt) for receipt in found]})


def present_receipt(receipt: Receipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "paymentIntentId": receipt.payment_intent_id,
        "recipients": list(receipt.recipients),
        "subject": receipt.subject,
        "text": receipt.text,
        "html": receipt.html,
        "createdAt": iso(receipt.created_at),
    }


ROUTES: list[Route] = [
    api_route(
        "/payment-intents/{paymentIntentId}/receipt",
        POST=Operation(
            send,
            schemas.SEND_RECEIPT,
            body_required=True,
            summary="Send the payment's receipt (the sandbox records it in its outbox instead)",
            success=(204, None),
            errors=(404, 413, 415, 502),
        ),
    ),
    api_route(
        "/sandbox/receipts",
        GET=Operation(
            outbox,
            summary="The sandbox's receipt outbox: receipts recorded instead of mailed, newest first",
            success=(200, "ReceiptList"),
            errors=(404,),
            extension=True,
            query=(
                ("paymentIntentId", {"type": "string"}),
                ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_RECEIPTS}),
            ),
        ),
    ),
]
