"""Upvotes: one per member and paper, given or taken back explicitly (a form sent twice does the same
thing twice, never a toggle back). A paper's upvotes are the Hub's imported count plus the votes
cast here; every vote recomputes the paper's trending score."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.settings import Settings
from dailypapers.services.errors import BadRequest, Forbidden, NotFound
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.store import papers as papers_q
from dailypapers.store import votes as votes_q


class VoteState(BaseModel):
    """A paper's upvotes after a vote, and whether the member's vote is on it."""

    arxiv_id: str
    voted: bool
    upvotes: int  # upvotes_imported + upvotes_local
    upvotes_local: int  # votes of members of this site
    upvotes_imported: int  # upvotes imported from the Hugging Face Hub


def paper_id(text: str) -> str:
    """The versionless id of an arXiv id or URL; BadRequest in words when it is not one."""
    try:
        return parse_arxiv_id(text).id
    except InvalidArxivId as exc:
        raise BadRequest(str(exc)) from None


def vote(
    db: Database, settings: Settings, member: Member, arxiv_id: str, up: bool, now: datetime
) -> VoteState:
    """Give (`up`) or take back the member's upvote of a paper; Forbidden unless the member may act,
    NotFound for a paper not in this feed."""
    if not member.can_act(now):
        raise Forbidden("Only confirmed members who are not banned may vote.")
    paper = paper_id(arxiv_id)
    with db.write() as conn:
        if papers_q.get_paper_row(conn, paper) is None:
            raise NotFound(f"paper {paper} is not in this feed")
        voted, local, imported = votes_q.set_vote(conn, member.id, paper, up, now)
    return VoteState(
        arxiv_id=paper, voted=voted, upvotes=local + imported, upvotes_local=local, upvotes_imported=imported
    )


def voted_ids(db: Database, member_id: int | None, ids: Iterable[str]) -> set[str]:
    """Which of these papers the member has upvoted (none for nobody signed in)."""
    wanted = list(ids)
    if member_id is None or not wanted:
        return set()
    with db.read() as conn:
        return votes_q.voted_ids(conn, member_id, wanted)
