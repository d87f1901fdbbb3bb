"""`dailypapers demo` with no mail server configured: what it sends lands in its own mailbox page,
and a reader can subscribe and confirm from there, in real Chromium."""

from __future__ import annotations

import os
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
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("demo-mail")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DAILYPAPERS_SMTP_") and k != "DAILYPAPERS_SITE_URL"
    }
    with running_demo(workdir, env) as base:
        yield base, workdir


def test_subscribe_and_confirm_from_the_demo_mailbox(demo: tuple[str, Path], browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base, workdir = demo
    page = browser.new_page()
    page.goto(base + "/")
    page.locator(".subscribe-box").get_by_label("Email address").fill("demo-reader@example.org")
    page.locator(".subscribe-box").get_by_role("button", name="Subscribe").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    # The mailbox (linked from the header in the demo) lists the confirmation once it is sent.
    page.get_by_role("link", name="Mailbox").click()
    link = page.get_by_role("link", name="Confirm your subscription to Daily Papers")
    for _ in range(50):
        if link.count():
            break
        page.wait_for_timeout(200)
        page.reload()
    link.click()
    # The mail itself, as a mail client shows it (no script may run in it), with its link.
    page.get_by_role("link", name="Confirm my subscription").first.click()
    expect(page.locator("h1")).to_have_text("Confirm your subscription")
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.locator(".form-ok")).to_contain_text("Subscription confirmed")
    assert any((workdir / "demo-mail" / "new").iterdir())  # the Maildir beside the demo database
