"""Turn a digest or a confirmation into a subject, an HTML body and a plain-text body."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dailypapers.core.text import excerpt, latex_to_unicode, short_authors
from dailypapers.digest.model import ConfirmContent, DigestContent, DigestPaper, Rendered

TEXT_WIDTH = 72  # the width plain-text mail readers expect; quoting (“> ”) still fits in 80 columns
EXCERPT_CHARS = 300
AUTHORS_SHOWN = 3

_TEMPLATES = Path(__file__).parent / "templates"

# Autoescape by file name: every paper field is untrusted text in the HTML part, while the text part
# must show "<" and "&" as they are.
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

# A list item ("1. ", "- ") keeps its hanging indent when its line is wrapped.
_LEAD_RE = re.compile(r"^(\s*)(\d+\.\s+|[-*•]\s+)?")


@dataclass(frozen=True)
class PaperView:
    """A paper as both templates show it: one-line text, math as Unicode, only http(s) links."""

    title: str
    authors: str
    categories: str
    upvotes: int
    summary: str
    page_url: str | None
    abs_url: str | None
    pdf_url: str | None
    code_url: str | None


@dataclass(frozen=True)
class SearchView:
    """One saved search with its papers; `label` is what the sub-heading says."""

    label: str
    papers: list[PaperView]


def render_digest(content: DigestContent) -> Rendered:
    """Subject, HTML and plain text of one subscriber's digest."""
    top = [_paper_view(p) for p in content.top]
    searches = [
        SearchView(_search_label(s.include, s.exclude), [_paper_view(p) for p in s.papers])
        for s in content.saved
        if s.papers  # a search with nothing new this period is left out, not shown empty
    ]
    subject = digest_subject(content)
    context = {
        "c": content,
        "subject": subject,
        "top": top,
        "searches": searches,
        "site_url": _safe_url(content.site_url),
        "manage_url": _safe_url(content.manage_url),
        "unsubscribe_url": _safe_url(content.unsubscribe_url),
    }
    return Rendered(
        subject=subject,
        text=wrap_text(_env.get_template("digest.txt").render(context)),
        html=_env.get_template("digest.html").render(context),
    )


def render_confirm(content: ConfirmContent) -> Rendered:
    """Subject, HTML and plain text of the double opt-in mail."""
    subject = _one_line(f"Confirm your subscription to {content.site_name}")
    context = {
        "c": content,
        "subject": subject,
        "confirm_url": _safe_url(content.confirm_url),
        "site_url": _safe_url(content.site_url),
    }
    return Rendered(
        subject=subject,
        text=wrap_text(_env.get_template("confirm.txt").render(context)),
        html=_env.get_template("confirm.html").render(context),
    )


def digest_subject(content: DigestContent) -> str:
    """'Daily Papers — 12 trending papers, Monday 30 November 2026'.

    A paper both trending and matching a saved search is counted once: the number promises
    that many different papers.
    """
    ids = {p.arxiv_id for p in content.top}
    for search in content.saved:
        ids.update(p.arxiv_id for p in search.papers)
    n = len(ids)
    noun = "trending paper" if n == 1 else "trending papers"
    return _one_line(f"{content.site_name} — {n} {noun}, {content.period_label}")


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap every line longer than `width`, keeping its indent (and a list item's hanging indent).

    Words are never split, so a URL longer than `width` stays whole on a line of its own, where
    mail readers still recognise it as one link.
    """
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lead = _LEAD_RE.match(line)
        indent = lead.group(1) if lead else ""
        hanging = " " * len(lead.group(0)) if lead else ""
        out.extend(
            textwrap.wrap(
                line.strip(),
                width=width,
                initial_indent=indent,
                subsequent_indent=hanging,
                break_long_words=False,
                break_on_hyphens=False,  # URLs and hyphenated names stay whole
            )
        )
    return "\n".join(out)


def _paper_view(paper: DigestPaper) -> PaperView:
    return PaperView(
        title=_one_line(latex_to_unicode(paper.title)),
        authors=_one_line(short_authors([_one_line(a) for a in paper.authors], AUTHORS_SHOWN)),
        categories=", ".join(_one_line(c) for c in paper.categories),
        upvotes=paper.upvotes,
        summary=excerpt(paper.abstract, EXCERPT_CHARS),
        page_url=_safe_url(paper.page_url),
        abs_url=_safe_url(paper.abs_url),
        pdf_url=_safe_url(paper.pdf_url),
        code_url=_safe_url(paper.code_url),
    )


def _search_label(include: str, exclude: str) -> str:
    include, exclude = _one_line(include), _one_line(exclude)
    return f"{include} — not: {exclude}" if exclude else include


def _one_line(text: str) -> str:
    """Collapse all whitespace: a newline in a title must not start a fake line in the text part."""
    return " ".join((text or "").split())


def _safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None: a `javascript:` code link must not become a link."""
    if not url:
        return None
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None
