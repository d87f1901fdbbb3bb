"""End to end in real headless Chromium: the demo server, a feed day, the next day, a paper with math."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dailypapers.testing.server import free_port, wait_until_serving

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dailypapers demo` started as users start it, on a free port."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("demo")
    log = open(workdir / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "dailypapers.cli", "demo", "--port", str(port), "--database", str(workdir / "demo.db")],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, proc, workdir / "server.log", timeout=120)
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],  # fmt: skip
        )
        yield b
        b.close()


def _save(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / name
    page.screenshot(path=str(out), full_page=False)
    assert out.stat().st_size > 10_000  # a real rendered page, not a blank one
    if os.environ.get("DAILYPAPERS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, SCREENSHOTS / name)
    return out


def test_feed_next_day_and_paper_with_math(demo_server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dailypapers.demo import CORPUS

    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    with_math = {r["id"] for r in corpus if "$" in r["summary"]}
    days = sorted({d for r in corpus for d in r["listing_dates"]})
    # A day (not the first) whose first feed page shows a paper with LaTeX math in its abstract.
    for day in reversed(days[1:]):
        first_page = json.load(urllib.request.urlopen(f"{demo_server}/papers/date/{day}.json"))["papers"]
        target = next((p for p in first_page if p["arxiv_id"] in with_math), None)
        if target:
            break
    assert target is not None
    previous_day = days[days.index(day) - 1]

    # JavaScript off: the site must work without it, math included.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{demo_server}/papers/date/{previous_day}")
    assert page.locator("h1").inner_text() == "Daily Papers"
    _save(page, tmp_path, "feed.png")

    page.get_by_role("link", name="Next").click()
    page.wait_for_url(f"**/papers/date/{day}")
    assert page.locator(".period-label").inner_text().endswith(day[:4])

    page.locator(f'.card h3 a[href="/papers/{target["arxiv_id"]}"]').click()
    page.wait_for_url(f"**/papers/{target['arxiv_id']}")
    assert page.locator("h1").inner_text() == target["title"]

    math = page.locator(".abstract math").first
    math.wait_for(state="visible")
    box = math.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    # Chromium lays MathML out natively: the element gets the "math" display type.
    assert math.evaluate("m => getComputedStyle(m).display") in ("math", "inline math", "block math")
    _save(page, tmp_path, "paper.png")

    phone = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    mobile.goto(demo_server + "/")
    # No horizontal scrolling on a phone.
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    _save(mobile, tmp_path, "feed-phone.png")
    context.close()
    phone.close()
