"""The payment list (search, totals, keyset pages) and a payment's detail page."""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.routing import Route

from payintents.domain.intent import PaymentIntent, Status
from payintents.service import dashboard
from payintents.service.dashboard import PaymentDetail, PaymentList
from payintents.web.dashboard.filters import STATUSES, ListRequest, encode_row_cursor, parse_list_request
from payintents.web.dashboard.pages import Visit, page

_REFUND_ID = re.compile(r"rfnd_[A-Za-z0-9_-]{1,60}")


def payments(visit: Visit) -> Response:
    wanted = parse_list_request(visit.request.query_params)
    if wanted.errors:
        return visit.render("payments.html", 400, nav="payments", wanted=wanted, statuses=STATUSES)
    found = dashboard.list_payments(
        visit.deps, visit.scope, wanted.payment_filter, after=wanted.after, before=wanted.before
    )
    return visit.render(
        "payments.html",
        nav="payments",
        wanted=wanted,
        statuses=STATUSES,
        found=found,
        older=_older_link(wanted, found),
        newer=_newer_link(wanted, found),
    )


def _older_link(wanted: ListRequest, found: PaymentList) -> str | None:
    rows, has_more = found.page.rows, found.page.has_more
    older_exist = has_more if wanted.before is None else True
    return wanted.page_link(after=encode_row_cursor(rows[-1])) if rows and older_exist else None


def _newer_link(wanted: ListRequest, found: PaymentList) -> str | None:
    rows, has_more = found.page.rows, found.page.has_more
    newer_exist = wanted.after is not None or (wanted.before is not None and has_more)
    return wanted.page_link(before=encode_row_cursor(rows[0])) if rows and newer_exist else None


def payment(visit: Visit) -> Response:
    detail = dashboard.payment_detail(visit.deps, visit.scope, visit.intent_id)
    return visit.render(
        "payment.html",
        nav="payments",
        detail=detail,
        intent=detail.intent,
        refundable=can_refund(detail.intent),
        new_refund=_new_refund(visit, detail),
    )


def can_refund(intent: PaymentIntent) -> bool:
    return intent.status is Status.CAPTURED and intent.remaining_refundable > 0


def _new_refund(visit: Visit, detail: PaymentDetail) -> dashboard.RefundLine | None:
    """The refund just made here, named in the redirect after the confirmation step."""
    refund_id = visit.request.query_params.get("refund", "")
    if not _REFUND_ID.fullmatch(refund_id):
        return None
    return next((line for line in detail.refunds if line.refund.id == refund_id), None)


ROUTES = [
    Route("/payments", page(payments), methods=["GET"]),
    Route("/payments/{paymentIntentId}", page(payment), methods=["GET"]),
]
