"""``Client`` and ``AsyncClient``: the same resources and methods, one blocking, one awaitable.

Each resource method is built from one operation in ``_operations`` (same signature, same
docstring), so the two clients cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import typing
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeVar

import httpx

from payintents_client import _customer_operations as cops
from payintents_client import _operations as ops
from payintents_client import _sandbox_operations as sandbox_ops
from payintents_client import _terminal_operations as terminal_ops
from payintents_client import _transport as tr
from payintents_client._operations import Call
from payintents_client.models import PaymentIntent
from payintents_client.sandbox_models import SandboxCard

P = ParamSpec("P")
T = TypeVar("T")


class _Runs(Protocol):
    def _execute(self, call: Call[T]) -> T: ...


class _RunsAsync(Protocol):
    async def _execute(self, call: Call[T]) -> T: ...


class _Resource:
    def __init__(self, client: _Runs) -> None:
        self._client = client


class _AsyncResource:
    def __init__(self, client: _RunsAsync) -> None:
        self._client = client


def _as_method(method: Any, op: Callable[..., Any]) -> None:
    """Give ``method`` the operation's name, docs and signature, with ``self`` first (for help())."""
    functools.update_wrapper(method, op)
    signature = inspect.signature(op)
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    (answer,) = typing.get_args(typing.get_type_hints(op)["return"])  # Call[X] -> X
    method.__signature__ = signature.replace(
        parameters=[self_parameter, *signature.parameters.values()], return_annotation=answer
    )


def _blocking(op: Callable[P, Call[T]]) -> Callable[Concatenate[_Resource, P], T]:
    def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._client._execute(op(*args, **kwargs))

    _as_method(method, op)
    return method


def _awaitable(op: Callable[P, Call[T]]) -> Callable[Concatenate[_AsyncResource, P], Coroutine[Any, Any, T]]:
    async def method(self: _AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._client._execute(op(*args, **kwargs))

    _as_method(method, op)
    return method


class PaymentIntents(_Resource):
    """``client.payment_intents``."""

    create = _blocking(ops.create_intent)
    get = _blocking(ops.get_intent)
    cancel = _blocking(ops.cancel_intent)
    search_page = _blocking(ops.search_page)
    capture = _blocking(ops.capture)
    reverse = _blocking(ops.reverse)
    change_amount = _blocking(ops.change_amount)
    change_tips = _blocking(ops.change_tips)
    refresh_client_session_secret = _blocking(ops.refresh_client_session_secret)
    send_receipt = _blocking(ops.send_receipt)
    charge = _blocking(cops.charge)

    def search(
        self,
        *,
        statuses: Sequence[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[PaymentIntent]:
        """Every matching intent, newest first, fetching further pages as the loop needs them."""
        after: str | None = None
        while True:
            page = self.search_page(
                statuses=statuses, start_date=start_date, end_date=end_date, limit=page_size, after=after
            )
            yield from page.data
            if not page.after or not page.data:
                return
            after = page.after


class AsyncPaymentIntents(_AsyncResource):
    """``client.payment_intents`` of an ``AsyncClient``."""

    create = _awaitable(ops.create_intent)
    get = _awaitable(ops.get_intent)
    cancel = _awaitable(ops.cancel_intent)
    search_page = _awaitable(ops.search_page)
    capture = _awaitable(ops.capture)
    reverse = _awaitable(ops.reverse)
    change_amount = _awaitable(ops.change_amount)
    change_tips = _awaitable(ops.change_tips)
    refresh_client_session_secret = _awaitable(ops.refresh_client_session_secret)
    send_receipt = _awaitable(ops.send_receipt)
    charge = _awaitable(cops.charge)

    async def search(
        self,
        *,
        statuses: Sequence[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[PaymentIntent]:
        """Every matching intent, newest first, fetching further pages as the loop needs them."""
        after: str | None = None
        while True:
            page = await self.search_page(
                statuses=statuses, start_date=start_date, end_date=end_date, limit=page_size, after=after
            )
            for intent in page.data:
                yield intent
            if not page.after or not page.data:
                return
            after = page.after


class Refunds(_Resource):
    """``client.refunds``."""

    create = _blocking(ops.create_refund)
    get = _blocking(ops.get_refund)
    list = _blocking(ops.list_refunds)


class AsyncRefunds(_AsyncResource):
    """``client.refunds`` of an ``AsyncClient``."""

    create = _awaitable(ops.create_refund)
    get = _awaitable(ops.get_refund)
    list = _awaitable(ops.list_refunds)


class Webhooks(_Resource):
    """``client.webhooks``: subscriptions, their secrets and (extension) deliveries."""

    events = _blocking(ops.webhook_events)
    list = _blocking(ops.list_subscriptions)
    create = _blocking(ops.subscribe)
    update = _blocking(ops.update_subscription)
    delete = _blocking(ops.delete_subscription)
    secrets = _blocking(ops.list_secrets)
    generate_secret = _blocking(ops.generate_secret)
    activate_secret = _blocking(ops.activate_secret)
    delete_secret = _blocking(ops.delete_secret)
    deliveries = _blocking(ops.list_deliveries)
    retry_event = _blocking(ops.retry_event)


class AsyncWebhooks(_AsyncResource):
    """``client.webhooks`` of an ``AsyncClient``."""

    events = _awaitable(ops.webhook_events)
    list = _awaitable(ops.list_subscriptions)
    create = _awaitable(ops.subscribe)
    update = _awaitable(ops.update_subscription)
    delete = _awaitable(ops.delete_subscription)
    secrets = _awaitable(ops.list_secrets)
    generate_secret = _awaitable(ops.generate_secret)
    activate_secret = _awaitable(ops.activate_secret)
    delete_secret = _awaitable(ops.delete_secret)
    deliveries = _awaitable(ops.list_deliveries)
    retry_event = _awaitable(ops.retry_event)


class Terminals(_Resource):
    """``client.terminals``: Dojo's card terminals (needs ``software_house_id``)."""

    list = _blocking(terminal_ops.list_terminals)
    get = _blocking(terminal_ops.get_terminal)


class AsyncTerminals(_AsyncResource):
    list = _awaitable(terminal_ops.list_terminals)
    get = _awaitable(terminal_ops.get_terminal)


class TerminalSessions(_Resource):
    """``client.terminal_sessions``: sales and refunds on a terminal (Dojo's Pay at Counter)."""

    start_sale = _blocking(terminal_ops.start_sale)
    start_matched_refund = _blocking(terminal_ops.start_matched_refund)
    start_unlinked_refund = _blocking(terminal_ops.start_unlinked_refund)
    get = _blocking(terminal_ops.get_session)
    cancel = _blocking(terminal_ops.cancel_session)
    answer_signature = _blocking(terminal_ops.answer_signature)


class AsyncTerminalSessions(_AsyncResource):
    start_sale = _awaitable(terminal_ops.start_sale)
    start_matched_refund = _awaitable(terminal_ops.start_matched_refund)
    start_unlinked_refund = _awaitable(terminal_ops.start_unlinked_refund)
    get = _awaitable(terminal_ops.get_session)
    cancel = _awaitable(terminal_ops.cancel_session)
    answer_signature = _awaitable(terminal_ops.answer_signature)


class Customers(_Resource):
    """``client.customers``: customers, their secrets and saved cards."""

    create = _blocking(cops.create_customer)
    get = _blocking(cops.get_customers)
    update = _blocking(cops.update_customer)
    delete = _blocking(cops.delete_customer)
    create_secret = _blocking(cops.create_customer_secret)
    search_page = _blocking(cops.search_customers)
    payment_methods = _blocking(cops.payment_methods)
    delete_payment_method = _blocking(cops.delete_payment_method)


class AsyncCustomers(_AsyncResource):
    """``client.customers`` of an ``AsyncClient``."""

    create = _awaitable(cops.create_customer)
    get = _awaitable(cops.get_customers)
    update = _awaitable(cops.update_customer)
    delete = _awaitable(cops.delete_customer)
    create_secret = _awaitable(cops.create_customer_secret)
    search_page = _awaitable(cops.search_customers)
    payment_methods = _awaitable(cops.payment_methods)
    delete_payment_method = _awaitable(cops.delete_payment_method)


class SetupIntents(_Resource):
    """``client.setup_intents``: save a card for merchant-initiated charges."""

    create = _blocking(cops.create_setup_intent)
    get = _blocking(cops.get_setup_intent)
    cancel = _blocking(cops.cancel_setup_intent)
    refresh_client_session_secret = _blocking(cops.refresh_setup_secret)
    get_public = _blocking(cops.get_public_setup_intent)
    refresh_public_client_session_secret = _blocking(cops.refresh_public_setup_secret)


class AsyncSetupIntents(_AsyncResource):
    """``client.setup_intents`` of an ``AsyncClient``."""

    create = _awaitable(cops.create_setup_intent)
    get = _awaitable(cops.get_setup_intent)
    cancel = _awaitable(cops.cancel_setup_intent)
    refresh_client_session_secret = _awaitable(cops.refresh_setup_secret)
    get_public = _awaitable(cops.get_public_setup_intent)
    refresh_public_client_session_secret = _awaitable(cops.refresh_public_setup_secret)


class Sandbox(_Resource):
    """``client.sandbox``: payintents' sandbox (extensions; sandbox keys only, never Dojo)."""

    present_card = _blocking(terminal_ops.present_card)
    configure_terminal = _blocking(terminal_ops.configure_terminal)

    fail_next = _blocking(sandbox_ops.fail_next)
    clock = _blocking(sandbox_ops.show_clock)
    advance_clock = _blocking(sandbox_ops.advance_clock)
    reset = _blocking(sandbox_ops.reset)
    requests = _blocking(sandbox_ops.list_requests)
    receipts = _blocking(sandbox_ops.list_receipts)

    def pay(
        self,
        payment_intent_id: str,
        card: str = SandboxCard.SUCCESS,
        *,
        expiry: str = "12/29",
        cvv: str = "020",
        card_name: str | None = None,
    ) -> PaymentIntent:
        """Pay a ``Created`` intent on its sandbox checkout with a test card, as a shopper would;
        the intent as your key then sees it.

        ``SandboxCard.SUCCESS`` (the default): Auto → ``Captured``, Manual → ``Authorized``.
        ``SandboxCard.CHALLENGE``: still ``Created``, last payment event ``AuthChallenged``; finish
        with ``complete_challenge``. A declined card: still ``Created``, last payment event
        ``Declined`` with the reason as its ``message`` (not an error). Raises only when the
        payment could not be tried: a transport error, or an error answer (404 unknown intent,
        409 already paid, 502 the processor-error card, 504 the timeout card). payintents only.
        """
        self._client._execute(sandbox_ops.checkout_pay(payment_intent_id, card, expiry, cvv, card_name))
        return self._client._execute(ops.get_intent(payment_intent_id))

    def complete_challenge(self, payment_intent_id: str, passed: bool = True) -> PaymentIntent:
        """Pass (or fail) the 3-D Secure challenge of a payment made with ``SandboxCard.CHALLENGE``;
        the intent as your key then sees it (paid, or still ``Created`` with a ``Declined`` event)."""
        self._client._execute(sandbox_ops.checkout_challenge(payment_intent_id, passed))
        return self._client._execute(ops.get_intent(payment_intent_id))


class AsyncSandbox(_AsyncResource):
    """``client.sandbox`` of an ``AsyncClient``."""

    present_card = _awaitable(terminal_ops.present_card)
    configure_terminal = _awaitable(terminal_ops.configure_terminal)

    fail_next = _awaitable(sandbox_ops.fail_next)
    clock = _awaitable(sandbox_ops.show_clock)
    advance_clock = _awaitable(sandbox_ops.advance_clock)
    reset = _awaitable(sandbox_ops.reset)
    requests = _awaitable(sandbox_ops.list_requests)
    receipts = _awaitable(sandbox_ops.list_receipts)

    async def pay(
        self,
        payment_intent_id: str,
        card: str = SandboxCard.SUCCESS,
        *,
        expiry: str = "12/29",
        cvv: str = "020",
        card_name: str | None = None,
    ) -> PaymentIntent:
        """The awaitable ``Sandbox.pay``."""
        await self._client._execute(sandbox_ops.checkout_pay(payment_intent_id, card, expiry, cvv, card_name))
        return await self._client._execute(ops.get_intent(payment_intent_id))

    async def complete_challenge(self, payment_intent_id: str, passed: bool = True) -> PaymentIntent:
        """The awaitable ``Sandbox.complete_challenge``."""
        await self._client._execute(sandbox_ops.checkout_challenge(payment_intent_id, passed))
        return await self._client._execute(ops.get_intent(payment_intent_id))


class Client:
    """A blocking client for Dojo's API (or payintents: pass its ``base_url``).

    ``api_key`` defaults to ``$PAYINTENTS_API_KEY`` (then ``$DOJO_API_KEY``), ``base_url`` to
    ``$PAYINTENTS_BASE_URL`` or ``https://api.dojo.tech``. ``version`` is the API version header,
    pinned to 2024-02-05 unless you choose another. Use it as a context manager, or ``close()`` it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        version: str = tr.DEFAULT_VERSION,
        timeout: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        transport: httpx.BaseTransport | None = None,
        software_house_id: str | None = None,
        reseller_id: str | None = None,
    ) -> None:
        self.settings = tr.settings_from(
            api_key, base_url, version, timeout, max_retries, backoff_s, max_backoff_s
        )
        self._http = httpx.Client(
            base_url=self.settings.base_url,
            headers={**tr.default_headers(self.settings), **tr.epos_headers(software_house_id, reseller_id)},
            timeout=timeout,
            transport=transport,
            verify=tr.ssl_context(),
        )
        self.payment_intents = PaymentIntents(self)
        self.refunds = Refunds(self)
        self.webhooks = Webhooks(self)
        self.sandbox = Sandbox(self)
        self.terminals = Terminals(self)
        self.terminal_sessions = TerminalSessions(self)
        self.customers = Customers(self)
        self.setup_intents = SetupIntents(self)

    def _execute(self, call: Call[T]) -> T:
        """Send ``call``, retrying per the policy in ``_transport``; the parsed answer or a typed error."""
        retry = 0
        while True:
            try:
                response = self._http.request(**tr.request_arguments(call))
            except httpx.TransportError as exc:
                if retry < self.settings.max_retries and tr.retry_after_transport_error(call, exc):
                    time.sleep(tr.backoff_delay(self.settings, retry))
                    retry += 1
                    continue
                raise tr.transport_failure(call, exc, retry + 1) from exc
            if response.is_success:
                return tr.parse_answer(call, response)
            if retry < self.settings.max_retries and tr.retry_after_answer(call, response):
                time.sleep(tr.backoff_delay(self.settings, retry, response))
                retry += 1
                continue
            raise tr.api_error(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient:
    """The ``asyncio`` twin of ``Client``: same arguments, same resources, awaitable methods."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        version: str = tr.DEFAULT_VERSION,
        timeout: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
        software_house_id: str | None = None,
        reseller_id: str | None = None,
    ) -> None:
        self.settings = tr.settings_from(
            api_key, base_url, version, timeout, max_retries, backoff_s, max_backoff_s
        )
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            headers={**tr.default_headers(self.settings), **tr.epos_headers(software_house_id, reseller_id)},
            timeout=timeout,
            transport=transport,
            verify=tr.ssl_context(),
        )
        self.payment_intents = AsyncPaymentIntents(self)
        self.refunds = AsyncRefunds(self)
        self.webhooks = AsyncWebhooks(self)
        self.sandbox = AsyncSandbox(self)
        self.terminals = AsyncTerminals(self)
        self.terminal_sessions = AsyncTerminalSessions(self)
        self.customers = AsyncCustomers(self)
        self.setup_intents = AsyncSetupIntents(self)

    async def _execute(self, call: Call[T]) -> T:
        """Send ``call``, retrying per the policy in ``_transport``; the parsed answer or a typed error."""
        retry = 0
        while True:
            try:
                response = await self._http.request(**tr.request_arguments(call))
            except httpx.TransportError as exc:
                if retry < self.settings.max_retries and tr.retry_after_transport_error(call, exc):
                    await asyncio.sleep(tr.backoff_delay(self.settings, retry))
                    retry += 1
                    continue
                raise tr.transport_failure(call, exc, retry + 1) from exc
            if response.is_success:
                return tr.parse_answer(call, response)
            if retry < self.settings.max_retries and tr.retry_after_answer(call, response):
                await asyncio.sleep(tr.backoff_delay(self.settings, retry, response))
                retry += 1
                continue
            raise tr.api_error(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
