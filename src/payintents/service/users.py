"""Dashboard users: created, listed, given a new password and deleted from the command line, and
signed in with a password hashed by Argon2id. A new password or a deletion ends the user's
dashboard sessions in the same transaction.

A password is never stored or logged; only its Argon2id hash (argon2-cffi's defaults: RFC 9106's
low-memory profile, tens of milliseconds per check) is kept. An unknown username costs the same
hash check as a wrong password, so timing does not tell which usernames exist.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from payintents.domain.errors import NotFoundError, StateConflictError, ValidationError
from payintents.service.accounts import ensure_account_exists
from payintents.service.dashboard_ports import DashboardUser
from payintents.service.dependencies import Dependencies

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time. Written out
# rather than hashed at import, which cost every serve start about 0.1 s; it carries the hasher's
# own parameters (a test checks that they are still argon2-cffi's defaults, so both cost the same).
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$Sykkp+am73EZcEtJn62fSg$lUL9cpnYdVEHYScgGGEszwffo54uqSEcqSoV8Eh+5xE"
)


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise ValidationError(
            {
                "username": [
                    "A username is 3 to 64 characters: letters, digits and . _ @ + - "
                    "(starting with a letter or digit)."
                ]
            }
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": [f"A password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long."]}
        )
    return password


def create_user(deps: Dependencies, username: str, account_id: str, password: str) -> DashboardUser:
    """Add a user of ``account_id``; refuses an unknown account or a username already taken."""
    check_username(username)
    check_password(password)
    password_hash = _hasher.hash(password)
    with deps.uow() as uow:
        ensure_account_exists(uow, account_id)
        user = DashboardUser(
            id=deps.ids.new_id("usr", None),
            account_id=account_id,
            username=username,
            password_hash=password_hash,
            created_at=deps.clock.now(),
        )
        if not uow.dashboard.add_user(user):
            raise StateConflictError(f"The username {username} is taken.")
        uow.commit()
    return user


def list_users(deps: Dependencies, account_id: str | None = None) -> list[DashboardUser]:
    """Every user by name, or those of one account (which must exist)."""
    with deps.read() as uow:
        if account_id is not None:
            ensure_account_exists(uow, account_id)
        return uow.dashboard.list_users(account_id)


def set_password(deps: Dependencies, username: str, password: str) -> int:
    """Give the user a new password and end their sessions; how many sessions ended."""
    password_hash = _hasher.hash(check_password(password))
    with deps.uow() as uow:
        if not uow.dashboard.set_password_hash(username, password_hash):
            raise NotFoundError(_no_such_user(username))
        ended = uow.dashboard.end_user_sessions(username)
        uow.commit()
    return ended


def delete_user(deps: Dependencies, username: str) -> int:
    """Delete the user and end their sessions; how many sessions ended."""
    with deps.uow() as uow:
        if not uow.dashboard.delete_user(username):
            raise NotFoundError(_no_such_user(username))
        ended = uow.dashboard.end_user_sessions(username)
        uow.commit()
    return ended


def _no_such_user(username: str) -> str:
    return f"No dashboard user {username} exists (see `payintents users list`)."


def verify_user(deps: Dependencies, username: str, password: str) -> DashboardUser | None:
    """The user if ``password`` is theirs, else None (also for unknown or malformed input)."""
    with deps.uow() as uow:
        user = uow.dashboard.find_user(username) if _USERNAME.fullmatch(username) else None
    if len(password) > MAX_PASSWORD_LENGTH:
        user, password = None, ""
    stored = user.password_hash if user is not None else DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return user
