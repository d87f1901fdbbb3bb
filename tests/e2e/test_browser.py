"""End to end in real headless Chromium: the demo server, a feed day, the next day, a paper with math."""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dailypapers.testing.server import running_demo

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dailypapers demo` started as users start it, on a free port."""
    with running_demo(tmp_path_factory.mktemp("demo")) as base:
        yield base


def test_feed_next_day_and_paper_with_math(demo_server: str, browser, save_screenshot) -> None:  # type: ignore[no-untyped-def]
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
    save_screenshot(page, "feed.png")

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
    save_screenshot(page, "paper.png")

    phone = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    mobile.goto(demo_server + "/")
    # No horizontal scrolling on a phone.
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    save_screenshot(mobile, "feed-phone.png")
    context.close()
    phone.close()
