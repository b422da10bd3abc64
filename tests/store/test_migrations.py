"""Alembic migrations on SQLite and PostgreSQL: upgrading is repeatable, and a migrated database
has exactly the schema the queries use (``payintents.adapters.sql.schema.metadata``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import HEAD_REVISION, MIGRATIONS_DIR, is_at_head, upgrade
from payintents.adapters.sql.schema import metadata
from payintents.adapters.sql.store import SqlUnitOfWork
from tests.store.test_intent_store import NOW, SCOPE, make_intent
from tests.support import backend_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The fixture's database is already migrated once."""
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_a_migrated_database_matches_the_schema_module(engine: Engine) -> None:
    assert differences(engine) == []


def test_every_table_is_created_with_its_check_constraints(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= set(metadata.tables)
    checks = {c["name"] for c in inspector.get_check_constraints("payment_intents")}
    assert {"ck_refund_cap", "ck_amounts_positive", "ck_capture_cap"} <= checks


def test_migrating_again_is_harmless_and_keeps_the_data(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.accounts.add(SCOPE.account_id, "merchant", [], NOW)
        uow.intents.add(make_intent("pi_1"))
        uow.commit()
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(select(metadata.tables["payment_intents"].c.id)).scalars().all() == ["pi_1"]
    assert differences(engine) == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database nobody has migrated yet, on each backend."""
    with backend_database_url(request.param, tmp_path, "fresh") as url:
        engine = make_engine(url, pool_size=1)
        yield engine
        engine.dispose()


def test_an_empty_database_migrates_twice(empty_engine: Engine) -> None:
    assert inspect(empty_engine).get_table_names() == []
    upgrade(empty_engine)
    upgrade(empty_engine)
    assert differences(empty_engine) == []


def test_the_comparison_notices_a_missing_index(engine: Engine) -> None:
    """Negative control: a real difference is reported, so the empty lists above mean something."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_refunds_intent"))
    found = differences(engine)
    assert [d[0] for d in found] == ["add_index"]
    assert found[0][1].name == "ix_refunds_intent"


def test_the_recorded_head_is_alembics_head() -> None:
    """``upgrade`` skips Alembic when the database names ``HEAD_REVISION``: it must be the newest."""
    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_heads() == [HEAD_REVISION]


def test_only_a_database_at_the_newest_revision_counts_as_at_head(empty_engine: Engine) -> None:
    assert not is_at_head(empty_engine)
    upgrade(empty_engine)
    assert is_at_head(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    assert not is_at_head(empty_engine)


def test_a_database_at_head_is_checked_without_loading_alembic(engine: Engine, database_url: str) -> None:
    """Every start of serve on an existing database: the check is one query, no Alembic imports."""
    probe = (
        "import sys\n"
        "from payintents.adapters.sql.engine import make_engine\n"
        "from payintents.adapters.sql.migrate import upgrade\n"
        f"upgrade(make_engine({database_url!r}, pool_size=1))\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stderr
