"""The shared wait for a started server: a deadline that grows with workers and the machine's load,
an override, and the server's own output when it gives up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from payintents.testbed import readiness
from payintents.testbed.processes import free_port
from payintents.testbed.readiness import (
    BASE_READY_TIMEOUT_S,
    READY_TIMEOUT_ENV,
    ServerNotReadyError,
    ready_timeout_s,
    wait_until_ready,
)


@pytest.fixture
def idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(READY_TIMEOUT_ENV, raising=False)
    monkeypatch.setattr(readiness.os, "getloadavg", lambda: (0.1, 0.1, 0.1))


@pytest.mark.usefixtures("idle_machine")
def test_an_idle_machine_gives_one_worker_the_base_deadline_and_more_to_more_workers() -> None:
    assert ready_timeout_s(1) == BASE_READY_TIMEOUT_S
    assert ready_timeout_s(2) == BASE_READY_TIMEOUT_S * 1.5
    assert ready_timeout_s(4) == BASE_READY_TIMEOUT_S * 2.5


def test_the_deadline_grows_with_the_load_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(READY_TIMEOUT_ENV, raising=False)
    monkeypatch.setattr(readiness.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(readiness.os, "getloadavg", lambda: (6.0, 3.0, 1.0))
    assert ready_timeout_s(2) == BASE_READY_TIMEOUT_S * 1.5 * 3


@pytest.mark.usefixtures("idle_machine")
def test_the_environment_sets_the_deadline_outright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READY_TIMEOUT_ENV, "240")
    assert ready_timeout_s(2) == 240.0
    monkeypatch.setenv(READY_TIMEOUT_ENV, "soon")
    with pytest.raises(ServerNotReadyError, match=READY_TIMEOUT_ENV):
        ready_timeout_s()


def test_a_server_that_exits_is_reported_with_its_output(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.exit('cannot open the database')"], stderr=log
        )
    process.wait()
    with pytest.raises(ServerNotReadyError, match="status 1") as raised:
        wait_until_ready(f"http://127.0.0.1:{free_port()}", process, log_path)
    assert "cannot open the database" in str(raised.value)


@pytest.mark.usefixtures("idle_machine")
def test_a_server_that_never_answers_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(READY_TIMEOUT_ENV, "0.3")
    log_path = tmp_path / "server.log"
    log_path.write_text("waiting for the database lock\n")
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(ServerNotReadyError, match=f"within 0.3 s.*{READY_TIMEOUT_ENV}") as raised:
            wait_until_ready(f"http://127.0.0.1:{free_port()}", silent, log_path)
    finally:
        silent.kill()
        silent.wait()
    assert "waiting for the database lock" in str(raised.value)
