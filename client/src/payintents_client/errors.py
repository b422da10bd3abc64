"""The typed error tree: every failure the client raises is a ``PayintentsError``.

An answer in Dojo's error shape (``{type, title, status, detail?, errors?, traceId}``) becomes an
``ApiError`` subclass chosen by status; a network failure that outlived the retries becomes a
``TransportError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class PayintentsError(Exception):
    """Base class of everything this package raises."""


class ConfigurationError(PayintentsError):
    """The client was set up wrongly (no API key, bad base URL); ``setting`` names which one
    (``api_key``, ``base_url``, ``version`` …) so a command line can name its own option."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class TransportError(PayintentsError):
    """The request did not get an HTTP answer, even after the retries."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class ApiError(PayintentsError):
    """The API answered with an error status; the fields mirror Dojo's error body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
        trace_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        self.trace_id = trace_id
        self.body = body
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``400 Bad Request: <detail> [field: message] (traceId …)`` — for logs and the CLI."""
        text = f"{self.status} {self.title}"
        if self.detail:
            text += f": {self.detail}"
        for field, messages in self.errors.items():
            text += f" [{field}: {' '.join(messages)}]"
        if self.trace_id:
            text += f" (traceId {self.trace_id})"
        return text


class ValidationFailedError(ApiError):
    """400: the request broke a rule (bad field, over-refund, wrong state for a refund)."""


class AuthenticationError(ApiError):
    """401: missing, malformed or unknown API key."""


class PermissionDeniedError(ApiError):
    """403: the key may not do this."""


class NotFoundError(ApiError):
    """404: no such object for this key (or a canceled payment intent)."""


class MethodNotAllowedError(ApiError):
    """405: not allowed on this object (e.g. change amount when the intent does not allow it)."""


class ConflictError(ApiError):
    """409: state conflict, or an idempotency key reused with a different request."""


class RateLimitedError(ApiError):
    """429: too many requests with this key; nothing was done, and ``Retry-After`` says when to retry."""


class ServiceUnavailableError(ApiError):
    """503: the service is busy; retrying with the same idempotency key is safe."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationFailedError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_class_for(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError
