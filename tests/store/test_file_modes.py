"""SQLite files hold webhook secrets and customer data: the database, its WAL and shared-memory
files are created readable and writable by their owner only, whatever the umask allows."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default: files 0644, readable by every local user
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_database_and_its_wal_and_shm_files_are_0600(tmp_path: Path, permissive_umask: None) -> None:
    database = tmp_path / "private.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade(engine)
        with engine.begin() as conn:  # a write, while the connection keeps the WAL files open
            conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    finally:
        engine.dispose()
    assert modes == {name: 0o600 for name in modes}, {name: oct(mode) for name, mode in modes.items()}


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(
    tmp_path: Path, permissive_umask: None
) -> None:
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o640
