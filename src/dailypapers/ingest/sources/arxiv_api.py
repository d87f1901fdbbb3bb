"""arXiv's search API (`/api/query`, Atom 1.0): new papers of some categories by submission window,
or a list of ids.

Window mode asks for `(cat:A OR cat:B) AND submittedDate:[from TO until]`, oldest first, a page
of `page_size` at a time (`start`, `max_results`). The API has no "announced on" query and a paper
is only visible after its announcement, a day or more after submission, so each run re-reads the
last OVERLAP_DAYS before the previous run's end: those papers are unchanged and cost no writes.

The API reports its own errors as a feed with one entry titled "Error" (HTTP 400 for a bad query);
parse() turns that into a FeedError carrying arXiv's message. It sometimes answers a page with no
entries although `totalResults` says there are more: that page is retried like a network error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dailypapers.core.arxiv_calendar import announcement_day, listing_time
from dailypapers.core.models import PaperRecord
from dailypapers.ingest.records import MAX_CATEGORY, RecordError, make_record, read_arxiv_id, read_doi
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
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "arxiv": "http://arxiv.org/schemas/atom",
}
OVERLAP_DAYS = 2
IDS_PER_REQUEST = 100
KIND = "arxiv-api"


def _int(element: Any, path: str) -> int | None:
    value = text_of(element, path, NS)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise FeedError(f"arXiv API feed: {path} is not a number: {value[:40]!r}") from None


def parse_api_feed(body: bytes) -> Page:
    """Entries (XML elements) and the opensearch paging numbers of one API response.

    Raises FeedError with arXiv's own message for an error feed, and for anything that is not an
    arXiv API Atom feed.
    """
    root = parse_xml(body, "arXiv API")
    if root.tag != f"{{{NS['atom']}}}feed":
        raise FeedError(f"not an Atom feed (root element {root.tag[:80]!r})", retryable=True)
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        entry_id = text_of(entry, "atom:id", NS) or ""
        if "/api/errors" in entry_id:
            message = (
                text_of(entry, "atom:summary", NS) or text_of(entry, "atom:title", NS) or "unknown error"
            )
            raise FeedError(f"arXiv API error: {message}")
    return Page(
        entries=entries,
        info={
            "total": _int(root, "opensearch:totalResults"),
            "start": _int(root, "opensearch:startIndex"),
            "per_page": _int(root, "opensearch:itemsPerPage"),
        },
    )


def _api_datetime(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not an ISO date") from None
    if not plausible(dt):
        raise RecordError(f"{name} {value[:40]!r} is out of range")
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_api_entry(entry: Any, feature: bool = True) -> PaperRecord:
    """One Atom <entry> of the API as a PaperRecord; `feature`: give it its announcement day."""
    raw_id = text_of(entry, "atom:id", NS)
    if not raw_id:
        raise RecordError("entry without <id>")
    arxiv_id, version = read_arxiv_id(raw_id)
    authors = []
    for author in entry.findall("atom:author", NS):
        name = text_of(author, "atom:name", NS)
        if name:
            authors.append(" ".join(name.split()))
    categories: list[str] = []
    primary = entry.find("arxiv:primary_category", NS)
    terms = [primary.get("term")] if primary is not None else []
    terms += [c.get("term") for c in entry.findall("atom:category", NS)]
    for term in terms:
        if term and len(term) <= MAX_CATEGORY and " " not in term and term not in categories:
            categories.append(term)
    doi = read_doi(text_of(entry, "arxiv:doi", NS))
    published = _api_datetime(text_of(entry, "atom:published", NS), "published")
    updated = _api_datetime(text_of(entry, "atom:updated", NS), "updated")
    entries = []
    if feature and published is not None:
        day = announcement_day(published)
        entries = [(day, listing_time(day))]
    return make_record(
        arxiv_id=arxiv_id,
        version=version,
        title=text_of(entry, "atom:title", NS),
        abstract=text_of(entry, "atom:summary", NS),
        authors=authors,
        categories=categories,
        comment=text_of(entry, "arxiv:comment", NS),
        journal_ref=text_of(entry, "arxiv:journal_ref", NS),
        doi=doi,
        published_at=published,
        updated_at=updated if updated != published else None,
        feed_entries=entries,
        source=KIND,
    )


class ArxivAPISource(Source):
    """New papers of `categories` by submission date, or the papers of `ids`."""

    kind = KIND
    features = ANNOUNCEMENT

    def __init__(
        self,
        base_url: str,
        categories: list[str],
        *,
        ids: list[str] | None = None,
        page_size: int = 200,
        start_days: int = 7,
    ):
        if not categories and not ids:
            raise ValueError("arxiv-api needs categories or ids")
        self.base_url = base_url
        self.categories = sorted(categories)
        self.ids = ids
        self.page_size = page_size
        self.start_days = start_days

    @property
    def name(self) -> str:
        return f"{KIND}:ids" if self.ids else f"{KIND}:{','.join(self.categories)}"

    def begin(self, checkpoint: dict[str, Any] | None, since: date | None, today: date) -> dict[str, Any]:
        if self.ids:
            return {"mode": "ids", "ids": list(self.ids), "position": 0}
        cp = checkpoint or {}
        if "start" in cp and (since is None or cp.get("from") == since.isoformat()):
            return cp  # an interrupted run (or the same --since again): carry on where it stopped
        if since is not None:
            start = since
        elif "done_until" in cp:
            start = date.fromisoformat(cp["done_until"]) - timedelta(days=OVERLAP_DAYS)
        else:
            start = today - timedelta(days=self.start_days)
        return {
            "mode": "window",
            "from": start.isoformat(),
            "until": today.isoformat(),
            "start": 0,
            "total": None,
        }

    def next_request(self, state: dict[str, Any]) -> Request | None:
        if state.get("mode") == "ids":
            ids = state["ids"][state["position"] : state["position"] + IDS_PER_REQUEST]
            if not ids:
                return None
            params = {"id_list": ",".join(ids), "start": "0", "max_results": str(len(ids))}
            return Request(
                self.base_url, params, label=f"ids {state['position'] + 1}–{state['position'] + len(ids)}"
            )
        if "start" not in state:
            return None
        total = state.get("total")
        if total is not None and state["start"] >= total:
            return None
        first = date.fromisoformat(state["from"]).strftime("%Y%m%d")
        last = date.fromisoformat(state["until"]).strftime("%Y%m%d")
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        params = {
            "search_query": f"({cats}) AND submittedDate:[{first}0000 TO {last}2359]",
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
            "start": str(state["start"]),
            "max_results": str(self.page_size),
        }
        label = f"{state['from']}…{state['until']}, from #{state['start']}" + (
            f" of {total}" if total else ""
        )
        return Request(self.base_url, params, label=label)

    def parse(self, body: bytes, request: Request) -> Page:
        page = parse_api_feed(body)
        start = int(request.params.get("start", "0"))
        total = page.info["total"]
        if not page.entries and total is not None and start < total and "id_list" not in request.params:
            raise FeedError(f"arXiv API answered an empty page at {start} of {total}", retryable=True)
        return page

    def normalize(self, entry: Any, page: Page) -> PaperRecord:
        return parse_api_entry(entry, feature=self.ids is None)

    def advance(
        self, state: dict[str, Any], request: Request, page: Page, headers: dict[str, str]
    ) -> dict[str, Any]:
        if state.get("mode") == "ids":
            return {**state, "position": state["position"] + IDS_PER_REQUEST}
        total = page.info["total"] if page.info["total"] is not None else 0
        return {**state, "start": state["start"] + len(page.entries), "total": total}

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        if state.get("mode") == "ids":
            return {}
        return {"done_until": state["until"]}
