"""End to end in real headless Chromium: the demo server, a feed day, the next day, a paper with math."""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dailypapers.core.text import latex_to_unicode
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

    page.locator(".period-nav").get_by_role("link", name="Next").click()
    page.wait_for_url(f"**/papers/date/{day}")
    assert page.locator(".period-label").inner_text().endswith(day[:4])

    page.locator(f'.card h3 a[href="/papers/{target["arxiv_id"]}"]').click()
    page.wait_for_url(f"**/papers/{target['arxiv_id']}")
    assert page.locator("h1").inner_text() == latex_to_unicode(target["title"])

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


def _corpus() -> list[dict]:
    from dailypapers.demo import CORPUS

    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


# Every kind of page, as a reader meets it: the feed (a day, a month page with the pager), a paper
# with a LaTeX title, search results, and a 404 with its way back.
PAGE_KINDS = {
    "feed": "/papers/date/2026-06-30",
    "month": "/papers/month/2026-06?page=6",
    "paper": "/papers/2606.13246",
    "search": "/search?q=reed+solomon+codes&mode=keyword",
    "not-found": "/papers/date/2026-06-27",
}


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)], ids=["phone", "desktop"])
def test_every_page_kind_fits_and_the_header_search_is_usable(
    demo_server: str,
    browser,
    save_screenshot,  # type: ignore[no-untyped-def]
    width: int,
    height: int,
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": width, "height": height})
    page = context.new_page()
    for name, path in PAGE_KINDS.items():
        answer = page.goto(demo_server + path)
        assert answer is not None and answer.status == (404 if name == "not-found" else 200), path
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        search = page.locator(".site-header input[type=search]").bounding_box()
        # 32 px on a phone before: the header search now has a row of its own there.
        assert search is not None and search["width"] >= 200 and search["height"] >= 28, (path, search)
        if name == "month":
            page.locator(".pager").scroll_into_view_if_needed()  # the page numbers, in view
        # The docs show the phone's header and the month pager; the other views stay in tmp_path.
        published = (name, width) in {("search", 390), ("month", 1280)}
        save_screenshot(page, f"{name}-{width}.png", full_page=name != "month", publish=published)
    context.close()


def test_latex_titles_pager_authors_and_a_way_back_in_the_browser(demo_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    rec = next(r for r in _corpus() if r["title"].startswith("A $q$-analogue"))
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{demo_server}/papers/{rec['id']}")
    # MathML in the h1, Unicode in the tab title.
    assert page.title().startswith("A q-analogue of the rational normal curve")
    math = page.locator("h1 math")
    box = math.bounding_box()
    assert box is not None and box["width"] > 0 and "$" not in page.locator("h1").inner_text()
    # The upvote is a real button in a form (it works without JavaScript); it says how the count is made.
    vote = page.locator("form.vote button.vote-button").first
    assert vote.evaluate("v => getComputedStyle(v).cursor") == "pointer"
    assert re.fullmatch(r"\d+ on Hugging Face \+ \d+ here", vote.get_attribute("title") or "")
    # An author's name finds their papers.
    author = rec["authors"][0]
    page.get_by_role("link", name=author, exact=True).first.click()
    page.wait_for_url("**/search?q=*")
    assert page.locator("input[name=q]").first.input_value() == f'author:"{author}"'

    # A weekend day: the 404 links the nearest feed days.
    page.goto(f"{demo_server}/papers/date/2026-06-27?sort=upvotes")
    page.get_by_role("link", name="Mon, Jun 29, 2026 →").click()
    page.wait_for_url("**/papers/date/2026-06-29?sort=upvotes")
    # The week view keeps the sort; the pager's numbers go to a page.
    page.get_by_role("link", name="Week", exact=True).click()
    page.wait_for_url("**/papers/week/2026-W27?sort=upvotes")
    page.get_by_role("link", name="Page 2", exact=True).click()
    page.wait_for_url("**/papers/week/2026-W27?sort=upvotes&page=2")
    assert page.locator(".page-numbers .current").inner_text() == "2"
    # The date picker, a plain form: type a day, submit.
    page.locator("#day-picker-input").fill("2026-06-24")
    page.locator(".day-picker button").click()
    page.wait_for_url("**/papers/date/2026-06-24?sort=upvotes")
    assert page.locator(".period-label").inner_text() == "Wed, Jun 24, 2026"
    context.close()
