"""The open interfaces as a member meets them, in real Chromium against `dailypapers demo` started as
users start it: make a write token on the account page (shown once), upvote with it from a script,
see the vote on the page, revoke the token and see the script refused; a feed reader finds the feeds
from the pages' <link rel="alternate"> tags and reads them; the paper page's "Cite" link gives BibTeX."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from dailypapers.testing.server import running_demo

CHROMIUM = "/usr/bin/chromium"
SIGN_IN_LINE = re.compile(r"Demo (admin|member): sign in as (\S+) with password (\S+)")
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """The demo's base URL and its accounts as it printed them: {role: (username, password)}."""
    workdir = tmp_path_factory.mktemp("demo-interfaces")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DAILYPAPERS_SMTP_") and k != "DAILYPAPERS_SITE_URL"
    }
    env["COLUMNS"] = "200"  # one sign-in line per account in the log
    with running_demo(workdir, env) as base:
        found = SIGN_IN_LINE.findall((workdir / "server.log").read_text())
        yield base, {role: (name, password) for role, name, password in found}


def test_a_token_from_the_account_page_works_until_revoked(demo, browser, save_screenshot) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base, accounts = demo
    name, password = accounts["member"]
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(base + "/signin")
    page.get_by_label("Username or email address").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/account#tokens")
    page.get_by_label("Name (what will use it)").fill("my script")
    page.get_by_label("Read and write").check()
    page.get_by_role("button", name="Make a token").click()
    expect(page.locator("h1")).to_have_text("Your new API token")
    secret = page.locator("#token-secret").inner_text().strip()
    assert re.fullmatch(r"dp_[A-Za-z0-9_-]{40}", secret)
    save_screenshot(page, "api-token.png")

    # The account page lists it by name and prefix, never the secret again.
    page.goto(base + "/account")
    row = page.locator(".api-tokens tr", has_text="my script")
    expect(row).to_contain_text(secret[:10])
    assert secret not in page.content()

    # A script upvotes with it; the paper page shows the vote.
    paper = httpx.get(f"{base}/api/v1/feeds/latest", params={"limit": 1}).json()["items"][0]
    auth = {"Authorization": f"Bearer {secret}"}
    voted = httpx.put(f"{base}/api/v1/papers/{paper['arxiv_id']}/vote", headers=auth)
    assert voted.status_code == 200 and voted.json()["voted"] is True
    assert voted.json()["upvotes"] == paper["upvotes"] + 1
    assert voted.headers["ratelimit-policy"].startswith('"token"')
    page.goto(f"{base}/papers/{paper['arxiv_id']}")
    expect(page.locator(".vote-total")).to_have_text(str(paper["upvotes"] + 1))
    me = httpx.get(f"{base}/api/v1/me", headers=auth).json()
    assert me["username"] == name

    # Revoked on the account page, the token is refused.
    page.goto(base + "/account")
    page.get_by_role("button", name="Revoke the token my script").click()
    expect(page.locator(".api-tokens tr", has_text="my script")).to_contain_text("revoked")
    refused = httpx.delete(f"{base}/api/v1/papers/{paper['arxiv_id']}/vote", headers=auth)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_feed_reader_finds_and_reads_the_pages_feeds(demo, browser) -> None:  # type: ignore[no-untyped-def]
    base, _ = demo
    page = browser.new_context(viewport=VIEWPORT).new_page()
    found: dict[str, str] = {}
    for path in ("/", "/search?q=contrastive+-medical"):
        page.goto(base + path)
        for link in page.locator('head link[rel="alternate"]').all():
            media_type = link.get_attribute("type") or ""
            if media_type in ("application/atom+xml", "application/rss+xml"):  # (not the JSON twin)
                found[link.get_attribute("href") or ""] = media_type
        assert page.get_by_role("link", name="Atom").count() >= 1  # the visible feed link
    assert "/feed.atom" in found and any(href.startswith("/search.atom?q=") for href in found)
    for href, media_type in found.items():
        answer = httpx.get(base + href)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media_type)
        parsed = feedparser.parse(answer.content)
        assert parsed.bozo == 0, (href, parsed.get("bozo_exception"))
        assert parsed.entries, href


def test_the_paper_page_cites_in_bibtex_and_ris(demo, browser) -> None:  # type: ignore[no-untyped-def]
    base, _ = demo
    paper = httpx.get(f"{base}/api/v1/feeds/latest", params={"limit": 1}).json()["items"][0]
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{base}/papers/{paper['arxiv_id']}")
    bib = page.get_by_role("link", name="BibTeX").get_attribute("href")
    ris = page.get_by_role("link", name="RIS").get_attribute("href")
    assert bib == f"/papers/{paper['arxiv_id']}.bib" and ris == f"/papers/{paper['arxiv_id']}.ris"
    bibtex = httpx.get(base + bib).text
    assert bibtex.startswith("@") and f"eprint = {{{paper['arxiv_id']}}}" in bibtex
    record = httpx.get(base + ris).text
    assert record.startswith("TY  - ") and f"AN  - arXiv:{paper['arxiv_id']}" in record
