"""Bringing a database up to the newest schema with Alembic, without an alembic.ini file.

A database that already records the newest revision is left alone without loading Alembic (about
0.15 s of imports): every ``serve`` start, and every command after the first, checks that first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The newest migration's revision (migrations/versions). A test checks that it is Alembic's head;
# if it ever lags behind, the check below only fails to skip, and Alembic runs as before.
HEAD_REVISION = "0006"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    if is_at_head(engine):
        return
    from alembic import command

    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def is_at_head(engine: Engine) -> bool:
    """Whether Alembic's version table names exactly the newest revision."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(versions) == [HEAD_REVISION]
