"""Secrets at rest (an upstream account's Dojo key, ADR 0031): AES-256-GCM under keys derived
from ``PAYINTENTS_SECRET_KEY`` with HKDF-SHA256.

Each sealed secret carries the id of the key that sealed it (a digest of the derived key, not the
key), so a secret key can be rotated: start with the new one in ``PAYINTENTS_SECRET_KEY`` and the
old one in ``PAYINTENTS_SECRET_KEY_PREVIOUS``; secrets sealed with either open, and ``payintents
accounts reseal-upstreams`` seals them all again with the new one. The account id is the
associated data: a sealed key copied onto another account's row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from payintents.service.upstream_ports import SealedSecret, SecretKeyMissingError

# Bumped if the derivation or the cipher ever changes: part of every key id.
SCHEME = "v1"
NONCE_BYTES = 12
MIN_SECRET_KEY_CHARACTERS = 32


class AesGcmSecretBox:
    """Seals with the first secret key, opens with any of them (the current, then previous ones)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._ciphers = {_key_id(derived): AESGCM(derived) for derived in map(_derived, secret_keys)}
        self._sealing = _key_id(_derived(secret_keys[0])) if secret_keys else None

    @property
    def key_id(self) -> str | None:
        return self._sealing

    def seal(self, secret: str, context: str) -> SealedSecret:
        if self._sealing is None:
            raise SecretKeyMissingError("PAYINTENTS_SECRET_KEY is not set: upstream keys cannot be stored")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._sealing].encrypt(nonce, secret.encode(), _associated(context))
        return SealedSecret(self._sealing, base64.urlsafe_b64encode(nonce + sealed).decode())

    def open(self, sealed: SealedSecret, context: str) -> str:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise SecretKeyMissingError(
                f"an upstream key was sealed with secret key {sealed.key_id}, which neither "
                "PAYINTENTS_SECRET_KEY nor PAYINTENTS_SECRET_KEY_PREVIOUS is"
            )
        try:
            raw = base64.urlsafe_b64decode(sealed.ciphertext.encode())
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(context)).decode()
        except (InvalidTag, ValueError):  # altered, or not base64 / shorter than a nonce and tag
            raise SecretKeyMissingError(
                f"a sealed upstream key of {context} does not open: altered"
            ) from None


def _derived(secret_key: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"payintents upstream keys {SCHEME}".encode()
    )
    return hkdf.derive(secret_key.encode())


def _key_id(derived: bytes) -> str:
    return f"{SCHEME}-{hashlib.sha256(b'payintents key id ' + derived).hexdigest()[:16]}"


def _associated(context: str) -> bytes:
    return f"payintents upstream key of {context}".encode()
