"""Accounts and API keys: creation (keys shown once, stored hashed) and authentication."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from payintents.domain.intent import Environment, Scope
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ApiKeyRecord

KEY_PREFIXES = {Environment.SANDBOX: "sk_sandbox_", Environment.PRODUCTION: "sk_prod_"}
DEMO_ACCOUNT_NAME = "demo"


@dataclass(frozen=True, slots=True)
class NewAccount:
    account_id: str
    sandbox_key: str
    prod_key: str


def hash_key(raw_key: str) -> str:
    # Keys carry 512 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_account(deps: Dependencies, name: str) -> NewAccount:
    account_id = deps.ids.new_id("acc", None)
    keys = {env: prefix + deps.ids.new_secret() for env, prefix in KEY_PREFIXES.items()}
    records = [ApiKeyRecord(hash_key(raw), account_id, env) for env, raw in keys.items()]
    with deps.uow() as uow:
        uow.accounts.add(account_id, name, records, deps.clock.now())
        uow.commit()
    return NewAccount(account_id, keys[Environment.SANDBOX], keys[Environment.PRODUCTION])


def create_demo_account_if_empty(deps: Dependencies) -> NewAccount | None:
    """On an empty database, create one account so ``serve`` is usable at once."""
    with deps.read() as uow:
        if uow.accounts.count() > 0:
            return None
    return create_account(deps, DEMO_ACCOUNT_NAME)


def authenticate(deps: Dependencies, raw_key: str) -> Scope | None:
    """The (account, environment) a key opens, or None for any unknown or malformed key."""
    opened = open_session(deps, raw_key)
    return None if opened is None else opened.scope


@dataclass(frozen=True, slots=True)
class OpenedKey:
    """What an API key opens: its scope, that account's clock (sandbox time travel), and whether
    any sandbox failure was armed for it (``failures.FAILURES_ARMED``), all read in one query."""

    scope: Scope
    clock_offset: timedelta
    failures_armed: bool


def open_session(deps: Dependencies, raw_key: str) -> OpenedKey | None:
    """What a key opens, in one read; None for any unknown or malformed key."""
    if not raw_key.startswith(tuple(KEY_PREFIXES.values())):
        return None
    wanted = hash_key(raw_key)
    record = deps.find_key(wanted)
    if record is None or not hmac.compare_digest(record.key_hash, wanted):
        return None
    sandbox = record.environment is Environment.SANDBOX
    offset = record.clock_offset if sandbox else timedelta(0)
    return OpenedKey(Scope(record.account_id, record.environment), offset, record.failures_armed)
