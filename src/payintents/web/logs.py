"""Structured logs: one JSON object per line, carrying the request's traceId when there is one."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from payintents.domain.card import mask_card_numbers

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted.
# uvicorn's color_message duplicates the message with terminal colour codes.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            # An exception's message may quote what a client sent; the access line's path is
            # masked where it is written (web/observability.py).
            entry["exception"] = mask_card_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server and uvicorn: JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "payintents.web.logs.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "payintents": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }
