"""Random identifiers in Dojo's shape: ``<prefix>_[sandbox_]<22 base64url chars>``."""

from __future__ import annotations

import base64
import secrets
import uuid

from payintents.domain.intent import Environment


def _token(n_bytes: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n_bytes)).rstrip(b"=").decode()


class RandomIds:
    def new_id(self, prefix: str, environment: Environment | None) -> str:
        infix = "sandbox_" if environment is Environment.SANDBOX else ""
        return f"{prefix}_{infix}{_token(16)}"

    def new_secret(self) -> str:
        return _token(64)

    def new_uuid(self) -> str:
        return str(uuid.uuid4())
