"""The dashboard's customers: the account's customers, and each one's saved cards (ADR 0028)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.customer import CUSTOMER_NOT_FOUND
from payintents.domain.errors import NotFoundError
from payintents.service import customers
from payintents.web.dashboard.pages import Visit, page
from payintents.web.http_input import is_plausible_id

# The list shows the first customers only; the API's search pages through all of them.
LISTED = 100


def customer_list(visit: Visit) -> Response:
    found = customers.first_customers(visit.deps, visit.scope, LISTED)
    return visit.render("customers.html", nav="customers", customers=found.customers, more=found.has_more)


def customer_detail(visit: Visit) -> Response:
    customer_id = str(visit.request.path_params["customerId"])
    if not is_plausible_id(customer_id):
        raise NotFoundError(CUSTOMER_NOT_FOUND)
    customer, cards = customers.customer_and_cards(visit.deps, visit.scope, customer_id)
    return visit.render("customer.html", nav="customers", customer=customer, cards=cards)


ROUTES = [
    Route("/customers", page(customer_list), methods=["GET"]),
    Route("/customers/{customerId}", page(customer_detail), methods=["GET"]),
]
