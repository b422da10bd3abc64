"""The API key lifecycle behind ``payintents keys``: create (the key shown once), list (never the
key), revoke.

A revoked key answers 401 from the revocation's commit on, in every worker process: authentication
reads the key from the store on every request and nothing caches it (service/accounts.py).
Revoking also ends, in the same transaction, the dashboard sessions that signed in with the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Environment
from payintents.service.accounts import KEY_PREFIXES, IssuedKey, ensure_account_exists, hash_key, issue_key
from payintents.service.dependencies import Dependencies
from payintents.service.ports import ApiKeySummary

NO_SUCH_KEY = "No API key matches {}: give a key id (key_…) from `payintents keys list`, or the key."


@dataclass(frozen=True, slots=True)
class Revocation:
    key: ApiKeySummary
    # False when the key had been revoked before (revoking again changes nothing).
    revoked_now: bool
    sessions_ended: int


def create_key(deps: Dependencies, account_id: str, environment: Environment) -> IssuedKey:
    """A new key for the account; the caller shows ``raw_key`` once, the store keeps its hash."""
    issued = issue_key(deps, account_id, environment)
    with deps.uow() as uow:
        ensure_account_exists(uow, account_id)
        uow.accounts.add_key(issued.record, deps.clock.now())
        uow.commit()
    return issued


def list_keys(deps: Dependencies, account_id: str) -> list[ApiKeySummary]:
    with deps.read() as uow:
        ensure_account_exists(uow, account_id)
        return uow.accounts.list_keys(account_id)


def revoke_key(deps: Dependencies, key_or_id: str) -> Revocation:
    """Revoke a key named by its id or by the key itself, and end its dashboard sessions."""
    key_or_id = key_or_id.strip()
    is_raw_key = key_or_id.startswith(tuple(KEY_PREFIXES.values()))
    with deps.uow() as uow:
        key = uow.accounts.find_summary(
            key_id=None if is_raw_key else key_or_id,
            key_hash=hash_key(key_or_id) if is_raw_key else None,
        )
        if key is None:
            # Never echo a raw key back: it may be a real one mistyped by a character.
            raise NotFoundError(NO_SUCH_KEY.format("that key" if is_raw_key else key_or_id))
        revoked_now = uow.accounts.revoke_key(key.key_id, deps.clock.now())
        ended = uow.dashboard.end_key_sessions(key.key_id)
        uow.commit()
    return Revocation(key, revoked_now, ended)
