"""The community half of the site in real Chromium, against `dailypapers demo` started as users start
it, with arXiv played by the replay server: a newcomer signs up and confirms from the demo mailbox,
submits a paper with a first comment, upvotes with JavaScript on (in place) and off (a form post), writes
math and a reply; the demo member flags the comment; the demo admin hides it from the moderators' queue,
and visitors see "[hidden by a moderator]" and the public moderation log."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dailypapers.testing.replay import ReplayServer, harvest_routes
from dailypapers.testing.server import running_demo

CHROMIUM = "/usr/bin/chromium"
HARVEST = Path(__file__).parents[1] / "data" / "harvest"
PAPER = "1605.08386"  # recorded in tests/data/harvest/arxiv-api, not in the demo corpus; from 2016
NEWCOMER = "curie"
PASSWORD = "correct horse battery staple 42"
SIGN_IN_LINE = re.compile(r"Demo (admin|member): sign in as (\S+) with password (\S+)")
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def arxiv() -> Iterator[ReplayServer]:
    with ReplayServer(harvest_routes(HARVEST)) as server:
        yield server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, arxiv: ReplayServer) -> Iterator[tuple[str, dict]]:
    """The demo's base URL and its accounts as it printed them: {role: (username, password)}."""
    workdir = tmp_path_factory.mktemp("demo-community")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DAILYPAPERS_SMTP_") and k != "DAILYPAPERS_SITE_URL"
    }
    env |= {
        "DAILYPAPERS_ARXIV_API_URL": f"{arxiv.url}/api/query",
        "DAILYPAPERS_ARXIV_REQUEST_INTERVAL": "0",
        "DAILYPAPERS_HTTP_RETRIES": "0",
        "DAILYPAPERS_SUBMIT_MAX_AGE_DAYS": "0",  # the recorded paper is from 2016
        "COLUMNS": "200",  # one sign-in line per account in the log
    }
    with running_demo(workdir, env) as base:
        found = SIGN_IN_LINE.findall((workdir / "server.log").read_text())
        yield base, {role: (name, password) for role, name, password in found}


def _context(browser, base: str, problems: list[str], **kwargs):  # type: ignore[no-untyped-def]
    """A fresh browser profile whose pages report script errors, CSP violations and any request that
    leaves the site (avatars and math are made locally) into `problems`."""
    context = browser.new_context(viewport=VIEWPORT, **kwargs)
    context.on(
        "request", lambda r: None if r.url.startswith(base) else problems.append(f"request to {r.url}")
    )

    def watch(page) -> None:  # type: ignore[no-untyped-def]
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))

    context.on("page", watch)
    return context


def _sign_in(page, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Username or email address").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _count(card) -> int:  # type: ignore[no-untyped-def]
    return int(card.locator(".vote-button strong").inner_text())


def test_sign_up_submit_vote_discuss_flag_and_moderate(demo, browser, save_screenshot) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base, demo_accounts = demo
    assert set(demo_accounts) == {"admin", "member"}
    problems: list[str] = []

    # 1. Sign up, confirm from the demo mailbox, sign in.
    newcomer = _context(browser, base, problems)
    page = newcomer.new_page()
    page.goto(base + "/signup")
    page.get_by_label("Username").fill(NEWCOMER)
    page.get_by_label("Email address").fill(f"{NEWCOMER}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    page.get_by_role("link", name="Mailbox").click()
    mail = page.get_by_role("link", name="Confirm your address for Daily Papers")
    for _ in range(50):
        if mail.count():
            break
        page.wait_for_timeout(200)
        page.reload()
    mail.click()
    page.get_by_role("link", name="Confirm my address").first.click()
    expect(page.locator("h1")).to_have_text("Confirm your address")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator("h1")).to_have_text("Sign in")
    _sign_in(page, NEWCOMER, PASSWORD)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name=NEWCOMER)).to_be_visible()

    # 2. Submit a paper the site does not know, by its arXiv URL, with a first comment.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Submit paper").click()
    expect(page.locator("h1")).to_have_text("Submit a paper")
    page.get_by_label("arXiv id or URL").fill(f"https://arxiv.org/abs/{PAPER}v1")
    page.get_by_label("A first comment").fill("Mixing bounds for *heat-bath* walks on fibers, with code.")
    page.get_by_label("A first comment").blur()  # no focus ring in the picture
    save_screenshot(page, "community-submit.png")
    page.get_by_role("button", name="Submit paper").click()
    expect(page).to_have_url(f"{base}/papers/{PAPER}")
    expect(page.locator("h1")).to_have_text("Heat-bath random walks with Markov bases")
    expect(page.locator(".vote-sources")).to_contain_text(f"Submitted by {NEWCOMER}")
    first = page.locator("#comments li.comment").first
    expect(first.locator(".comment-author")).to_have_text(NEWCOMER)
    expect(first.locator(".comment-body em")).to_have_text("heat-bath")

    # 3a. Upvote on a feed card with JavaScript on: the count changes in place, no navigation. The
    # newest day is today with the submission; the day before is the demo corpus's last day.
    page.goto(base + "/")
    submitted = page.locator(f"#paper-{PAPER.replace('.', '-')}")
    expect(submitted.locator(".submitted-by")).to_have_text(f"Submitted by {NEWCOMER}")
    expect(submitted.locator(".comments-link")).to_have_text("1 comment")
    page.get_by_role("link", name="Previous").first.click()
    day = page.url
    card = page.locator("#" + str(page.locator("li.card").first.get_attribute("id")))  # trending reorders
    button = card.locator(".vote-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    before = _count(card)
    page.evaluate("window.__stayed = true")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator("strong")).to_have_text(str(before + 1))
    assert page.evaluate("window.__stayed === true") and page.url == day  # no page load
    save_screenshot(page, "community-feed.png")
    page.reload()  # the vote is stored
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator("strong")).to_have_text(str(before + 1))

    # 3b. With JavaScript off, in another profile: signed out, the ▲ leads to sign-in and back with the
    # vote applied; signed in, the form posts and the page returns with the new count.
    member_name, member_password = demo_accounts["member"]
    plain = _context(browser, base, problems, java_script_enabled=False)
    other = plain.new_page()
    other.goto(day)
    second, third = (other.locator(f"#{other.locator('li.card').nth(i).get_attribute('id')}") for i in (1, 2))
    counts = _count(second), _count(third)
    second.locator(".vote-button").click()
    expect(other.locator(".form-ok")).to_contain_text("Sign in to upvote")
    _sign_in(other, member_name, member_password)
    expect(other).to_have_url(re.compile(re.escape(day)))
    expect(second.locator(".vote-button")).to_have_attribute("aria-pressed", "true")
    assert _count(second) == counts[0] + 1
    third.locator(".vote-button").click()
    expect(third.locator(".vote-button")).to_have_attribute("aria-pressed", "true")
    assert _count(third) == counts[1] + 1 and other.url.startswith(day)

    # 4. A comment with math, and a reply under "Reply".
    page.goto(f"{base}/papers/{PAPER}")
    page.get_by_label("Add a comment").fill("The bound is tight: $E = mc^2$ is not, but this is.")
    page.get_by_role("button", name="Post comment").click()
    mathy = page.locator("#comments li.comment", has_text="The bound is tight").first
    expect(mathy.locator(".comment-body math")).to_have_count(1)
    mathy.locator("summary", has_text="Reply").first.click()
    mathy.get_by_label("Your reply").first.fill("Agreed, and the mixing time bound is explicit.")
    mathy.get_by_role("button", name="Reply").first.click()
    reply = page.locator("#comments li.comment li.comment", has_text="mixing time bound is explicit")
    expect(reply).to_have_count(1)
    expect(page.locator("#comments h2")).to_have_text("3 comments")
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-picture
    save_screenshot(page, "community-discussion.png", full_page=True)

    # 5. The demo member flags the math comment with a reason.
    other.goto(f"{base}/papers/{PAPER}")
    flagged = other.locator("#comments li.comment", has_text="The bound is tight").first
    comment_id = flagged.get_attribute("id")
    assert comment_id and comment_id.startswith("c")
    flagged.get_by_role("link", name="Flag").first.click()
    other.get_by_label("off-topic").check()
    other.get_by_label("A note for the moderators").fill("Not about this paper.")
    other.get_by_role("button", name="Flag").click()
    expect(other.locator(".form-ok")).to_contain_text("your flag is in the moderators' queue")

    # 6. The demo admin hides it from the queue, with a reason.
    admin_name, admin_password = demo_accounts["admin"]
    moderator = _context(browser, base, problems)
    mod = moderator.new_page()
    mod.goto(base + "/signin")
    _sign_in(mod, admin_name, admin_password)
    mod.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    item = mod.locator(f"#flagged-{comment_id[1:]}")
    expect(item.locator(".mod-excerpt")).to_contain_text("The bound is tight")
    expect(item.locator(".mod-flags")).to_contain_text(f"off-topic by {member_name}: Not about this paper.")
    save_screenshot(mod, "community-moderation.png", full_page=True)
    item.locator("form", has=mod.get_by_role("button", name="Hide")).get_by_label("Reason").fill(
        "Off-topic (see the flag)"
    )
    item.get_by_role("button", name="Hide").click()
    expect(mod.locator(f"#hidden-{comment_id[1:]}")).to_contain_text("Off-topic (see the flag)")

    # A visitor sees the placeholder, the reply stays; the public log says who, what, which, why.
    visitor = _context(browser, base, problems, java_script_enabled=False)
    anon = visitor.new_page()
    anon.goto(f"{base}/papers/{PAPER}")
    hidden = anon.locator(f"#{comment_id}")
    expect(hidden.locator("> p.muted")).to_have_text("[hidden by a moderator]")
    expect(hidden).not_to_contain_text("The bound is tight")
    expect(hidden.locator("li.comment")).to_contain_text("mixing time bound is explicit")
    anon.get_by_role("link", name="Moderation log").click()
    row = anon.locator("table.mod-log tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text(admin_name)
    expect(row.locator("td").nth(2)).to_have_text("hid a comment")
    target = row.locator("td").nth(3).get_by_role("link")
    expect(target).to_have_text(f"comment #{comment_id[1:]} by {NEWCOMER} on {PAPER}")
    expect(target).to_have_attribute("href", f"/papers/{PAPER}#{comment_id}")
    expect(row.locator("td").nth(4)).to_have_text("Off-topic (see the flag)")
    save_screenshot(anon, "community-log.png")

    # The newcomer's public page: the submission, and the comments a visitor may read (not the hidden one).
    anon.goto(f"{base}/users/{NEWCOMER}")
    expect(anon.locator("h1")).to_have_text(NEWCOMER)
    expect(anon.locator("#subs-h + ul")).to_contain_text("Heat-bath random walks with Markov bases")
    expect(anon.locator("#comments-h + ul > li")).to_have_count(2)
    expect(anon.locator("#comments-h + ul")).not_to_contain_text("The bound is tight")
    save_screenshot(anon, "community-member.png", full_page=True)

    for context in (newcomer, plain, moderator, visitor):
        context.close()
    assert problems == []
