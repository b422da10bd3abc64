"""Migrations on SQLite and PostgreSQL: Alembic's chain builds exactly the schema the queries use
(``payintents.adapters.sql.schema.metadata``), an empty database built at once from that schema
is identical to one built by the chain, and upgrading is repeatable."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.adapters.sql.migrate import (
    MIGRATION_LOCK_ID,
    MIGRATIONS_DIR,
    head_revision,
    is_at_head,
    run_alembic_chain,
    upgrade,
)
from payintents.adapters.sql.schema import metadata
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from tests.store.test_intent_store import NOW, SCOPE, make_intent
from tests.support import backend_database_url

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def _engine_of(backend: str, folder: Path, name: str) -> Iterator[Engine]:
    with backend_database_url(backend, folder, name) as url:
        engine = make_engine(url, pool_size=1)
        yield engine
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database built by Alembic's whole chain of migrations, on each backend."""
    with _engine_of(request.param, tmp_path, "chain") as built:
        run_alembic_chain(built)
        yield built


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


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database nobody has migrated yet, on each backend."""
    with _engine_of(request.param, tmp_path, "fresh") as fresh:
        yield fresh


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


def structure(engine: Engine) -> dict[str, dict[str, Any]]:
    """What a table is, beyond the order of its columns: columns with their types, nullability and
    defaults, the primary key, foreign keys, indexes, unique and CHECK constraints."""
    inspector = inspect(engine)
    tables: dict[str, dict[str, Any]] = {}
    for table in inspector.get_table_names():
        columns = {
            c["name"]: (str(c["type"]), c["nullable"], c["default"]) for c in inspector.get_columns(table)
        }
        checks = {
            c["name"]: re.sub(r"\s+", " ", c["sqltext"]).strip()
            for c in inspector.get_check_constraints(table)
        }
        tables[table] = {
            "columns": columns,
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (tuple(k["constrained_columns"]), k["referred_table"], tuple(k["referred_columns"]))
                for k in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
            "checks": checks,
        }
    return tables


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_database_built_at_once_is_the_one_the_chain_builds(backend: str, tmp_path: Path) -> None:
    with (
        _engine_of(backend, tmp_path, "chain") as chained,
        _engine_of(backend, tmp_path, "at-once") as at_once,
    ):
        run_alembic_chain(chained)
        upgrade(at_once)
        assert structure(at_once) == structure(chained)
        with at_once.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == (head_revision(),)


def test_the_structure_comparison_notices_a_missing_check(engine: Engine) -> None:
    """Negative control: the comparison above sees CHECK constraints (compare_metadata does not)."""
    before = structure(engine)
    with (
        engine.begin() as conn,
        Operations(MigrationContext.configure(conn)).batch_alter_table("sandbox_clocks") as batch,
    ):
        batch.drop_constraint("ck_clock_forward_only", type_="check")
    after = structure(engine)
    assert after["sandbox_clocks"]["checks"] == {} != before["sandbox_clocks"]["checks"]


def test_the_newest_revision_read_from_the_files_is_alembics_head() -> None:
    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_heads() == [head_revision()]


def test_only_a_database_at_the_newest_revision_counts_as_at_head(engine: Engine) -> None:
    head = head_revision()
    assert head is not None and is_at_head(engine, head)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    assert not is_at_head(engine, head)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_at_head_is_checked_without_loading_alembic(backend: str, tmp_path: Path) -> None:
    """Every start of serve on an existing database: the check is one query, no Alembic imports."""
    # The URL itself, not the engine's: a PostgreSQL engine keeps the test schema's search path
    # in its connect arguments, and a probe without it would migrate the shared public schema.
    with backend_database_url(backend, tmp_path, "at_head") as url:
        built = make_engine(url, pool_size=1)
        run_alembic_chain(built)
        built.dispose()
        probe = (
            "import sys\n"
            "from payintents.adapters.sql.engine import make_engine\n"
            "from payintents.adapters.sql.migrate import upgrade\n"
            f"upgrade(make_engine({url!r}, pool_size=1))\n"
            "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
        )
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_migrating_an_empty_database_together_all_succeed(backend: str, tmp_path: Path) -> None:
    """Several ``serve`` processes starting at once on a new database: one builds it, the others
    wait (SQLite's write lock, PostgreSQL's advisory lock) and then find it built."""
    with backend_database_url(backend, tmp_path, "raced") as url:
        command = [sys.executable, "-m", "payintents.cli", "migrate", "--database", url]
        processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        failures = [p.communicate(timeout=60)[1] for p in processes if p.wait(timeout=60) != 0]
        assert failures == []
        raced = make_engine(url, pool_size=1)
        head = head_revision()
        assert head is not None and is_at_head(raced, head)
        raced.dispose()


@pytest.mark.postgres
def test_a_migration_waits_for_another_longer_than_the_lock_timeout(tmp_path: Path) -> None:
    """Another process's migration may take longer than the 5 s that requests wait for a lock; the
    next migrator waits for it instead of failing (here: a 0.3 s lock timeout, a 1.2 s migration)."""
    with backend_database_url("postgres", tmp_path, "waiting") as url:
        holder = make_engine(url, pool_size=1)
        waiting = make_engine(url, pool_size=1, timeouts=Timeouts(lock_ms=300, statement_ms=600))
        failures: list[BaseException] = []

        def migrate() -> None:
            try:
                upgrade(waiting)
            except BaseException as failed:
                failures.append(failed)

        with holder.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            migrator = threading.Thread(target=migrate)
            migrator.start()
            time.sleep(1.2)
            assert migrator.is_alive() and failures == []
        migrator.join(timeout=60)
        head = head_revision()
        assert failures == [] and head is not None and is_at_head(waiting, head)
        with waiting.connect() as conn:
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "300ms"
        holder.dispose()
        waiting.dispose()
