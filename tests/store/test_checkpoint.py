"""SQLite WAL checkpoints of a serving worker run on a thread of their own (checkpoint.py).

A serving engine's writes reach the database file within a few checkpoint intervals while its
pooled connections stay open, with no commit doing it: its connections only checkpoint past the
fallback; its thread ends with the engine. The negative control: an ordinary engine's few writes
stay in the log.
"""

from __future__ import annotations

import gc
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from payintents.adapters.sql.checkpoint import CHECKPOINT_INTERVAL_S, FALLBACK_AUTOCHECKPOINT_PAGES
from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def database_file_grows_after_writes(tmp_path: Path, *, serving: bool) -> bool:
    database = tmp_path / "ckpt.db"
    migrating = make_engine(f"sqlite:///{database}")
    upgrade(migrating)
    migrating.dispose()  # the last connection closing checkpoints the migration
    before = database.stat().st_size
    engine = make_engine(f"sqlite:///{database}", serving=serving)
    for n in range(100):  # about 230 log pages: well under SQLite's default of 1,000
        with SqlUnitOfWork(engine) as uow:
            uow.accounts.add(f"acc_{n}", "x" * 500, [], NOW)
            uow.commit()
    deadline = time.monotonic() + 20 * CHECKPOINT_INTERVAL_S
    while database.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(CHECKPOINT_INTERVAL_S / 5)
    grown = database.stat().st_size > before
    with engine.connect() as conn:
        autocheckpoint = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
    engine.dispose()
    expected = FALLBACK_AUTOCHECKPOINT_PAGES if serving else 1000  # SQLite's default
    assert autocheckpoint == expected
    return grown


def checkpoint_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "sqlite-checkpoint")


def test_a_serving_engines_writes_are_checkpointed_by_its_thread(tmp_path: Path) -> None:
    before = checkpoint_threads()
    assert database_file_grows_after_writes(tmp_path, serving=True)
    gc.collect()  # the engine is gone: its checkpoint thread ends too
    deadline = time.monotonic() + 10 * CHECKPOINT_INTERVAL_S
    while checkpoint_threads() > before and time.monotonic() < deadline:
        time.sleep(CHECKPOINT_INTERVAL_S / 5)
    assert checkpoint_threads() == before


def test_negative_control_an_ordinary_engines_few_writes_stay_in_the_log(tmp_path: Path) -> None:
    assert not database_file_grows_after_writes(tmp_path, serving=False)
