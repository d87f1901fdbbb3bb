"""What a digest mail says, independent of how it is stored or sent (compose fills it, render turns it
into HTML and plain text, mail wraps it in a message)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DigestPaper:
    """One paper in a digest: absolute links, raw text (render escapes HTML and turns LaTeX into Unicode)."""

    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    upvotes: int
    page_url: str  # our paper page, absolute
    abs_url: str  # https://arxiv.org/abs/<id>
    pdf_url: str  # https://arxiv.org/pdf/<id>
    code_url: str | None = None


@dataclass(frozen=True)
class SavedSearchMatches:
    """The papers of the period that match one saved search (include query, exclude words)."""

    include: str
    exclude: str
    papers: list[DigestPaper]


@dataclass(frozen=True)
class DigestContent:
    """One subscriber's digest for one period."""

    site_name: str
    site_url: str  # absolute base URL, no trailing slash
    to_addr: str
    period_label: (
        str  # "Monday 30 November 2026" (daily) or "24–30 November 2026" (weekly: the days it covers)
    )
    frequency: str  # "daily" | "weekly"
    top: list[DigestPaper]  # the period's top trending papers matching the subscriber's topics
    saved: list[SavedSearchMatches] = field(default_factory=list)  # "matches for your saved searches"
    manage_url: str = ""  # signed link to the preferences page (no password)
    unsubscribe_url: str = ""  # signed link: GET shows a page, POST (RFC 8058 one-click) unsubscribes

    @property
    def empty(self) -> bool:
        return not self.top and not any(s.papers for s in self.saved)


@dataclass(frozen=True)
class ConfirmContent:
    """The double opt-in mail."""

    site_name: str
    site_url: str
    to_addr: str
    confirm_url: str  # signed, expires
    expires_hours: int


@dataclass(frozen=True)
class Rendered:
    """A mail body in both forms, and its subject."""

    subject: str
    text: str
    html: str
