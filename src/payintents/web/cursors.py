"""Opaque page cursors: a (createdAt, id) position, shared by the API search and the dashboard."""

from __future__ import annotations

import base64
from datetime import datetime

from payintents.web.http_input import is_plausible_id
from payintents.web.wire import parse_date_time

Position = tuple[datetime, str]


def encode_cursor(created_at: datetime, object_id: str) -> str:
    raw = f"{created_at.isoformat()}|{object_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Position | None:
    """The position a cursor of ours stands for; None for anything this server never issued."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        moment, object_id = raw.split("|", 1)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        return None
    at = parse_date_time(moment)
    if at is None or not is_plausible_id(object_id):
        return None
    return at, object_id
