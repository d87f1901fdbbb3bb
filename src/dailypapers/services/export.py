"""Citation exports: a paper, a feed day/week/month, a search and a member's public upvotes as a BibTeX
or RIS file (core.citations writes them). Each export's rows are read in one transaction (a search
ranks in its own first)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.citations import Citation, ascii_fold, bibtex, ris
from dailypapers.core.models import as_utc
from dailypapers.core.periods import Period
from dailypapers.core.settings import Settings
from dailypapers.services import search as search_service
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.feed import feed_period
from dailypapers.services.members import valid_username
from dailypapers.services.runtime import Database
from dailypapers.store import accounts as accounts_q
from dailypapers.store import feed as feed_q
from dailypapers.store import members as members_q
from dailypapers.store import papers as papers_q
from dailypapers.store.feed import SortOrder

ExportFormat = Literal["bib", "ris"]
FORMATS: tuple[ExportFormat, ...] = ("bib", "ris")
MEDIA_TYPES: dict[ExportFormat, str] = {
    "bib": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
}
FORMAT_NAMES: dict[ExportFormat, str] = {"bib": "BibTeX", "ris": "RIS"}
# A list export holds at most this many papers: a busy month of the feed has more, and a file of 2,000
# references (about 4 MB of BibTeX with abstracts) is already more than a reference manager imports
# comfortably. A period gives its first PERIOD_LIMIT papers in the chosen sort order.
PERIOD_LIMIT = 2000
UPVOTES_LIMIT = 2000
# A search exports its best SEARCH_LIMIT results (searches rank deeper lists less well).
SEARCH_LIMIT = 200


class CitationFile(BaseModel):
    """An export as served: the text, the file name a download gets, its media type, and the time of
    its content when one time decides it (a single paper; a list changes when papers join or leave it,
    which no stored time records, so lists have none and rely on the ETag)."""

    content: str
    filename: str
    media_type: str
    last_modified: datetime | None = None


def _citation(row: dict[str, Any]) -> Citation:
    published = as_utc(row["published_at"])
    return Citation(
        arxiv_id=row["arxiv_id"],
        title=row["title"],
        authors=list(row["authors"] or []),
        abstract=row["abstract"] or "",
        version=row["version"],
        published=published.date() if published else None,
        primary_category=row["primary_category"],
        categories=list(row["categories"] or []),
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        comment=row["comment"],
    )


def _file(
    rows: Sequence[dict[str, Any]], fmt: ExportFormat, name: str, last_modified: datetime | None = None
) -> CitationFile:
    citations = [_citation(row) for row in rows]
    content = bibtex(citations) if fmt == "bib" else ris(citations)
    return CitationFile(
        content=content,
        filename=f"{name}.{fmt}",
        media_type=MEDIA_TYPES[fmt],
        last_modified=last_modified,
    )


def paper_citation(db: Database, settings: Settings, arxiv_id: str, fmt: ExportFormat) -> CitationFile:
    """One paper's citation; the id in any spelling the paper page takes (a version up to the stored
    one, `arXiv:`, old style). NotFound for anything else: not an id, not here, a newer version."""
    try:
        parsed = parse_arxiv_id(arxiv_id)
    except InvalidArxivId:
        raise NotFound(f"there is no paper {arxiv_id[:80]!r} here: that is not an arXiv id") from None
    with db.read() as conn:
        row = papers_q.get_paper_row(conn, parsed.id)
    if row is None:
        raise NotFound(f"paper {parsed.id} is not in this feed")
    if parsed.version is not None and parsed.version > (row["version"] or 1):
        raise NotFound(f"version {parsed.version} of paper {parsed.id} is not in this feed")
    # An old-style id's slash cannot be in a file name.
    return _file([row], fmt, parsed.id.replace("/", "_"), as_utc(row["modified_at"]))


def period_of(kind: str, key: str) -> Period:
    """The feed period an export address names (`date`/`week`/`month` and its key); NotFound for a key
    that names none (2026-02-30, 2026-W60): the address has nothing to export."""
    try:
        return feed_period(kind, key)
    except BadRequest as exc:
        raise NotFound(str(exc)) from None


def period_citations(
    db: Database, settings: Settings, period: Period, sort: SortOrder, fmt: ExportFormat
) -> CitationFile:
    """The papers of a feed day, week or month in `sort` order (the first PERIOD_LIMIT); NotFound for
    a period without papers."""
    with db.read() as conn:
        rows = feed_q.papers_in_period(conn, period.start, period.end, sort, PERIOD_LIMIT, 0)
    if not rows:
        raise NotFound(f"no papers were featured in {period.label}")
    return _file(rows, fmt, f"papers-{period.key}")


def _slug(text: str, limit: int = 60) -> str:
    """The query as a file-name part: ASCII words joined by hyphens."""
    return "-".join(re.findall(r"[a-z0-9]+", ascii_fold(text).lower()))[:limit].strip("-")


def search_citations(
    db: Database, settings: Settings, q: str, fmt: ExportFormat, mode: str | None = None
) -> CitationFile:
    """The best SEARCH_LIMIT results of a search, ranked as the search page ranks them (BadRequest for
    an empty query); an empty file when nothing matches."""
    if not q.strip():
        raise BadRequest("q: give a search query, e.g. ?q=contrastive+learning")
    # The search reads in transactions of its own (search.search_papers); the rows are read in one more.
    result = search_service.search(db, settings, q, 1, mode, page_size=SEARCH_LIMIT)
    ids = [card.arxiv_id for card in result.papers]
    with db.read() as conn:
        rows = {row["arxiv_id"]: row for row in feed_q.paper_cards(conn, ids)} if ids else {}
    slug = _slug(q)
    return _file([rows[i] for i in ids if i in rows], fmt, f"search-{slug}" if slug else "search")


def upvote_citations(db: Database, settings: Settings, username: str, fmt: ExportFormat) -> CitationFile:
    """The papers a member upvoted, newest vote first (at most UPVOTES_LIMIT), when the member makes
    their upvotes public; NotFound for an unknown member or private upvotes."""
    with db.read() as conn:
        member = accounts_q.member_by_username(conn, username) if valid_username(username) else None
        if member is None:
            raise NotFound(f"There is no member called {username!r}.")
        if not member.public_votes:
            raise NotFound("this member's upvotes are not public")
        ids = [vote.arxiv_id for vote in members_q.upvotes_of(conn, member.id, UPVOTES_LIMIT)]
        rows = {row["arxiv_id"]: row for row in feed_q.paper_cards(conn, ids)} if ids else {}
    return _file([rows[i] for i in ids if i in rows], fmt, f"{member.username}-upvotes")
