"""Accounts and API keys: creation (keys shown once, stored hashed) and authentication."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment, Scope
from payintents.service.dependencies import Dependencies
from payintents.service.ports import NewApiKey, UnitOfWork
from payintents.service.terminals import add_starting_terminals

KEY_PREFIXES = {Environment.SANDBOX: "sk_sandbox_", Environment.PRODUCTION: "sk_prod_"}
# Random characters kept after the prefix so people can tell keys apart (24 of the key's 512 bits).
VISIBLE_KEY_CHARACTERS = 4
DEMO_ACCOUNT_NAME = "demo"


@dataclass(frozen=True, slots=True)
class NewAccount:
    account_id: str
    sandbox_key: str
    prod_key: str


def hash_key(raw_key: str) -> str:
    # Keys carry 512 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``raw_key`` is shown once and never stored; ``record`` is what is stored."""

    raw_key: str
    record: NewApiKey


def issue_key(deps: Dependencies, account_id: str, environment: Environment) -> IssuedKey:
    raw_key = KEY_PREFIXES[environment] + deps.ids.new_secret()
    visible = len(KEY_PREFIXES[environment]) + VISIBLE_KEY_CHARACTERS
    key_id = deps.ids.new_id("key", environment)
    return IssuedKey(
        raw_key, NewApiKey(key_id, hash_key(raw_key), raw_key[:visible], account_id, environment)
    )


def create_account(deps: Dependencies, name: str) -> NewAccount:
    account_id = deps.ids.new_id("acc", None)
    keys = {env: issue_key(deps, account_id, env) for env in KEY_PREFIXES}
    with deps.uow() as uow:
        uow.accounts.add(account_id, name, [key.record for key in keys.values()], deps.clock.now())
        add_starting_terminals(deps, uow, account_id, deps.clock.now())
        uow.commit()
    return NewAccount(account_id, keys[Environment.SANDBOX].raw_key, keys[Environment.PRODUCTION].raw_key)


def ensure_account_exists(uow: UnitOfWork, account_id: str) -> None:
    if not uow.accounts.exists(account_id):
        raise ValidationError({"account": [f"No account {account_id} exists."]})


def create_demo_account_if_empty(deps: Dependencies) -> NewAccount | None:
    """On an empty database, create one account so ``serve`` is usable at once."""
    with deps.read() as uow:
        if uow.accounts.count() > 0:
            return None
    return create_account(deps, DEMO_ACCOUNT_NAME)


def authenticate(deps: Dependencies, raw_key: str) -> Scope | None:
    """The (account, environment) a key opens, or None for any unknown, revoked or malformed key."""
    opened = open_session(deps, raw_key)
    return None if opened is None else opened.scope


@dataclass(frozen=True, slots=True)
class OpenedKey:
    """What an API key opens: its scope, that account's clock (sandbox time travel), and whether
    any sandbox failure was armed for it (``RequestContext.failures_armed``), all read in one query."""

    scope: Scope
    clock_offset: timedelta
    failures_armed: bool
    key_id: str = ""


def open_session(deps: Dependencies, raw_key: str) -> OpenedKey | None:
    """What a key opens, in one read; None for any unknown, revoked or malformed key. The use is
    noted for ``payintents keys list`` without a write here (service/key_usage.py)."""
    if not raw_key.startswith(tuple(KEY_PREFIXES.values())):
        return None
    wanted = hash_key(raw_key)
    record = deps.find_key(wanted)
    if record is None or not hmac.compare_digest(record.key_hash, wanted):
        return None
    if deps.key_usage is not None:
        deps.key_usage.note(record.key_hash)
    sandbox = record.environment is Environment.SANDBOX
    offset = record.clock_offset if sandbox else timedelta(0)
    scope = Scope(record.account_id, record.environment)
    return OpenedKey(scope, offset, record.failures_armed, record.key_id)
