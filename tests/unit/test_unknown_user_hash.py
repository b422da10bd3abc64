"""The hash an unknown username is checked against: written out, not computed at import (that cost
every ``serve`` start about 0.1 s), and as costly to verify as a real user's hash."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher

from payintents.service import users


def test_it_has_the_parameters_new_passwords_are_hashed_with() -> None:
    """Same parameters, same cost: a wrong username takes as long as a wrong password."""
    hasher = PasswordHasher()
    assert not hasher.check_needs_rehash(users.DUMMY_HASH)
    assert hasher.verify(users.DUMMY_HASH, "payintents: not a password of anyone")


def test_importing_the_users_module_hashes_nothing() -> None:
    probe = (
        "import argon2._password_hasher as hasher\n"
        "calls = []\n"
        "real = hasher.hash_secret\n"
        "hasher.hash_secret = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        "import payintents.service.users\n"
        "print(len(calls))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "0"
