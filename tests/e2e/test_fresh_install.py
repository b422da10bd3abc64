"""A new user's first test suite, from nothing: a new virtualenv outside the repository, the server
and the client installed into it by pip (a real install of both with their dependencies, built
from a copy of this checkout's files), and the README's "In your own test suite" block run as a
test file by that virtualenv's pytest, which must find the plugin, start the server and pass.

It takes about 30-40 s on a busy 2-core machine (nearly all of it pip resolving, building and
installing), hence ``slow``; CI runs it like any other test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# What a clone does not carry (.gitignore): a copy without them builds like a fresh clone would,
# with no stale build/ output of earlier builds slipping into the wheel.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "*.db", "*.db-*",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".schemathesis", "screenshots",
)  # fmt: skip


def readme_suite() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- readme-test: pytest -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert found, "README has no block marked readme-test: pytest"
    return found[1]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_fresh_virtualenv_runs_the_readme_suite_with_the_plugin(tmp_path: Path) -> None:
    source = tmp_path / "checkout"
    shutil.copytree(ROOT, source, ignore=NOT_IN_A_CLONE)
    venv = tmp_path / "venv"
    # Without its own pip (ensurepip alone takes ~10 s); this interpreter's pip installs into it.
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    packages = [str(source), str(source / "client"), "pytest"]
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", *packages], tmp_path)
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_refunds.py").write_text(readme_suite())
    # As a new user's shell would be: the fresh virtualenv first on PATH, none of ours set.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYINTENTS_", "PYTEST_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    out = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_refunds.py"], suite, env)
    assert re.search(r"\b2 passed\b", out), out
