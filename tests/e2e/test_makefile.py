"""The Makefile's decisions, read with ``make -n`` in a scratch copy: ``make run`` installs only what
serving needs and serves on ``PORT``; the targets that test, check or run CI install the
development tools, also after ``make run`` installed the runtime alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_INSTALL = "pip install -e .\n"
DEV_INSTALL = "pip install -e '.[dev]' -e './client[cli]'"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The Makefile and the two pyproject files, with a virtualenv that has nothing installed yet."""
    (tmp_path / "client").mkdir()
    for name in ("Makefile", "pyproject.toml", "client/pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch(mode=0o755)
    return tmp_path


def installed(project: Path, *stamps: str) -> None:
    """Mark what an earlier run installed: its stamp files, newer than the pyproject files."""
    newer = (project / "pyproject.toml").stat().st_mtime + 10
    for stamp in stamps:
        path = project / ".venv" / f".installed-{stamp}"
        path.touch()
        os.utime(path, (newer, newer))


def planned(project: Path, *target: str) -> str:
    """What ``make -n TARGET`` would run, as a person's shell would plan it: under ``make ci`` the
    suite runs inside another make, whose MAKEFLAGS and MAKELEVEL would add "Entering directory"."""
    outside_make = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    done = subprocess.run(
        ["make", "-n", *target],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=outside_make,
    )
    return done.stdout


def test_run_on_a_fresh_clone_installs_only_the_runtime_and_says_so(project: Path) -> None:
    plan = planned(project, "run")
    assert RUNTIME_INSTALL in plan and DEV_INSTALL not in plan
    assert "--quiet" not in plan and "Installing payintents and what serving needs" in plan
    assert plan.rstrip().endswith("payintents serve --port 8000")


def test_run_takes_a_port(project: Path) -> None:
    installed(project, "runtime")
    assert planned(project, "run", "PORT=8123").strip() == ".venv/bin/payintents serve --port 8123"


@pytest.mark.parametrize("target", ["test", "check", "install", "ci"])
def test_the_development_targets_install_the_tools_after_run(project: Path, target: str) -> None:
    installed(project, "runtime")
    assert DEV_INSTALL in planned(project, target)


def test_nothing_is_installed_twice(project: Path) -> None:
    installed(project, "runtime", "dev")
    assert "pip install" not in planned(project, "run") + planned(project, "test")


def test_a_changed_pyproject_reinstalls(project: Path) -> None:
    installed(project, "runtime", "dev")
    later = (project / ".venv" / ".installed-dev").stat().st_mtime + 10
    os.utime(project / "pyproject.toml", (later, later))
    assert RUNTIME_INSTALL in planned(project, "run")
    assert DEV_INSTALL in planned(project, "test")
