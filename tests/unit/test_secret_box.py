"""Upstream keys at rest (adapters/secret_box.py, ADR 0031): sealed with AES-GCM under a key
derived from PAYINTENTS_SECRET_KEY; opened only with that key (or a previous one named by the
sealed key's id), only on the account it was sealed for, only unaltered."""

from __future__ import annotations

import dataclasses

import pytest

from payintents.adapters.secret_box import AesGcmSecretBox
from payintents.service.upstream_ports import SecretKeyMissingError

OLD = "old-secret-key-0123456789abcdefghijklmnop"
NEW = "new-secret-key-0123456789abcdefghijklmnop"
DOJO_KEY = "sk_prod_the-merchants-dojo-key"


def test_a_sealed_key_opens_on_its_account_and_never_shows_in_clear() -> None:
    box = AesGcmSecretBox([OLD])
    sealed = box.seal(DOJO_KEY, "acc_1")
    assert DOJO_KEY not in sealed.ciphertext and DOJO_KEY not in repr(sealed)
    assert box.open(sealed, "acc_1") == DOJO_KEY
    assert box.seal(DOJO_KEY, "acc_1").ciphertext != sealed.ciphertext  # a fresh nonce each time


def test_a_sealed_key_does_not_open_on_another_account_or_altered() -> None:
    box = AesGcmSecretBox([OLD])
    sealed = box.seal(DOJO_KEY, "acc_1")
    with pytest.raises(SecretKeyMissingError):
        box.open(sealed, "acc_2")
    flipped = sealed.ciphertext[:-4] + ("AAAA" if not sealed.ciphertext.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretKeyMissingError):
        box.open(dataclasses.replace(sealed, ciphertext=flipped), "acc_1")


def test_rotation_opens_keys_sealed_with_the_previous_secret_and_seals_with_the_new() -> None:
    sealed_before = AesGcmSecretBox([OLD]).seal(DOJO_KEY, "acc_1")
    rotated = AesGcmSecretBox([NEW, OLD])
    assert rotated.open(sealed_before, "acc_1") == DOJO_KEY
    resealed = rotated.seal(DOJO_KEY, "acc_1")
    assert resealed.key_id == rotated.key_id != sealed_before.key_id
    with pytest.raises(SecretKeyMissingError, match=sealed_before.key_id):
        AesGcmSecretBox([NEW]).open(sealed_before, "acc_1")


def test_without_a_secret_key_nothing_is_sealed() -> None:
    box = AesGcmSecretBox([])
    assert box.key_id is None
    with pytest.raises(SecretKeyMissingError):
        box.seal(DOJO_KEY, "acc_1")


@pytest.mark.parametrize("ciphertext", ["not base64!", "c2hvcnQ=", ""], ids=["not-base64", "short", "empty"])
def test_a_sealed_key_cut_or_garbled_in_the_row_is_refused_like_an_altered_one(ciphertext: str) -> None:
    """A row edited by hand or cut short: the clear refusal every command and serve give at
    start, not a binascii or cryptography traceback."""
    sealed = AesGcmSecretBox([OLD]).seal(DOJO_KEY, "acc_1")
    with pytest.raises(SecretKeyMissingError, match="does not open"):
        AesGcmSecretBox([OLD]).open(dataclasses.replace(sealed, ciphertext=ciphertext), "acc_1")
