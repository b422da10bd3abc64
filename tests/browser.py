"""What the browser tests share: Debian's chromium (never a downloaded browser), the options it is
launched with, and the ignored folder their screenshots go to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Every browser test module's marks: skipped with the reason where Debian's chromium is missing.
BROWSER_TEST_MARKS = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
    ),
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
DESKTOP = {"width": 1280, "height": 800}


def unlabelled_fields(tab: Any) -> list[str]:
    """The names of the page's form fields that have no label."""
    return list(
        tab.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
                  .map(el => el.name)"""
        )
    )


def assert_fits_and_is_labelled(tab: Any, width: int) -> None:
    """The page in ``tab`` has a label on every field and needs no horizontal scrolling at ``width``."""
    assert unlabelled_fields(tab) == []
    assert tab.evaluate("() => document.scrollingElement.scrollWidth") <= width
