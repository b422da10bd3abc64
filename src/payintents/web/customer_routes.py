"""Routes for customers: create, read, update, delete, search, customer secrets, and the
customer's own saved cards (``/customers/public/…``, authorised by a customer secret)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.customer import Customer
from payintents.domain.errors import ValidationError
from payintents.service import customers
from payintents.service.customer_ports import CustomerPage
from payintents.web import request_schemas as schemas
from payintents.web.customer_presenters import present_customer, present_payment_methods, present_secret
from payintents.web.endpoint import ApiCall, Auth, Operation, answer_response, api_route, json_response
from payintents.web.presenters import stored_json
from payintents.web.request_bodies import CustomerBody, SearchCustomersBody

CREATE_TARGET = "customers"
# Dojo's limit on customerId and paymentMethodId path parameters.
MAX_ID_LENGTH = 100


def _customer_id(call: ApiCall[object]) -> str:
    return call.limited_path_param("customerId", MAX_ID_LENGTH)


async def create(call: ApiCall[CustomerBody]) -> Response:
    def render(customer: Customer) -> Any:
        return stored_json(present_customer(customer))

    answer = await customers.create_customer(
        call.deps, call.context, call.scope, dict(call.document), call.idempotent(CREATE_TARGET), render
    )
    return answer_response(answer)


async def get(call: ApiCall) -> Response:
    """Dojo's GET takes one id or several, comma-separated, and answers an array."""
    wanted = [part.strip() for part in _customer_id(call).split(",") if part.strip()]
    found = await customers.get_customers(call.deps, call.scope, wanted)
    return json_response([present_customer(customer) for customer in found])


async def update(call: ApiCall[CustomerBody]) -> Response:
    customer_id = _customer_id(call)
    changed = await customers.update_customer(
        call.deps, call.context, call.scope, customer_id, dict(call.document)
    )
    return json_response(present_customer(changed))


async def delete(call: ApiCall) -> Response:
    await customers.delete_customer(call.deps, call.scope, _customer_id(call))
    return Response(status_code=204)


async def create_secret(call: ApiCall) -> Response:
    secret = await customers.create_secret(call.deps, call.context, call.scope, _customer_id(call))
    return json_response(present_secret(secret))


async def search(call: ApiCall[SearchCustomersBody]) -> Response:
    body = call.body
    if body.before and body.after:
        raise ValidationError({"after": ["Send either before or after, not both."]})
    page = await customers.search_customers(call.deps, call.scope, body.limit or 50, body.after, body.before)
    return json_response(_present_page(page, body))


def _present_page(page: CustomerPage, body: SearchCustomersBody) -> dict[str, Any]:
    found = page.customers
    # Oldest first: "after" pages forward, "before" back; a cursor is the id at the page's edge.
    later_exist = page.has_more if body.before is None else True
    earlier_exist = body.after is not None or (body.before is not None and page.has_more)
    return {
        "data": [present_customer(c) for c in found],
        "before": found[0].id if found and earlier_exist else None,
        "after": found[-1].id if found and later_exist else None,
    }


async def list_payment_methods(call: ApiCall) -> Response:
    customer_id = _customer_id(call)
    customers.ensure_same_customer(call.customer_id, customer_id)
    methods = await customers.list_payment_methods(call.deps, call.scope, customer_id)
    return json_response(present_payment_methods(customer_id, call.scope.account_id, methods))


async def delete_payment_method(call: ApiCall) -> Response:
    customer_id = _customer_id(call)
    customers.ensure_same_customer(call.customer_id, customer_id)
    await customers.delete_payment_method(
        call.deps, call.scope, customer_id, call.limited_path_param("paymentMethodId", MAX_ID_LENGTH)
    )
    return Response(status_code=204)


CUSTOMER = "CustomerFull"

# Literal segments first: /customers/search and /customers/public/... before /customers/{customerId}.
ROUTES: list[Route] = [
    api_route(
        "/customers",
        POST=Operation(
            create,
            schemas.CREATE_CUSTOMER,
            body_required=True,
            idempotent=True,
            summary="Create a customer",
            success=(200, CUSTOMER),
            errors=(409, 413, 415),
        ),
    ),
    api_route(
        "/customers/search",
        POST=Operation(
            search,
            schemas.SEARCH_CUSTOMERS,
            body_required=True,
            summary="List customers, oldest first, with cursors",
            success=(200, "PagedCustomer"),
            errors=(413, 415),
        ),
    ),
    api_route(
        "/customers/public/{customerId}/payment-methods",
        GET=Operation(
            list_payment_methods,
            summary="List a customer's saved cards (customer secret)",
            success=(200, "CustomerPaymentMethods"),
            errors=(404,),
            auth=Auth.CUSTOMER_SECRET,
        ),
    ),
    api_route(
        "/customers/public/{customerId}/payment-methods/{paymentMethodId}",
        DELETE=Operation(
            delete_payment_method,
            summary="Delete a customer's saved card (customer secret)",
            success=(204, None),
            errors=(404,),
            auth=Auth.CUSTOMER_SECRET,
        ),
    ),
    api_route(
        "/customers/{customerId}",
        GET=Operation(
            get,
            summary="Retrieve customers (one id, or several comma-separated)",
            success=(200, "CustomerList"),
            errors=(404,),
        ),
        PATCH=Operation(
            update,
            schemas.UPDATE_CUSTOMER,
            body_required=True,
            summary="Update a customer",
            success=(200, CUSTOMER),
            errors=(404, 413, 415),
        ),
        DELETE=Operation(
            delete, summary="Delete a customer and their saved cards", success=(204, None), errors=(404,)
        ),
    ),
    api_route(
        "/customers/{customerId}/create-secret",
        POST=Operation(
            create_secret,
            summary="Issue a short-lived customer secret",
            success=(200, "CustomerSecret"),
            errors=(404,),
        ),
    ),
]
