"""Shared by the browser tests: one headless Debian Chromium per module, and screenshots that
`DAILYPAPERS_UPDATE_SCREENSHOTS=1` copies into docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def save_screenshot(tmp_path: Path) -> Callable[..., Path]:
    """save(page, name, full_page=False, publish=True): a screenshot in tmp_path (checked not blank),
    copied into docs/screenshots/ when asked (and `publish`: the docs keep one picture per page kind)."""

    def save(page, name: str, full_page: bool = False, publish: bool = True) -> Path:  # type: ignore[no-untyped-def]
        out = tmp_path / name
        page.screenshot(path=str(out), full_page=full_page)
        assert out.stat().st_size > 10_000  # a real rendered page, not a blank one
        if publish and os.environ.get("DAILYPAPERS_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, SCREENSHOTS / name)
        return out

    return save
