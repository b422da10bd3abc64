"""Ports of the gateway (ADR 0031): an account's upstream as stored, the box that seals its key,
the upstream itself (Dojo), and which scopes have one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from payintents.domain.intent import Scope
from payintents.domain.mirror import UpstreamState

if TYPE_CHECKING:
    from payintents.service.ports import Processor


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A secret encrypted at rest: ``key_id`` names the key that sealed it (rotation)."""

    key_id: str
    ciphertext: str


@dataclass(frozen=True, slots=True)
class StoredUpstream:
    """Where an account's production payments go: Dojo at ``base_url``, with its sealed key."""

    account_id: str
    provider: str
    base_url: str
    sealed_key: SealedSecret
    updated_at: datetime


class UpstreamRepository(Protocol):
    def get(self, account_id: str) -> StoredUpstream | None: ...
    def put(self, upstream: StoredUpstream) -> None:
        """Insert or replace the account's upstream."""

    def delete(self, account_id: str) -> bool: ...
    def count(self) -> int: ...
    def list(self) -> list[StoredUpstream]: ...


class SecretKeyMissingError(Exception):
    """Upstream keys are stored but PAYINTENTS_SECRET_KEY is not set (or cannot open them)."""


class SecretBox(Protocol):
    """Seals and opens secrets at rest; ``context`` (the account id) binds a secret to its row."""

    @property
    def key_id(self) -> str | None:
        """The id of the key new secrets are sealed with; None when no secret key is set."""

    def seal(self, secret: str, context: str) -> SealedSecret: ...
    def open(self, sealed: SealedSecret, context: str) -> str:
        """Raises SecretKeyMissingError when no key it knows sealed it, or it was altered."""


@dataclass(frozen=True, slots=True)
class UpstreamIntent:
    """A payment intent as the upstream answered it: its whole body, and what the mirror follows."""

    id: str
    state: UpstreamState
    body: Mapping[str, Any] = field(repr=False)
    # What Dojo has captured (amount + tips) and refunded on it.
    captured_amount: int = 0
    refunded_amount: int = 0


class Upstream(Protocol):
    """An account's payment service elsewhere (Dojo): intents are created and read there, money
    moves there through ``processor``."""

    @property
    def processor(self) -> Processor: ...

    async def create_intent(self, body: Mapping[str, Any], version: str) -> UpstreamIntent:
        """Raises ProcessorDeclinedError (a refusal, with the upstream's detail),
        ProcessorUnavailableError or ProcessorTimeoutError."""

    async def get_intent(self, intent_id: str) -> UpstreamIntent: ...
    async def cancel_intent(self, intent_id: str) -> UpstreamIntent: ...


class Upstreams(Protocol):
    """Where each account's upstream is: a scope with one has its money moved there."""

    async def for_scope(self, scope: Scope) -> Upstream | None:
        """The scope's upstream: only production scopes of accounts configured with one."""
