"""arXiv's announcement feeds (rss.arxiv.org): today's new papers, cross-lists and replacements.

One request per run fetches `{base}/{cat1}+{cat2}…`, RSS 2.0 (`/rss/`) or Atom (`/atom/`) — both
as arXiv's feed service writes them: each item carries `arxiv:announce_type` (new, cross, replace,
replace-cross, absonly), a description `arXiv:ID vN Announce Type: T \\nAbstract: …`, a guid
`oai:arXiv.org:IDvN`, its categories and a `dc:creator` author list. The feed is dated by the
announcement (midnight US Eastern of the listing day). Days without an announcement (weekends,
holidays) give an empty feed: a run that finds nothing new, not an error.

New papers and cross-lists are candidates for that day's feed (featuring.py decides); replacements
only update the paper (a higher version overwrites it). The ETag / Last-Modified of the last
response are kept in the checkpoint, so an unchanged feed costs a 304 and nothing else.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from dailypapers.core.arxiv_calendar import ARXIV_TZ, listing_time
from dailypapers.core.models import PaperRecord
from dailypapers.core.text import split_authors
from dailypapers.ingest.records import make_record, read_arxiv_id, read_categories, read_doi
from dailypapers.ingest.sources.base import (
    ANNOUNCEMENT,
    FeedError,
    Page,
    Request,
    Source,
    parse_xml,
    plausible,
    text_of,
)

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
}
KIND = "arxiv-rss"
FEATURED_TYPES = frozenset({"new", "cross"})
_DESCRIPTION_RE = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*(?P<abstract>.*))?$",
    re.DOTALL,
)


def _feed_time(value: str | None) -> datetime | None:
    """An RSS (RFC 2822) or Atom (ISO 8601) date, in UTC; None when absent or unreadable."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not plausible(dt):
        return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_rss_feed(body: bytes) -> Page:
    """The items of an arXiv RSS 2.0 or Atom announcement feed, and its listing day (`info["day"]`,
    None for a feed without a date)."""
    root = parse_xml(body, "arXiv RSS")
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FeedError("RSS feed without <channel>", retryable=True)
        stamp = _feed_time(text_of(channel, "pubDate", NS) or text_of(channel, "lastBuildDate", NS))
        items = channel.findall("item")
        fmt = "rss"
    elif root.tag == f"{{{NS['atom']}}}feed":
        stamp = _feed_time(text_of(root, "atom:updated", NS))
        items = root.findall("atom:entry", NS)
        fmt = "atom"
    else:
        raise FeedError(f"not an RSS or Atom feed (root element {root.tag[:80]!r})", retryable=True)
    day = stamp.astimezone(ARXIV_TZ).date() if stamp else None
    return Page(entries=items, info={"day": day.isoformat() if day else None, "format": fmt})


def parse_rss_item(item: Any, fmt: str, day: date | None) -> tuple[PaperRecord, str]:
    """One feed item as (record, announce type); the record is a feed candidate for `day` when the
    item announces a new paper or a cross-list."""
    if fmt == "rss":
        title = text_of(item, "title", NS)
        description = text_of(item, "description", NS) or ""
        guid = text_of(item, "guid", NS) or text_of(item, "link", NS) or ""
        categories = [c.text.strip() for c in item.findall("category") if c.text and c.text.strip()]
    else:
        title = text_of(item, "atom:title", NS)
        description = text_of(item, "atom:summary", NS) or ""
        guid = text_of(item, "atom:id", NS) or ""
        categories = [c.get("term", "").strip() for c in item.findall("atom:category", NS)]
    match = _DESCRIPTION_RE.match(description)
    announce = (
        text_of(item, "arxiv:announce_type", NS) or (match.group("type") if match else "") or "new"
    ).lower()
    raw_id = match.group("id") if match else guid.removeprefix("oai:arXiv.org:")
    arxiv_id, version = read_arxiv_id(raw_id)
    creator = text_of(item, "dc:creator", NS) or ""
    doi = read_doi(text_of(item, "arxiv:DOI", NS))
    entries = [(day, listing_time(day))] if day and announce in FEATURED_TYPES else []
    record = make_record(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=match.group("abstract") if match else description,
        authors=split_authors(creator),
        categories=list(dict.fromkeys(read_categories(categories))),
        journal_ref=text_of(item, "arxiv:journal_reference", NS),
        doi=doi,
        feed_entries=entries,
        source=KIND,
    )
    return record, announce


class ArxivRSSSource(Source):
    """Today's announcement feed of some categories, fetched conditionally."""

    kind = KIND
    features = ANNOUNCEMENT

    def __init__(self, base_url: str, categories: list[str]):
        if not categories:
            raise ValueError("arxiv-rss needs at least one category")
        self.base_url = base_url.rstrip("/")
        self.categories = sorted(categories)

    @property
    def name(self) -> str:
        return f"{KIND}:{','.join(self.categories)}"

    def begin(self, checkpoint: dict[str, Any] | None, since: date | None, today: date) -> dict[str, Any]:
        cp = dict(checkpoint or {})
        cp.pop("fetched", None)
        return cp

    def next_request(self, state: dict[str, Any]) -> Request | None:
        if state.get("fetched"):
            return None
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        url = f"{self.base_url}/{'+'.join(self.categories)}"
        return Request(url, {}, headers, label="+".join(self.categories))

    def parse(self, body: bytes, request: Request) -> Page:
        return parse_rss_feed(body)

    def normalize(self, entry: Any, page: Page) -> PaperRecord:
        day = date.fromisoformat(page.info["day"]) if page.info.get("day") else None
        return parse_rss_item(entry, page.info["format"], day)[0]

    def advance(
        self, state: dict[str, Any], request: Request, page: Page, headers: dict[str, str]
    ) -> dict[str, Any]:
        new = {**state, "fetched": True}
        if page.not_modified:
            return new
        new["etag"] = headers.get("etag")
        new["last_modified"] = headers.get("last-modified")
        if page.info.get("day"):
            new["last_day"] = page.info["day"]
        return new

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in state.items() if k != "fetched" and v is not None}
