"""Accounts' upstreams (ADR 0031): an account whose production payments go to Dojo, with the
merchant's Dojo key sealed at rest. Set, removed and resealed by the ``payintents accounts``
commands; read, opened, by the processor choice (``Processors``).

The key is never logged, shown or put in an error: messages name the account, never the key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from payintents.domain.errors import StateConflictError, ValidationError
from payintents.domain.intent import Environment, Scope
from payintents.service.accounts import ensure_account_exists
from payintents.service.dependencies import Dependencies
from payintents.service.ports import UnitOfWork
from payintents.service.upstream_ports import SecretBox, SecretKeyMissingError, StoredUpstream
from payintents.service.upstream_sync_ports import webhook_secret_context

DOJO = "dojo"
DEFAULT_DOJO_URL = "https://api.dojo.tech"
MAX_KEY_CHARACTERS = 400


@dataclass(frozen=True, slots=True)
class OpenedUpstream:
    """An upstream with its key in clear: only for the processor that calls it."""

    account_id: str
    base_url: str
    key: str = field(repr=False)


def check_upstream(deps: Dependencies, base_url: str, key: str) -> SecretBox:
    """Refuse a malformed URL or key, or a store without a secret key to seal it with."""
    checked_url(base_url)
    _check_key(key)
    return _box(deps)


def set_upstream(deps: Dependencies, account_id: str, base_url: str, key: str) -> None:
    """Make Dojo at ``base_url`` the account's upstream, its key sealed (replacing any before)."""
    box, url = check_upstream(deps, base_url, key), checked_url(base_url)
    with deps.uow() as uow:
        ensure_account_exists(uow, account_id)
        before = uow.upstreams.get(account_id)
        if before is not None and before.base_url != url:
            # A pending refund is settled by sending it again: at another Dojo it is unknown (a
            # refusal, "nothing done"). A new key for the same Dojo is taken: it may be what
            # lets pending operations settle at all.
            _ensure_removable(uow, account_id)
        sealed = box.seal(key, account_id)
        uow.upstreams.put(StoredUpstream(account_id, DOJO, url, sealed, deps.clock.now()))
        uow.commit()


def remove_upstream(deps: Dependencies, account_id: str) -> bool:
    """The account's production key goes back to the built-in processor; False if it had none.
    Refused while one of its production operations is pending: only Dojo can say what became of
    it, and the built-in processor would have it released."""
    with deps.uow() as uow:
        _ensure_removable(uow, account_id)
        removed = uow.upstreams.delete(account_id)
        uow.commit()
    return removed


def check_removable(deps: Dependencies, account_id: str) -> None:
    """Refuse now what ``remove_upstream`` would refuse, before anything else is undone (the
    webhook subscription at Dojo)."""
    with deps.read() as uow:
        _ensure_removable(uow, account_id)


def _ensure_removable(uow: UnitOfWork, account_id: str) -> None:
    ensure_account_exists(uow, account_id)
    if uow.operations.any_pending(Scope(account_id, Environment.PRODUCTION)):
        raise StateConflictError(
            f"{account_id} has refunds, captures or reversals at Dojo still pending: run "
            "`payintents reconcile` until none is, then change or remove the upstream."
        )


def reseal_upstreams(deps: Dependencies) -> int:
    """Seal every upstream key again with the current secret key (after a rotation)."""
    box = _box(deps)
    with deps.uow() as uow:
        stored = uow.upstreams.list()
        for upstream in stored:
            key = box.open(upstream.sealed_key, upstream.account_id)
            resealed = StoredUpstream(
                upstream.account_id,
                upstream.provider,
                upstream.base_url,
                box.seal(key, upstream.account_id),
                deps.clock.now(),
            )
            uow.upstreams.put(resealed)
        _reseal_webhook_secrets(uow, box)
        uow.commit()
    return len(stored)


def _reseal_webhook_secrets(uow: UnitOfWork, box: SecretBox) -> None:
    """The gateway's webhook secrets at Dojo (ADR 0033) are sealed like the keys: resealed too."""
    for subscription in uow.upstream_webhooks.list():
        context = webhook_secret_context(subscription.account_id)
        sealed = box.seal(box.open(subscription.sealed_secret, context), context)
        uow.upstream_webhooks.put(replace(subscription, sealed_secret=sealed))


def open_upstream(box: SecretBox | None, stored: StoredUpstream) -> OpenedUpstream:
    if box is None or box.key_id is None:
        raise SecretKeyMissingError(_missing_key_text())
    return OpenedUpstream(stored.account_id, stored.base_url, box.open(stored.sealed_key, stored.account_id))


def refuse_upstreams_without_secret_key(deps: Dependencies) -> None:
    """Raise SecretKeyMissingError when a stored upstream key cannot be opened (no secret key, or
    not the one that sealed it): ``serve`` and every command stop at start rather than fail each
    of that account's payments later."""
    with deps.read() as uow:
        stored = uow.upstreams.list()
    for upstream in stored:
        open_upstream(deps.secret_box, upstream)


def checked_url(base_url: str) -> str:
    """``base_url`` without a trailing slash; refused unless https://host[:port][/path], or
    http:// to this host only: the Dojo key is in every request's header, never sent in clear
    across a network."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise ValidationError({"upstreamUrl": ["The upstream URL must be https://host[:port][/path]."]})
    if parts.scheme == "http" and not _is_this_host(parts.hostname):
        raise ValidationError(
            {
                "upstreamUrl": [
                    "The upstream URL must use https: the Dojo key would cross the network in clear."
                ]
            }
        )
    if parts.query or parts.fragment:
        raise ValidationError({"upstreamUrl": ["The upstream URL takes no query or fragment."]})
    return base_url.strip().rstrip("/")


def _is_this_host(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_CHARACTERS or not (key.isascii() and key.isprintable()) or " " in key:
        raise ValidationError(
            {
                "upstreamKey": [
                    f"The upstream key must be 1 to {MAX_KEY_CHARACTERS} printable ASCII characters."
                ]
            }
        )


def _box(deps: Dependencies) -> SecretBox:
    if deps.secret_box is None or deps.secret_box.key_id is None:
        raise SecretKeyMissingError(_missing_key_text())
    return deps.secret_box


def _missing_key_text() -> str:
    return (
        "upstream accounts need PAYINTENTS_SECRET_KEY (at least 32 characters) to seal and open "
        "their Dojo keys; set it, or remove the upstreams with `payintents accounts remove-upstream`"
    )
