"""Digest and confirmation mails: escaping of paper text, math as Unicode, links, sections, text
wrapping, and an email layout readable in light and dark mode."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from dailypapers.core.text import latex_to_unicode
from dailypapers.digest.model import ConfirmContent, DigestContent, DigestPaper, SavedSearchMatches
from dailypapers.digest.render import render_confirm, render_digest, wrap_text

SITE = "https://papers.example.org"


def paper(n: int = 1, **fields: object) -> DigestPaper:
    base = DigestPaper(
        arxiv_id=f"2611.{n:05d}",
        title=f"Paper number {n}",
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"],
        abstract="We study things. " * 40,
        categories=["cs.LG", "stat.ML"],
        upvotes=10 * n,
        page_url=f"{SITE}/papers/2611.{n:05d}",
        abs_url=f"https://arxiv.org/abs/2611.{n:05d}",
        pdf_url=f"https://arxiv.org/pdf/2611.{n:05d}",
        code_url=None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def digest(**fields: object) -> DigestContent:
    base = DigestContent(
        site_name="Daily Papers",
        site_url=SITE,
        to_addr="reader@example.org",
        period_label="Monday 30 November 2026",
        frequency="daily",
        top=[paper(1), paper(2)],
        saved=[],
        manage_url=f"{SITE}/digest/manage?token=abc.def",
        unsubscribe_url=f"{SITE}/digest/unsubscribe?token=abc.def",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def confirm(**fields: object) -> ConfirmContent:
    base = ConfirmContent(
        site_name="Daily Papers",
        site_url=SITE,
        to_addr="reader@example.org",
        confirm_url=f"{SITE}/digest/confirm?token=xyz.123",
        expires_hours=48,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


# --- subject -------------------------------------------------------------------------------------


def test_subject_names_site_count_and_period() -> None:
    saved = [SavedSearchMatches("diffusion", "", [paper(3), paper(1)])]  # paper 1 is also trending
    assert render_digest(digest(saved=saved)).subject == (
        "Daily Papers — 3 trending papers, Monday 30 November 2026"
    )
    assert render_digest(digest(top=[paper(1)])).subject == (
        "Daily Papers — 1 trending paper, Monday 30 November 2026"
    )


def test_subject_is_one_line_whatever_the_label() -> None:
    subject = render_digest(digest(period_label="week 48,\r\n23–29 November 2026")).subject
    assert "\n" not in subject and "\r" not in subject
    assert subject.endswith("week 48, 23–29 November 2026")


# --- untrusted text ------------------------------------------------------------------------------


def test_hostile_paper_text_is_escaped_in_html() -> None:
    hostile = paper(
        1,
        title="<script>alert('title')</script> & more",
        authors=['<img src=x onerror="alert(1)">', "Bob"],
        abstract="An abstract with </p><iframe src=//evil> inside.",
        categories=["cs.LG<b>"],
    )
    saved = [SavedSearchMatches("<b>bold</b>", "<i>x</i>", [paper(2)])]
    html = render_digest(digest(top=[hostile], saved=saved)).html

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; &amp; more" in html
    assert "<img" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<iframe" not in html and "&lt;/p&gt;&lt;iframe src=//evil&gt;" in html
    assert "<b>" not in html and "<i>" not in html
    assert "cs.LG&lt;b&gt;" in html


def test_text_part_shows_paper_text_as_is() -> None:
    """No HTML escaping in plain text: 'AT&T <3' reads as written."""
    rendered = render_digest(digest(top=[paper(1, title="AT&T <3 transformers")]))
    assert "AT&T <3 transformers" in rendered.text
    assert "&amp;" not in rendered.text and "&lt;" not in rendered.text
    assert "AT&amp;T &lt;3 transformers" in rendered.html


def test_newlines_in_paper_text_cannot_forge_lines() -> None:
    title = "Real title\n\nUnsubscribe: https://evil.example/"
    text = render_digest(digest(top=[paper(1, title=title)])).text
    assert not any(line.startswith("Unsubscribe: https://evil") for line in text.splitlines())
    assert "Real title Unsubscribe: https://evil.example/" in " ".join(text.split())


def test_only_http_links_become_links() -> None:
    rendered = render_digest(digest(top=[paper(1, code_url="javascript:alert(1)")]))
    assert "javascript:" not in rendered.html
    assert "javascript:" not in rendered.text
    assert ">Code<" not in rendered.html


# --- LaTeX ---------------------------------------------------------------------------------------


def test_latex_is_unicode_in_both_parts() -> None:
    title = r"$\alpha$-divergence bounds for $\mathcal{L}$-smooth losses"
    abstract = r"We give an $O(n^2)$ algorithm whose error is $\leq \epsilon$."
    rendered = render_digest(digest(top=[paper(1, title=title, abstract=abstract)]))

    math_title = latex_to_unicode(title)
    assert "α-divergence" in math_title  # the converter does the work; render must use it
    for body in (rendered.text, " ".join(rendered.html.split())):
        assert math_title in " ".join(body.split())
        assert latex_to_unicode(r"$O(n^2)$") in body
        assert "\\alpha" not in body and "$" not in body and "\\leq" not in body


def test_abstract_is_an_excerpt() -> None:
    abstract = "word " * 500
    rendered = render_digest(digest(top=[paper(1, abstract=abstract)]))
    shown = re.search(r">((?:word )+word…)<", rendered.html)
    assert shown is not None
    assert 250 <= len(shown.group(1)) <= 305


# --- links and sections --------------------------------------------------------------------------


def test_every_link_is_in_both_parts() -> None:
    content = digest(top=[paper(1, code_url="https://github.com/example/code"), paper(2)])
    rendered = render_digest(content)
    urls = [
        f"{SITE}/papers/2611.00001",
        "https://arxiv.org/abs/2611.00001",
        "https://arxiv.org/pdf/2611.00001",
        "https://github.com/example/code",
        f"{SITE}/papers/2611.00002",
        content.manage_url,
        content.unsubscribe_url,
    ]
    for url in urls:
        assert url in rendered.text
        assert f'href="{url}"' in rendered.html
    assert ">Change your preferences</a>" in rendered.html
    assert ">Unsubscribe</a>" in rendered.html
    assert ">arXiv</a>" in rendered.html and ">PDF</a>" in rendered.html


def test_code_link_only_when_the_paper_has_code() -> None:
    rendered = render_digest(digest(top=[paper(1, code_url="https://github.com/x/y"), paper(2)]))
    assert rendered.html.count(">Code</a>") == 1
    assert len(re.findall(r"^\s*Code:", rendered.text, re.MULTILINE)) == 1


def test_sections_in_order_and_empty_searches_left_out() -> None:
    saved = [
        SavedSearchMatches("diffusion models", "survey benchmark", [paper(3)]),
        SavedSearchMatches("quantum annealing", "", []),
        SavedSearchMatches("graph networks", "", [paper(4)]),
    ]
    rendered = render_digest(digest(saved=saved))
    for body in (rendered.text, rendered.html):
        assert "quantum annealing" not in body
        assert "diffusion models — not: survey benchmark" in body
        assert "graph networks" in body and "graph networks — not" not in body
        assert "Paper number 3" in body and "Paper number 4" in body
    html = rendered.html
    order = [html.index(s) for s in (">Trending<", ">Matches for your saved searches<", "diffusion", "graph")]
    assert order == sorted(order)
    text = rendered.text
    order = [text.index(s) for s in ("TRENDING", "MATCHES FOR YOUR SAVED SEARCHES", "diffusion", "graph")]
    assert order == sorted(order)


def test_no_saved_section_without_matches() -> None:
    rendered = render_digest(digest(saved=[SavedSearchMatches("quantum", "", [])]))
    assert "saved searches" not in rendered.html.lower()
    assert "SAVED SEARCHES" not in rendered.text


def test_paper_details_shown() -> None:
    rendered = render_digest(digest(top=[paper(7)]))
    for body in (rendered.text, rendered.html):
        assert "Ada Lovelace, Alan Turing, Grace Hopper +2 authors" in body
        assert "cs.LG, stat.ML" in body
        assert "70 upvotes" in body


def test_footer_says_why() -> None:
    rendered = render_digest(digest())
    for body in (rendered.text, rendered.html):
        assert "reader@example.org subscribed to the daily digest of Daily Papers" in " ".join(body.split())


# --- plain text ----------------------------------------------------------------------------------


def test_text_lines_fit_72_columns_except_long_urls() -> None:
    long_url = "https://papers.example.org/digest/unsubscribe?token=" + "x" * 90
    content = digest(
        top=[
            paper(1, title="A title long enough to need wrapping: " + "very " * 20 + "long"),
            paper(2, authors=["Someone With An Extremely Long Name Indeed"] * 4),
        ],
        saved=[SavedSearchMatches("a saved search query that is itself " + "long " * 12, "x y", [paper(3)])],
        unsubscribe_url=long_url,
    )
    text = render_digest(content).text
    over = [line for line in text.splitlines() if len(line) > 72]
    assert over == [long_url]  # a URL is never cut: it stays whole on a line of its own
    assert "very very" in text  # the long title is there, wrapped
    assert "   very" in text or "   long" in text  # continuation lines keep the hanging indent


def test_wrap_text_keeps_indents() -> None:
    line = "1. " + "word " * 30
    wrapped = wrap_text(line).splitlines()
    assert wrapped[0].startswith("1. word")
    assert all(w.startswith("   word") for w in wrapped[1:])
    assert all(len(w) <= 72 for w in wrapped)


# --- HTML layout ---------------------------------------------------------------------------------


def test_html_is_an_email_layout() -> None:
    html = render_digest(digest()).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert re.search(r"@media only screen and \(max-width: \d+px\)", html)
    assert 'role="presentation"' in html and "max-width:600px" in html
    # Inline styles: every paragraph, heading and link carries its own style.
    outside_comments = re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL)  # Outlook-only wrappers
    for tag in re.findall(r"<(?:p|h1|h2|h3|a|td)\b[^>]*>", outside_comments):
        assert "style=" in tag, tag


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_digest_text_is_readable(scheme: str) -> None:
    saved = [SavedSearchMatches("diffusion", "survey", [paper(3, code_url="https://github.com/x/y")])]
    html = render_digest(digest(saved=saved)).html
    assert_readable(html, scheme)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_confirm_text_is_readable(scheme: str) -> None:
    assert_readable(render_confirm(confirm()).html, scheme)


# --- confirmation --------------------------------------------------------------------------------


def test_confirm_mail() -> None:
    content = confirm()
    rendered = render_confirm(content)
    assert rendered.subject == "Confirm your subscription to Daily Papers"
    assert content.confirm_url in rendered.text.splitlines()  # on a line of its own
    assert f'href="{content.confirm_url}"' in rendered.html
    assert ">Confirm my subscription</a>" in rendered.html
    for body in (rendered.text, rendered.html):
        flat = " ".join(body.split())
        assert "expires in 48 hours" in flat
        assert "If you did not ask for this, ignore this mail: nothing happens" in flat
        assert "reader@example.org" in flat
    assert all(len(line) <= 72 for line in rendered.text.splitlines())


def test_confirm_one_hour() -> None:
    assert "expires in 1 hour." in render_confirm(confirm(expires_hours=1)).text


# --- a contrast check: what a reader sees in light and in dark mode ----------------------------------

VOID = {"meta", "br", "img", "hr", "link", "input", "col"}
LIGHT_PAGE = ("#000000", "#ffffff")  # what a client shows where the mail sets nothing


def assert_readable(html: str, scheme: str) -> None:
    """Every visible text has a contrast of at least 4.5:1 (WCAG AA) against its background, with
    the inline colours and, in dark mode, the class rules of the prefers-color-scheme block."""
    dark_rules = _dark_rules(html) if scheme == "dark" else {}
    checker = _ContrastChecker(dark_rules)
    checker.feed(html)
    assert checker.checked > 5
    assert not checker.problems, checker.problems


def _dark_rules(html: str) -> dict[str, dict[str, str]]:
    block = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n  \}", html, re.DOTALL)
    assert block is not None
    rules: dict[str, dict[str, str]] = {}
    for cls, body in re.findall(r"\.([\w-]+) \{([^}]*)\}", block.group(1)):
        rules[cls] = _declarations(body.replace("!important", ""))
    return rules


def _declarations(style: str) -> dict[str, str]:
    out = {}
    for decl in style.split(";"):
        name, _, value = decl.partition(":")
        if value:
            out[name.strip().lower()] = value.strip().lower()
    return out


class _ContrastChecker(HTMLParser):
    def __init__(self, dark_rules: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.dark_rules = dark_rules
        self.stack: list[tuple[str, str, str, bool]] = [("root", *LIGHT_PAGE, False)]  # tag, fg, bg, hidden
        self.problems: list[str] = []
        self.checked = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        a = dict(attrs)
        _, fg, bg, hidden = self.stack[-1]
        style = _declarations(a.get("style") or "")
        for cls in (a.get("class") or "").split():
            style.update(self.dark_rules.get(cls, {}))  # !important beats inline
        fg = style.get("color", fg)
        bg = style.get("background-color", bg)
        hidden = hidden or style.get("display") == "none" or tag in ("head", "title", "style")
        self.stack.append((tag, fg, bg, hidden))

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        _, fg, bg, hidden = self.stack[-1]
        if hidden or not data.strip():
            return
        self.checked += 1
        ratio = _contrast(fg, bg)
        if ratio < 4.5:
            self.problems.append(f"{data.strip()[:40]!r}: {fg} on {bg} ({ratio:.1f}:1)")


def _contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _luminance(color: str) -> float:
    assert re.fullmatch(r"#[0-9a-f]{6}", color), color
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
