"""End to end in real headless Chromium: a rendered digest mail (light, dark, phone), and the
subscription pages of the demo server driven as a reader does, with the mails caught by a real SMTP
server on loopback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from dailypapers.digest.model import DigestContent, DigestPaper, SavedSearchMatches
from dailypapers.digest.render import render_digest
from dailypapers.store.db import Database
from dailypapers.store.tables import subscribers
from dailypapers.testing.server import free_port, running_demo
from dailypapers.testing.smtp import LoopbackSMTP

CHROMIUM = "/usr/bin/chromium"
SITE = "https://papers.example.org"
HOSTILE = "Robust Parsing of <script>window.__xss = 1; alert(1)</script> Inputs"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@dataclass(frozen=True)
class Demo:
    base: str
    database: Path
    smtp: LoopbackSMTP


@pytest.fixture(scope="module")
def smtp() -> Iterator[LoopbackSMTP]:
    with LoopbackSMTP() as server:
        yield server


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, smtp: LoopbackSMTP) -> Iterator[Demo]:
    """`dailypapers demo` started as users start it, on a free port, sending mail to `smtp`."""
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DAILYPAPERS_SMTP_HOST": "127.0.0.1",
        "DAILYPAPERS_SMTP_PORT": str(smtp.port),
        "DAILYPAPERS_SITE_URL": base,
    }
    with running_demo(workdir, env, port=port) as started:
        yield Demo(started, workdir / "demo.db", smtp)


# --- the digest mail --------------------------------------------------------------------------------


def _paper(
    arxiv_id: str,
    title: str,
    authors: list[str],
    abstract: str,
    categories: list[str],
    upvotes: int,
    code_url: str | None = None,
) -> DigestPaper:
    return DigestPaper(
        arxiv_id=arxiv_id,
        title=title,
        authors=authors,
        abstract=abstract,
        categories=categories,
        upvotes=upvotes,
        page_url=f"{SITE}/papers/{arxiv_id}",
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=code_url,
    )


def digest_content() -> DigestContent:
    entmax = _paper(
        "2611.04417",
        r"Tokenizer-Free Machine Translation with $\alpha$-Entmax Attention",
        ["Mariana Costa", "Jonas Weber", "Priya Raman", "Li Wei", "Samuel Okafor"],
        r"Sparse attention with $\alpha$-entmax lets a byte-level translation model skip most of its input. "
        r"With $\alpha = 1.5$ and a cost of $\mathcal{O}(n \log n)$ we match subword baselines on WMT while "
        r"reading raw bytes, and the learned sparsity pattern recovers word boundaries without supervision.",
        ["cs.CL", "cs.LG"],
        87,
        code_url="https://github.com/example/entmax-mt",
    )
    hostile = _paper(
        "2611.03021",
        HOSTILE,
        ["Mallory <img src=x onerror=alert(2)>", "Eve Example"],
        "Inputs such as <b>bold</b> & <script>alert(3)</script> must stay text. We fuzz HTML sanitisers "
        "with grammar-based generators and find 14 bypasses in widely deployed libraries.",
        ["cs.CR"],
        41,
    )
    scaling = _paper(
        "2611.01188",
        "Scaling Laws for Retrieval-Augmented Language Models",
        ["Ada Lovelace", "Alan Turing"],
        "We fit scaling laws jointly over model size, datastore size and the number of retrieved passages, "
        "and show that retrieval shifts the compute-optimal frontier towards smaller models.",
        ["cs.CL"],
        23,
    )
    contrastive = _paper(
        "2611.02290",
        "Hard Negative Mining for Contrastive Sentence Embeddings",
        ["Grace Hopper"],
        r"Mining negatives at temperature $\tau$ from a momentum queue improves STS by 2.1 points.",
        ["cs.CL", "cs.IR"],
        5,
    )
    return DigestContent(
        site_name="Daily Papers",
        site_url=SITE,
        to_addr="reader@example.org",
        period_label="Monday 30 November 2026",
        frequency="daily",
        top=[entmax, hostile, scaling],
        saved=[
            SavedSearchMatches("contrastive", "medical", [contrastive]),
            SavedSearchMatches("quantum error correction", "", []),
        ],
        manage_url=f"{SITE}/subscription?token=manage.token",
        unsubscribe_url=f"{SITE}/unsubscribe?token=unsub.token",
    )


@pytest.fixture(scope="module")
def digest_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("digest") / "digest.html"
    out.write_text(render_digest(digest_content()).html, encoding="utf-8")
    return out.as_uri()


def _open(browser, url: str, **context_args):  # type: ignore[no-untyped-def]
    """A page on `url` that records any dialog a script would open."""
    context = browser.new_context(**context_args)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_load_state("load")
    page.locator("a.dp-link", has_text="Unsubscribe").wait_for()
    return context, page, dialogs


def _rgb(css: str) -> tuple[float, float, float]:
    found = re.match(r"rgba?\((\d+), (\d+), (\d+)", css)
    assert found, css
    return tuple(int(v) for v in found.groups())  # type: ignore[return-value]


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two computed CSS colours."""

    def lum(css: str) -> float:
        chans = [v / 255 for v in _rgb(css)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Computed colours of the page, the card, and every text/link inside the card.
COLOURS = """() => {
  const card = document.querySelector('.dp-card');
  const cs = e => getComputedStyle(e);
  return {
    body: cs(document.body).backgroundColor,
    card: cs(card).backgroundColor,
    cardText: cs(card).color,
    inside: [...card.querySelectorAll('.dp-text, .dp-muted, .dp-link')]
      .filter(e => e.textContent.trim()).map(e => [e.className, cs(e).color, e.textContent.trim().slice(0, 40)]),
    footer: [...document.querySelectorAll('.dp-pad:not(.dp-card) .dp-text, .dp-pad:not(.dp-card) .dp-muted, '
      + '.dp-pad:not(.dp-card) .dp-link')].map(e => [e.className, cs(e).color, e.textContent.trim().slice(0, 40)]),
  };
}"""


def _check_readable(colours: dict, min_ratio: float = 4.5) -> None:  # type: ignore[type-arg]
    assert _contrast(colours["cardText"], colours["card"]) >= min_ratio, colours
    for cls, colour, text in colours["inside"]:
        assert _contrast(colour, colours["card"]) >= min_ratio, (cls, colour, text, colours["card"])
    for cls, colour, text in colours["footer"]:  # header and footer sit on the page background
        assert _contrast(colour, colours["body"]) >= min_ratio, (cls, colour, text, colours["body"])


def test_digest_in_chromium_light(browser, digest_file: str, save_screenshot) -> None:  # type: ignore[no-untyped-def]
    context, page, dialogs = _open(browser, digest_file, viewport={"width": 1000, "height": 1400})

    # The hostile title and author are text: no script ran, no element was injected.
    titles = page.locator(".dp-title").all_inner_texts()
    assert HOSTILE in titles
    assert "Mallory <img src=x onerror=alert(2)>" in page.locator("body").inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('script, img').length") == 0
    assert dialogs == []

    # LaTeX became Unicode.
    assert "Tokenizer-Free Machine Translation with α-Entmax Attention" in titles
    assert not any("$" in t or "\\alpha" in t for t in titles)
    body_text = page.locator("body").inner_text()
    assert "α" in body_text and "𝒪(n" in body_text and "τ" in body_text  # abstracts too
    assert "$" not in body_text and "\\mathcal" not in body_text

    # Sections: trending, then the saved search with matches; the empty search is left out.
    assert [h.strip().upper() for h in page.locator("h2").all_inner_texts()] == [
        "TRENDING",
        "MATCHES FOR YOUR SAVED SEARCHES",
    ]
    assert page.locator("h3").all_inner_texts() == ["contrastive — not: medical"]
    assert "quantum error correction" not in body_text
    assert page.locator(".dp-title").count() == 4

    # arXiv / PDF / Code links, all absolute https; Code only where the paper has code.
    for label, count in (("arXiv", 4), ("PDF", 4), ("Code", 1)):
        hrefs = page.locator("a.dp-link", has_text=re.compile(rf"^{label}$")).evaluate_all(
            "as => as.map(a => a.href)"
        )
        assert len(hrefs) == count, (label, hrefs)
        assert all(h.startswith("https://") for h in hrefs), hrefs
    assert (
        page.get_by_role("link", name="Code").get_attribute("href") == "https://github.com/example/entmax-mt"
    )
    assert (
        page.get_by_role("link", name="PDF").first.get_attribute("href") == "https://arxiv.org/pdf/2611.04417"
    )
    every_href = page.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert all(h and h.startswith("https://") for h in every_href), every_href

    # Readable: the card is white with dark text, every line in and around it passes WCAG AA.
    colours = page.evaluate(COLOURS)
    assert _rgb(colours["card"]) == (255, 255, 255)
    _check_readable(colours)
    # The container stays at most 600 px wide on a wide window.
    assert page.locator(".dp-container").bounding_box()["width"] <= 600
    assert page.evaluate("document.documentElement.scrollWidth") <= 1000
    save_screenshot(page, "digest.png", full_page=True)
    context.close()


def test_digest_in_chromium_dark(browser, digest_file: str, save_screenshot) -> None:  # type: ignore[no-untyped-def]
    context, page, dialogs = _open(
        browser, digest_file, viewport={"width": 1000, "height": 1400}, color_scheme="dark"
    )
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    colours = page.evaluate(COLOURS)
    # Dark backgrounds, light text: the dark block swapped both, not only one of them.
    assert colours["cardText"] != colours["card"]
    assert sum(_rgb(colours["body"])) < 3 * 64 and sum(_rgb(colours["card"])) < 3 * 64, colours
    assert sum(_rgb(colours["cardText"])) > 3 * 192, colours
    _check_readable(colours)
    assert dialogs == [] and page.evaluate("window.__xss") is None
    save_screenshot(page, "digest-dark.png", full_page=True)
    context.close()


def test_digest_on_a_phone(browser, digest_file: str, save_screenshot) -> None:  # type: ignore[no-untyped-def]
    context, page, dialogs = _open(
        browser, digest_file, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    # No horizontal scrolling, and nothing sticks out of the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("window.innerWidth") == PHONE["width"]  # the viewport meta tag was honoured
    overflowing = page.evaluate(
        """w => [...document.body.querySelectorAll('*')].filter(e => e.getClientRects().length)
             .map(e => [e.tagName, e.className, e.getBoundingClientRect().right])
             .filter(([, , right]) => right > w + 0.5)""",
        PHONE["width"],
    )
    assert overflowing == []
    card = page.locator(".dp-card").bounding_box()
    assert card is not None and card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    assert card["width"] >= PHONE["width"] - 40  # the narrow-screen rules use the width, not 600 px squeezed
    # Titles stay big enough to read and tap.
    assert page.locator(".dp-title").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 16
    assert dialogs == []
    save_screenshot(page, "digest-phone.png", full_page=True)
    context.close()


# --- the subscription pages of the demo server -----------------------------------------------------


def _text_part(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def _subscriber(database: Path, address: str):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{database}")
    try:
        with db.read() as conn:
            return conn.execute(sa.select(subscribers).where(subscribers.c.email == address)).one_or_none()
    finally:
        db.dispose()


def test_subscribe_confirm_preferences_unsubscribe(  # type: ignore[no-untyped-def]
    demo_server: Demo, browser, save_screenshot
) -> None:
    from playwright.sync_api import expect

    address = "reader@example.org"
    smtp = demo_server.smtp
    before = len(smtp.messages)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(demo_server.base + "/")
    box = page.locator(".subscribe-box")
    expect(box.get_by_role("heading")).to_have_text("Get trending papers in your email inbox!")
    box.get_by_label("Email address").fill(address)
    box.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.locator("main, body").first).to_contain_text(address)

    # The confirmation mail, sent by the server through the loopback SMTP server.
    mail = smtp.wait_for(before + 1, timeout=30)[before]
    assert mail.rcpt_tos == [address]
    assert "Confirm your subscription" in mail.message["Subject"]
    found = re.search(
        re.escape(demo_server.base) + r"/subscribe/confirm\?token=\S+", _text_part(mail.message)
    )
    assert found, _text_part(mail.message)
    assert _subscriber(demo_server.database, address).status == "pending"

    # Opening the link only shows a button (mail scanners open links); the button confirms.
    page.goto(found.group(0))
    expect(page.locator("h1")).to_have_text("Confirm your subscription")
    assert _subscriber(demo_server.database, address).status == "pending"
    page.get_by_role("button", name="Confirm my subscription").click()
    page.wait_for_url("**/subscription?token=*")
    preferences_url = page.url
    expect(page.get_by_role("status")).to_contain_text("Subscription confirmed")
    expect(page.locator("h1")).to_have_text("Your digest")
    assert _subscriber(demo_server.database, address).status == "active"

    # Preferences: hour, time zone, categories, one saved search.
    form = page.locator("form.prefs")
    form.get_by_label("Hour").select_option(label="07:00")
    form.get_by_label("Time zone").fill("Europe/Paris")
    form.get_by_label("arXiv categories").fill("cs.CL")
    form.locator('input[name="include"]').first.fill('"contrastive learning"')
    form.locator('input[name="exclude"]').first.fill("medical")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    # The page shows what was stored.
    form = page.locator("form.prefs")
    expect(form.get_by_label("Hour")).to_have_value("7")
    expect(form.get_by_label("Time zone")).to_have_value("Europe/Paris")
    expect(form.get_by_label("arXiv categories")).to_have_value("cs.CL")
    expect(form.locator('input[name="include"]').first).to_have_value('"contrastive learning"')
    expect(form.locator('input[name="exclude"]').first).to_have_value("medical")
    row = _subscriber(demo_server.database, address)
    assert row.send_hour == 7 and row.timezone == "Europe/Paris"
    save_screenshot(page, "preferences.png", full_page=True)

    # Unsubscribe: the link shows a page, its button unsubscribes.
    page.get_by_role("link", name="Unsubscribe").click()
    page.wait_for_url("**/unsubscribe?token=*")
    expect(page.locator("h1")).to_have_text("Unsubscribe")
    expect(page.locator("body")).to_contain_text(address)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    assert _subscriber(demo_server.database, address).status == "unsubscribed"
    # One mail in all for this address: the confirmation (no welcome mail, no digest yet).
    assert [m.rcpt_tos for m in smtp.messages if address in m.rcpt_tos] == [[address]]

    # The preferences link now says the address is unsubscribed: no form to save, a button to come back.
    page.goto(preferences_url)
    expect(page.locator("h1")).to_have_text("You are unsubscribed")
    expect(page.locator("form.prefs")).to_have_count(0)
    page.get_by_role("button", name="Subscribe again").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert _subscriber(demo_server.database, address).status == "pending"
    context.close()


def test_subscribe_without_the_csrf_cookie_is_refused(demo_server: Demo, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    address = "no-cookie@example.org"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(demo_server.base + "/")
    assert any(c["name"] == "dp_csrf" for c in context.cookies())
    page.locator(".subscribe-box").get_by_label("Email address").fill(address)
    context.clear_cookies()
    with page.expect_response(
        lambda r: r.url.endswith("/subscribe") and r.request.method == "POST"
    ) as answer:
        page.locator(".subscribe-box").get_by_role("button", name="Subscribe").click()
    assert answer.value.status == 403
    expect(page.locator("h1")).to_have_text("Please try again")
    expect(page.locator("body")).to_contain_text("reload the page and try again")
    assert _subscriber(demo_server.database, address) is None
    # Reloading the form, as the page says, works.
    page.goto(demo_server.base + "/")
    page.locator(".subscribe-box").get_by_label("Email address").fill(address)
    page.locator(".subscribe-box").get_by_role("button", name="Subscribe").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert _subscriber(demo_server.database, address).status == "pending"
    context.close()
