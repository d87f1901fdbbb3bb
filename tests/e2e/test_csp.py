"""In real Chromium, every kind of page honours the site's Content-Security-Policy: no violation is
reported, and /api/docs renders its operations from local files under it."""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from dailypapers.testing.server import running_demo

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

# Runs before any script of the page (DevTools injects it, so the CSP does not apply to it).
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dailypapers demo` started as users start it, on a free port."""
    with running_demo(tmp_path_factory.mktemp("demo")) as base:
        yield base


def _page_kinds(base: str) -> dict[str, str]:
    feed = json.load(urllib.request.urlopen(f"{base}/index.json"))
    day = date.fromisoformat(feed["key"])
    week = "{}-W{:02d}".format(*day.isocalendar()[:2])
    from dailypapers.demo import CORPUS

    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        # A paper whose abstract has LaTeX math: its page carries MathML.
        math = next(r["id"] for r in map(json.loads, fh) if "$" in r["summary"])
    return {
        "feed day": f"/papers/date/{day}",
        "feed week": f"/papers/week/{week}",
        "feed month": f"/papers/month/{day:%Y-%m}",
        "latest": "/",
        "paper": f"/papers/{math}",
        "search": "/search?q=contrastive+learning",
        "subscribe": "/subscribe",
        "api docs": "/api/docs",
        "error page": "/no-such-page",
        "bad link": "/subscription?token=x",
        "mailbox": "/demo/mailbox",
    }


def test_no_page_violates_the_content_security_policy(demo_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    console: list[str] = []
    page.on(
        "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    seen = {}
    for kind, url in _page_kinds(demo_server).items():
        console.clear()
        response = page.goto(demo_server + url)
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"], (
            kind
        )
        if kind == "api docs":
            page.wait_for_selector(".opblock", timeout=20_000)
        page.wait_for_load_state("networkidle")
        seen[kind] = (
            page.evaluate("window.__violations"),
            [c for c in console if "Content Security Policy" in c or "pageerror" in c],
        )
    assert {k: v for k, v in seen.items() if v != ([], [])} == {}
    context.close()


def test_api_docs_render_their_operations_offline(demo_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    """Every request of /api/docs stays on the site (no CDN), and Swagger UI lists the API's operations."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(demo_server) else elsewhere.append(r.url))
    page.goto(demo_server + "/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    spec = json.load(urllib.request.urlopen(f"{demo_server}/openapi.json"))
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.locator(".opblock-summary-path", has_text="/api/v1/search").count() == 1
    assert elsewhere == []
    context.close()
