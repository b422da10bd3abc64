"""SQLite checkpoints stay SQLite's own (ADR 0035): a serving engine starts no checkpoint thread
and keeps SQLite's default schedule, and it warns when the SQLite library has the WAL-reset bug."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from payintents.adapters.sql import engine as engine_module
from payintents.adapters.sql.engine import has_wal_reset_bug, make_engine


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("3.40.1", True),  # Debian bookworm's
        ("3.44.5", True),
        ("3.44.6", False),  # the 3.44 patch release with the fix
        ("3.50.6", True),
        ("3.50.7", False),
        ("3.51.2", True),
        ("3.51.3", False),
        ("3.52.0", False),
        ("3.54.1", False),
    ],
)
def test_which_sqlite_versions_have_the_wal_reset_bug(version: str, affected: bool) -> None:
    assert has_wal_reset_bug(version) is affected


def test_a_serving_engine_keeps_sqlites_own_checkpoints(tmp_path: Path) -> None:
    threads_before = {thread.name for thread in threading.enumerate()}
    engine = make_engine(f"sqlite:///{tmp_path / 'served.db'}", serving=True)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 1000
    started = {thread.name for thread in threading.enumerate()} - threads_before
    engine.dispose()
    assert not any("checkpoint" in name for name in started)


@pytest.mark.parametrize(("version", "warned"), [("3.40.1", True), ("3.51.3", False)])
def test_a_serving_engine_warns_of_a_sqlite_with_the_bug(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    version: str,
    warned: bool,
) -> None:
    monkeypatch.setattr(engine_module.sqlite3, "sqlite_version", version)
    with caplog.at_level(logging.WARNING, logger="payintents.store"):
        make_engine(f"sqlite:///{tmp_path / 'served.db'}", serving=True).dispose()
        make_engine(f"sqlite:///{tmp_path / 'tool.db'}").dispose()  # a command's engine: no warning
    warnings = [r.getMessage() for r in caplog.records if "WAL-reset" in r.getMessage()]
    expected = f"SQLite {version} has the WAL-reset corruption bug (fixed in 3.51.3)"
    assert [w.startswith(expected) for w in warnings] == ([True] if warned else [])
