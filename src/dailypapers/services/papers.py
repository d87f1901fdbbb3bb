"""One paper: what the paper page, its JSON twin and `dailypapers similar` show of it."""

from __future__ import annotations

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.settings import Settings
from dailypapers.services.errors import BadRequest, NotFound
from dailypapers.services.schemas import PaperPublic, PeriodLink
from dailypapers.store import feed as feed_q
from dailypapers.store import papers as papers_q
from dailypapers.store.db import Database


def paper_detail(db: Database, settings: Settings, arxiv_id: str) -> PaperPublic:
    """One paper with its feed days; BadRequest for a malformed id, NotFound for an unknown one or
    for a version newer than the stored one (a paper stored without a number is known as v1)."""
    try:
        parsed = parse_arxiv_id(arxiv_id)
    except InvalidArxivId as exc:
        raise BadRequest(str(exc)) from None
    with db.read() as conn:
        row = papers_q.get_paper_row(conn, parsed.id)
        if row is None:
            raise NotFound(f"paper {parsed.id} is not in this feed")
        stored = row["version"]
        if parsed.version is not None and parsed.version > (stored or 1):
            held = (
                f"its newest version here is v{stored}" if stored else "it is held without a version number"
            )
            link = PeriodLink(key=parsed.id, label=f"arXiv:{parsed.id}", url=f"/papers/{parsed.id}")
            raise NotFound(
                f"version {parsed.version} of paper {parsed.id} is not in this feed: {held}", {"paper": link}
            )
        days = papers_q.feed_days_of(conn, parsed.id)
        submitted_by = feed_q.submitter_of(conn, parsed.id)
    return PaperPublic.from_row(row, days, submitted_by)
