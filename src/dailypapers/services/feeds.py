"""RSS 2.0 and Atom feeds of the daily list, a day/week/month, an arXiv category, a search, a member's
submissions and a paper's comments; and the feed links the pages announce.

Each feed is described once (a _Feed of _Entry) from one read transaction, then written by feedgen as
Atom or RSS: feedgen (lxml) does all the XML escaping. Entry and feed ids are tag URIs on the host of
the setting site_url, so they never depend on the address a request came in by; every time in a feed
comes from the data, so the same data gives the same bytes (and the same ETag)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from feedgen.feed import FeedGenerator
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from dailypapers.core.arxiv_ids import abs_url, pdf_url
from dailypapers.core.markdown import render_comment
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.core.text import abstract_html, latex_to_unicode
from dailypapers.search.keyword import term_conditions
from dailypapers.search.query import ParsedQuery, parse_query
from dailypapers.services.comments import paper_row
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.feed import feed_period
from dailypapers.services.members import valid_username
from dailypapers.services.runtime import Database
from dailypapers.store import accounts as accounts_q
from dailypapers.store import feed as feed_q
from dailypapers.store import syndication

FeedFormat = Literal["atom", "rss"]
FORMATS: tuple[FeedFormat, ...] = ("atom", "rss")
# What the routes answer (the document) and what the pages announce (<link type>).
MEDIA_TYPES: dict[FeedFormat, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
LINK_TYPES: dict[FeedFormat, str] = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
FORMAT_NAMES: dict[FeedFormat, str] = {"atom": "Atom", "rss": "RSS"}
PERIOD_KINDS = ("date", "week", "month")
# An arXiv category or archive as the feeds take it (cs.CL, hep-th, math.AG, q-bio.NC).
CATEGORY_PATTERN = r"^[a-z][a-z\-]{0,19}(\.[A-Za-z\-]{1,12})?$"
# The date part of every tag URI (RFC 4151): a constant, so that ids never change.
TAG_DATE = "2026"
ARXIV_SCHEME = "http://arxiv.org/schemas/atom"  # the scheme arXiv's own Atom feeds give categories
# Characters XML 1.0 cannot carry (and C1 controls): dropped from every text before feedgen sees it.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The time of a feed with no entry on a site with no feed entry at all.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class FeedLink(BaseModel):
    """A feed as a page announces it: a <link rel="alternate"> in the head, and the visible feed line
    (links of the same `title` are one feed in two formats)."""

    title: str
    label: str  # a short name for the visible line: "this day", "category cs.CL"
    url: str  # the path on this site
    type: str  # the media type
    format: str  # "Atom" or "RSS"


class FeedDocument(BaseModel):
    """A feed as written: the bytes, their media type, and the time of its newest entry."""

    content: bytes
    media_type: str
    last_modified: datetime


@dataclass(frozen=True)
class _Entry:
    key: str  # the tag URI's specific part: "paper/2401.00001", "comment/42"
    title: str  # text (LaTeX as Unicode)
    url: str  # the page of the entry, absolute
    published: datetime
    updated: datetime
    authors: list[str]
    content_html: str  # sanitised HTML, math as MathML
    categories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Feed:
    key: str  # the tag URI's specific part: "feed/daily", "feed/category/cs.CL"
    path: str  # the feed's address without the suffix: "/feed", "/categories/cs.CL"
    title: str
    subtitle: str
    page: str  # the page the feed belongs to, absolute
    entries: list[_Entry]
    empty_updated: datetime  # the feed's time while it has no entry
    query: dict[str, str] = field(default_factory=dict)  # the address's query (a search's `q`)


# --- writing ------------------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _site(settings: Settings) -> str:
    return settings.site_url.rstrip("/")


def _tag(settings: Settings, key: str) -> str:
    """A tag URI (RFC 4151) on the site's host: `tag:example.org,2026:paper/2401.00001`."""
    host = urlsplit(settings.site_url).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:{key}"


def _updated(feed: _Feed) -> datetime:
    return max((entry.updated for entry in feed.entries), default=feed.empty_updated)


def _add_entry(generator: FeedGenerator, settings: Settings, entry: _Entry) -> None:
    item = generator.add_entry(order="append")
    item.id(_tag(settings, entry.key))
    item.title(_xml_text(entry.title))
    item.link(href=entry.url, rel="alternate")
    item.published(entry.published)
    item.updated(entry.updated)
    names = [_xml_text(name) for name in entry.authors if _xml_text(name).strip()]
    if names:
        item.author([{"name": name} for name in names])
        item.dc.dc_creator(names)  # RSS's <author> must be an address: names go in dc:creator
    item.content(_xml_text(entry.content_html), type="html")
    for category in entry.categories:
        item.category(term=_xml_text(category), scheme=ARXIV_SCHEME)


def _write(feed: _Feed, settings: Settings, fmt: FeedFormat) -> FeedDocument:
    """The feed as Atom or RSS bytes, with its time."""
    updated = _updated(feed)
    query = f"?{urlencode(feed.query)}" if feed.query else ""
    generator = FeedGenerator()
    generator.load_extension("dc", atom=False, rss=True)
    generator.id(_tag(settings, feed.key))
    generator.title(_xml_text(feed.title))
    generator.description(_xml_text(feed.subtitle))
    generator.author({"name": _xml_text(settings.site_name)})
    # RSS takes the last link as the channel's: the page, after the feed's own address.
    generator.link(href=f"{_site(settings)}{feed.path}.{fmt}{query}", rel="self", type=LINK_TYPES[fmt])
    generator.link(href=feed.page, rel="alternate", type="text/html")
    generator.icon(f"{_site(settings)}/static/favicon.svg")
    generator.language("en")
    generator.generator("dailypapers")
    # Both default to the clock: set from the data, so the same data gives the same bytes.
    generator.updated(updated)
    generator.lastBuildDate(updated)
    for entry in feed.entries:
        _add_entry(generator, settings, entry)
    content = generator.atom_str(pretty=True) if fmt == "atom" else generator.rss_str(pretty=True)
    return FeedDocument(content=content, media_type=MEDIA_TYPES[fmt], last_modified=updated)


# --- entries ------------------------------------------------------------------------------------------


def _paper_entry(settings: Settings, row: dict[str, Any], featured_at: datetime | None) -> _Entry:
    """A paper: published when it entered the feed, updated by a newer arXiv version since."""
    published = as_utc(featured_at or row["first_featured_at"] or row["created_at"])
    revised = as_utc(row["updated_at"])
    arxiv_id, version = row["arxiv_id"], row["version"]
    links = Markup('<p><a href="{}">arXiv:{}</a> · <a href="{}">PDF</a></p>').format(
        abs_url(arxiv_id, version), arxiv_id, pdf_url(arxiv_id, version)
    )
    return _Entry(
        key=f"paper/{arxiv_id}",
        title=latex_to_unicode(row["title"]),
        url=f"{_site(settings)}/papers/{arxiv_id}",
        published=published,
        updated=max(published, revised) if revised else published,
        authors=list(row["authors"] or []),
        content_html=str(abstract_html(row["abstract"]) + links),
        categories=list(row["categories"] or []),
    )


def _featured_entries(settings: Settings, rows: list[dict[str, Any]]) -> list[_Entry]:
    return [_paper_entry(settings, row, row["featured_at"]) for row in rows]


def _comment_entry(settings: Settings, row: Any, paper_title: str) -> _Entry:
    author = (row.display_name or row.username) if row.username else "[deleted account]"
    created = as_utc(row.created_at)
    return _Entry(
        key=f"comment/{row.id}",
        title=f"{author} on “{paper_title}”",
        url=f"{_site(settings)}/papers/{row.arxiv_id}#c{row.id}",
        published=created,
        updated=as_utc(row.edited_at) or created,
        authors=[author],
        content_html=str(render_comment(row.body)),
    )


def _last_featured(conn: Connection) -> datetime:
    return as_utc(syndication.last_featured_at(conn)) or _NEVER


# --- titles (the feed's own and the pages' links say the same) -----------------------------------------


def _daily_title(settings: Settings) -> str:
    return f"{settings.site_name}: the daily list"


def _period_title(settings: Settings, label: str) -> str:
    return f"{settings.site_name}: {label}"


def _category_title(settings: Settings, category: str) -> str:
    return f"{settings.site_name}: new papers in {category}"


def _search_title(query: str) -> str:
    return f'New papers matching "{query}"'


def _submissions_title(name: str) -> str:
    return f"Papers submitted by {name}"


def _comments_title(paper_title: str) -> str:
    return f"Comments on “{latex_to_unicode(paper_title)}”"


# --- the feeds ----------------------------------------------------------------------------------------


def daily_feed(db: Database, settings: Settings, fmt: FeedFormat) -> FeedDocument:
    """The daily list: the newest featured papers (setting feed_items), newest feed day first and
    trending within a day."""
    with db.read() as conn:
        rows = syndication.newest_featured(conn, [], settings.feed_items, within_day="trending")
        empty = _last_featured(conn)
    feed = _Feed(
        key="feed/daily",
        path="/feed",
        title=_daily_title(settings),
        subtitle=f"The papers of {settings.site_name}'s daily list, newest day first",
        page=f"{_site(settings)}/",
        entries=_featured_entries(settings, rows),
        empty_updated=empty,
    )
    return _write(feed, settings, fmt)


def period_feed(db: Database, settings: Settings, kind: str, key: str, fmt: FeedFormat) -> FeedDocument:
    """A day's, ISO week's or month's papers in trending order (the page's first papers, at most
    setting feed_items). NotFound for another kind, a key that names no period, or a period without
    papers."""
    if kind not in PERIOD_KINDS:
        raise NotFound("There is no feed at this address.")
    try:
        period = feed_period(kind, key)
    except BadRequest as exc:  # no day, week or month: "2026-02-30", "2026-W60", "june"
        raise NotFound(str(exc)) from None
    with db.read() as conn:
        rows = feed_q.papers_in_period(conn, period.start, period.end, "trending", settings.feed_items, 0)
        if not rows:
            raise NotFound(f"no papers were featured in {period.label}")
        featured = syndication.featured_in(conn, [r["arxiv_id"] for r in rows], period.start, period.end)
    path = f"/papers/{kind}/{period.key}"
    feed = _Feed(
        key=f"feed{path}",
        path=path,
        title=_period_title(settings, period.label),
        subtitle=f"The papers of {period.label} on {settings.site_name}, trending first",
        page=f"{_site(settings)}{path}",
        entries=[_paper_entry(settings, row, featured.get(row["arxiv_id"])) for row in rows],
        empty_updated=_NEVER,
    )
    return _write(feed, settings, fmt)


def _checked_category(category: str) -> str:
    if not re.fullmatch(CATEGORY_PATTERN, category):
        raise BadRequest(f"{category[:40]!r} is not an arXiv category (like cs.CL or hep-th)")
    return category


def category_feed(db: Database, settings: Settings, category: str, fmt: FeedFormat) -> FeedDocument:
    """The newest featured papers in an arXiv category (any of their categories), newest first;
    BadRequest for a name that is no category."""
    category = _checked_category(category)
    query = parse_query(f"cat:{category}")
    with db.read() as conn:
        rows = syndication.newest_featured(conn, term_conditions(conn, query), settings.feed_items)
        empty = _last_featured(conn)
    feed = _Feed(
        key=f"feed/category/{category}",
        path=f"/categories/{category}",
        title=_category_title(settings, category),
        subtitle=f"New papers in the arXiv category {category} on {settings.site_name}, newest first",
        page=f"{_site(settings)}/search?{urlencode({'q': f'cat:{category}'})}",
        entries=_featured_entries(settings, rows),
        empty_updated=empty,
    )
    return _write(feed, settings, fmt)


def _matchable(query: ParsedQuery) -> bool:
    """Whether a query has anything to match (a query of signs only has nothing)."""
    return bool(query.arxiv_id or query.terms or query.categories or query.after or query.before)


def _matching(conn: Connection, query: ParsedQuery, limit: int) -> list[dict[str, Any]]:
    if not _matchable(query):
        return []
    conditions = [syndication.is_paper(query.arxiv_id)] if query.arxiv_id else term_conditions(conn, query)
    return syndication.newest_featured(conn, conditions, limit)


def search_feed(db: Database, settings: Settings, q: str, fmt: FeedFormat) -> FeedDocument:
    """A saved search: the newest featured papers that match the query (every word, none of the
    excluded ones, its fields, categories and dates), newest first, not ranked by relevance; none
    for a query with nothing to match. BadRequest for no query."""
    if not q:
        raise BadRequest("q: a query is needed, e.g. `contrastive -medical`")
    query = parse_query(q)
    with db.read() as conn:
        rows = _matching(conn, query, settings.feed_items)
        empty = _last_featured(conn)
    feed = _Feed(
        key=f"feed/search/{quote(query.raw, safe='')}",
        path="/search",
        query={"q": query.raw},
        title=_search_title(query.raw),
        subtitle=f"New papers on {settings.site_name} matching the search {query.raw}, newest first",
        page=f"{_site(settings)}/search?{urlencode({'q': query.raw})}",
        entries=_featured_entries(settings, rows),
        empty_updated=empty,
    )
    return _write(feed, settings, fmt)


def submissions_feed(db: Database, settings: Settings, username: str, fmt: FeedFormat) -> FeedDocument:
    """The papers a member submitted to the daily list, newest first; NotFound for no such member."""
    with db.read() as conn:
        member = accounts_q.member_by_username(conn, username) if valid_username(username) else None
        if member is None:
            raise NotFound(f"There is no member called {username[:64]!r}.")
        rows = syndication.newest_featured(conn, [], settings.feed_items, submitted_by=member.id)
    name = member.display_name or member.username
    feed = _Feed(
        key=f"feed/users/{member.username}/submissions",
        path=f"/users/{member.username}/submissions",
        title=_submissions_title(name),
        subtitle=f"The papers {name} submitted to the daily list of {settings.site_name}, newest first",
        page=f"{_site(settings)}/users/{member.username}",
        entries=_featured_entries(settings, rows),
        empty_updated=as_utc(member.created_at),
    )
    return _write(feed, settings, fmt)


def comments_feed(db: Database, settings: Settings, arxiv_id: str, fmt: FeedFormat) -> FeedDocument:
    """A paper's comments that are neither deleted nor hidden, newest first (any spelling of the id);
    NotFound for a paper not stored here."""
    with db.read() as conn:
        paper = paper_row(conn, arxiv_id)
        rows = syndication.visible_comments(conn, paper["arxiv_id"], settings.feed_items)
    title = latex_to_unicode(paper["title"])
    path = f"/papers/{paper['arxiv_id']}"
    feed = _Feed(
        key=f"feed{path}/comments",
        path=f"{path}/comments",
        title=_comments_title(paper["title"]),
        subtitle=f"The discussion of arXiv:{paper['arxiv_id']} on {settings.site_name}, newest first",
        page=f"{_site(settings)}{path}#comments",
        entries=[_comment_entry(settings, row, title) for row in rows],
        empty_updated=as_utc(paper["first_featured_at"] or paper["created_at"]),
    )
    return _write(feed, settings, fmt)


# --- what the pages announce ----------------------------------------------------------------------------


def _links(title: str, label: str, path: str, query: dict[str, str] | None = None) -> list[FeedLink]:
    suffix = f"?{urlencode(query)}" if query else ""
    return [
        FeedLink(
            title=title,
            label=label,
            url=f"{path}.{fmt}{suffix}",
            type=LINK_TYPES[fmt],
            format=FORMAT_NAMES[fmt],
        )
        for fmt in FORMATS
    ]


def daily_feed_links(settings: Settings) -> list[FeedLink]:
    """The daily list's feeds (the home page announces them)."""
    return _links(_daily_title(settings), "the daily list", "/feed")


def period_feed_links(settings: Settings, kind: str, key: str, label: str) -> list[FeedLink]:
    """The feeds of a day, week or month page."""
    span = {"date": "this day", "week": "this week", "month": "this month"}.get(kind, label)
    return _links(_period_title(settings, label), span, f"/papers/{kind}/{key}")


def category_feed_links(settings: Settings, category: str) -> list[FeedLink]:
    """The feeds of an arXiv category."""
    return _links(_category_title(settings, category), f"category {category}", f"/categories/{category}")


def search_feed_links(settings: Settings, q: str) -> list[FeedLink]:
    """The feeds of a search page: the query's, and the category's when the query is only `cat:X`;
    none for a query with nothing to match."""
    query = parse_query(q)
    if not _matchable(query):
        return []
    links = _links(_search_title(query.raw), "this search", "/search", {"q": query.raw})
    only_category = not (query.arxiv_id or query.terms or query.excluded_categories or query.after)
    if only_category and not query.before and len(query.categories) == 1:
        links += category_feed_links(settings, query.categories[0])
    return links


def submissions_feed_links(username: str, name: str) -> list[FeedLink]:
    """The feeds of a member's submissions (the member page announces them)."""
    return _links(_submissions_title(name), "submissions", f"/users/{username}/submissions")


def comments_feed_links(arxiv_id: str, paper_title: str) -> list[FeedLink]:
    """The feeds of a paper's comments (the paper page announces them)."""
    return _links(_comments_title(paper_title), "comments", f"/papers/{arxiv_id}/comments")
