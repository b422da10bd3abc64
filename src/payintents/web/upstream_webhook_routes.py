"""The receiver of Dojo's webhooks for a gateway account (extension, ADR 0033):
``POST /upstream/dojo/webhooks/{account}``.

It takes no API key: Dojo signs each delivery (``dojo-signature``) with the secret of the
subscription the gateway made. A delivery that does not verify gets 401 in Dojo's error shape and
changes nothing; one that does gets 200 at once, and the intent it names is read at Dojo and
followed after the answer has gone, so Dojo never waits on Dojo.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.errors import ValidationError
from payintents.service.dependencies import Dependencies
from payintents.service.upstream_webhooks import (
    RECEIVER_PATH,
    UpstreamSignatureError,
    follow_delivery,
    verified_intent_id,
)
from payintents.web.endpoint import json_response
from payintents.web.http_input import is_plausible_id, read_body
from payintents.web.problems import problem_response, response_for_exception, trace_id_of

REFUSED = "The delivery's dojo-signature does not verify for this account's subscription."


async def receive(request: Request) -> Response:
    trace_id = trace_id_of(request)
    account_id = str(request.path_params["account"])
    deps: Dependencies = request.app.state.deps
    try:
        body = await read_body(request)
        if not is_plausible_id(account_id):
            raise UpstreamSignatureError  # no such account: the one answer for every refusal
        signature = request.headers.get("dojo-signature")
        intent_id = await verified_intent_id(deps, account_id, body, signature)
        if not is_plausible_id(intent_id):
            raise ValidationError({"data.paymentIntentId": ["The event names no payment intent."]})
    except UpstreamSignatureError:
        return problem_response(401, trace_id, detail=REFUSED)
    except Exception as exc:
        return response_for_exception(exc, trace_id)
    response = json_response({"received": True})
    response.background = BackgroundTask(follow_delivery, deps, account_id, intent_id)
    return response


ROUTES = [Route(RECEIVER_PATH, receive, methods=["POST"])]
