"""Throw-away databases for a test or a benchmark run: a SQLite file in a folder, or a fresh
PostgreSQL schema (reached through ``search_path``) that is dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from payintents.adapters.sql.engine import normalise_url


@contextmanager
def scratch_database(postgres_url: str | None, folder: Path, name: str) -> Iterator[str]:
    """A database URL for one part of a run: SQLite under ``folder`` unless ``postgres_url``."""
    if postgres_url is None:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    with postgres_scratch_schema(postgres_url, name) as url:
        yield url


@contextmanager
def postgres_scratch_schema(postgres_url: str, prefix: str) -> Iterator[str]:
    """A URL of ``postgres_url`` whose search_path is a new schema ``<prefix>_<random>``, dropped
    afterwards."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    # No pooling: a PostgreSQL restart meanwhile (crash tests) must not break the clean-up.
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
