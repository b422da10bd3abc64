"""Bringing a database up to the newest schema, without an alembic.ini file.

Three cases, cheapest first (each start of ``serve`` and of every other command goes through here):

- The database records the newest revision: nothing to do, and Alembic (about 0.15 s of imports)
  is not even loaded.
- The database is empty: the newest schema is created at once from ``schema.metadata`` and Alembic's
  version table is stamped with the newest revision, as ``alembic stamp head`` would. Running the
  chain instead cost about 0.2 s of each first start. A test keeps the two identical on SQLite and
  PostgreSQL (tables, columns, keys, indexes and CHECK constraints).
- Anything else (an older revision, or tables without a version): Alembic runs the chain.

The newest revision is read from the migration files' ``revision`` and ``down_revision`` lines;
if they do not form a single chain, the first two cases step aside and Alembic decides.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)

from payintents.adapters.sql.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# An arbitrary constant: every process migrating the same PostgreSQL database takes this lock,
# so several ``serve`` processes starting together migrate one after another.
MIGRATION_LOCK_ID = 7_243_001
# How long a process waits for another one's migration before it gives up.
MIGRATION_WAIT = "120s"
# Alembic's own version table, as Alembic creates it.
_alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(?:None|[\"'](\w+)[\"'])", re.MULTILINE)


def upgrade(engine: Engine) -> None:
    head = head_revision()
    if head is not None and (is_at_head(engine, head) or _create_newest_schema_if_empty(engine, head)):
        return
    run_alembic_chain(engine)


@functools.cache
def head_revision() -> str | None:
    """The one revision no other migration revises, or None if the files are not a single chain."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {match[1]: match[2] for match in _REVISION_LINE.finditer(path.read_text())}
        if found.get("revision"):
            revisions.add(found["revision"])
            revised.update([found["down_revision"]] if found.get("down_revision") else [])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def is_at_head(engine: Engine, head: str) -> bool:
    """Whether Alembic's version table names exactly ``head``."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(_alembic_version.name):
            return False
        versions = connection.execute(_alembic_version.select()).scalars().all()
    return list(versions) == [head]


def _create_newest_schema_if_empty(engine: Engine, head: str) -> bool:
    with engine.begin() as connection:
        lock_for_migrating(connection)
        if inspect(connection).get_table_names():
            return False
        metadata.create_all(connection)
        _alembic_version.create(connection)
        connection.execute(_alembic_version.insert().values(version_num=head))
    return True


def lock_for_migrating(connection: Connection) -> None:
    """On PostgreSQL, wait for any other process migrating the database, then hold the lock until
    this transaction ends. The wait may be as long as another process's whole migration, longer
    than the lock and statement timeouts that keep requests short: those are lifted for the wait
    alone, then restored for the migration's own statements."""
    if connection.dialect.name != "postgresql":
        return
    limits = ("lock_timeout", "statement_timeout")
    before = {name: connection.execute(text(f"SHOW {name}")).scalar_one() for name in limits}
    for name in limits:
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": MIGRATION_WAIT}
        )
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    for name, value in before.items():
        connection.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def run_alembic_chain(engine: Engine) -> None:
    """Every migration the database has not had yet, in order (``alembic upgrade head``)."""
    from alembic import command

    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
