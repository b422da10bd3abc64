"""The sandbox's hosted checkout: an HTML card form and its JSON twin, plus the 3DS step.

Like Dojo's payment link, these need no API key: the intent id is the capability. Failures use
Dojo's error body all the same.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from payintents.domain.intent import PaymentIntent
from payintents.service import checkout
from payintents.service.dependencies import Dependencies
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import json_response
from payintents.web.http_input import parse_json, read_body
from payintents.web.presenters import present_intent
from payintents.web.problems import new_trace_id, response_for_exception
from payintents.web.wire import validate

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay {reference} (sandbox)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
label{{display:block;margin-top:.75rem}}input{{width:100%;padding:.4rem;font-size:1rem}}
button{{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}}</style></head>
<body><main>
<h1>Pay {amount} {currency}</h1>
<p>Reference: {reference}. Status: <strong id="status">{status}</strong>. Sandbox: use a Dojo test card
(5200 0000 0000 1005 succeeds, 5200 0000 0000 1096 asks for 3-D Secure, 4456 5300 0000 1013 is declined).</p>
<form id="pay">
<label for="cardNumber">Card number</label><input id="cardNumber" name="cardNumber" autocomplete="cc-number" required>
<label for="expiryDate">Expiry (MM/YY)</label><input id="expiryDate" name="expiryDate" autocomplete="cc-exp" required>
<label for="cvv">CVV</label><input id="cvv" name="cvv" autocomplete="cc-csc" required>
<label for="cardName">Name on card</label><input id="cardName" name="cardName" autocomplete="cc-name">
<button type="submit">Pay</button>
</form>
<p id="result" role="status"></p>
<script>
const form = document.getElementById("pay");
async function post(path, body) {{
  const r = await fetch(location.pathname.replace(/\/$/, "") + "/" + path, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)}});
  return r.json();
}}
form.addEventListener("submit", async (e) => {{
  e.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  body.cardNumber = body.cardNumber.replace(/\\s+/g, "");
  if (!body.cardName) delete body.cardName;
  let pi = await post("pay", body);
  if (pi.paymentEvents && pi.paymentEvents.at(-1).eventType === "AuthChallenged") {{
    const pass = confirm("3-D Secure challenge: approve this payment?");
    pi = await post("3ds", {{outcome: pass ? "pass" : "fail"}});
  }}
  document.getElementById("status").textContent = pi.status || "";
  document.getElementById("result").textContent = pi.detail || ("Payment " + pi.status);
}});
</script>
</main></body></html>
"""


def _page(intent: PaymentIntent) -> str:
    amount = intent.total_amount
    return _PAGE.format(
        reference=html.escape(intent.reference),
        amount=f"{amount.value / 100:.2f}",
        currency=amount.currency.value,
        status=intent.status.value,
    )


async def page(request: Request) -> Response:
    trace_id = new_trace_id()
    deps: Dependencies = request.app.state.deps
    try:
        intent_id = str(request.path_params["paymentIntentId"])
        intent = await run_in_threadpool(checkout.find_payable, deps, intent_id)
        return HTMLResponse(_page(intent))
    except Exception as exc:
        return response_for_exception(exc, trace_id)


async def pay(request: Request) -> Response:
    return await _post(request, schemas.PAY, _pay)


async def challenge(request: Request) -> Response:
    return await _post(request, schemas.CHALLENGE, _challenge)


def _pay(deps: Dependencies, intent_id: str, body: dict[str, Any]) -> PaymentIntent:
    card = checkout.CardDetails(
        number=body["cardNumber"].replace(" ", ""),
        expiry=body["expiryDate"],
        cvv=body["cvv"],
        name=body.get("cardName"),
    )
    return checkout.pay(deps, intent_id, card)


def _challenge(deps: Dependencies, intent_id: str, body: dict[str, Any]) -> PaymentIntent:
    return checkout.complete_challenge(deps, intent_id, body["outcome"] == "pass")


async def _post(request: Request, schema: Any, action: Any) -> Response:
    trace_id = new_trace_id()
    try:
        raw = await read_body(request)
        body = validate(schema, parse_json(request, raw, body_required=True))
        deps: Dependencies = request.app.state.deps
        intent_id = str(request.path_params["paymentIntentId"])
        intent = await run_in_threadpool(action, deps, intent_id, body)
        return json_response(present_intent(intent, str(request.base_url)))
    except Exception as exc:
        return response_for_exception(exc, trace_id)


ROUTES: list[Route] = [
    Route("/checkout/{paymentIntentId}", page, methods=["GET"]),
    Route("/checkout/{paymentIntentId}/pay", pay, methods=["POST"]),
    Route("/checkout/{paymentIntentId}/3ds", challenge, methods=["POST"]),
]
