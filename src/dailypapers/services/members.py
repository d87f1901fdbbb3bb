"""Member pages: what a member did in public (submissions, comments, and upvotes when the member
makes them public), and for moderators the member's ban; avatars drawn here from the username."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from dailypapers.core.avatars import avatar_svg
from dailypapers.core.markdown import comment_excerpt
from dailypapers.core.models import as_utc
from dailypapers.core.settings import Settings
from dailypapers.services.accounts import FOREVER, USERNAME
from dailypapers.services.errors import NotFound
from dailypapers.services.runtime import Database
from dailypapers.services.schemas import Member
from dailypapers.store import accounts as accounts_q
from dailypapers.store import members as store

LIST_LIMIT = 50  # entries of each list on the page
AVATAR_SIZE = 64


class MemberSubmission(BaseModel):
    """A paper the member submitted to a day's list."""

    day: date
    arxiv_id: str
    title: str
    url: str


class MemberComment(BaseModel):
    """A comment of the member, as plain text cut short; `hidden` only ever true for moderators."""

    id: int
    arxiv_id: str
    paper_title: str
    excerpt: str
    created_at: datetime
    hidden: bool
    url: str


class MemberUpvote(BaseModel):
    """A paper the member upvoted."""

    arxiv_id: str
    title: str
    created_at: datetime
    url: str


class MemberModeration(BaseModel):
    """What moderators see of a member: the ban, and whether this moderator may ban them."""

    banned: bool
    banned_until: datetime | None
    banned_for_good: bool
    ban_reason: str | None
    can_ban: bool


class MemberPage(BaseModel):
    """The public page of a member; `upvotes` is None when the member keeps them private."""

    username: str
    name: str
    role: str
    created_at: datetime
    avatar_url: str
    url: str
    submissions: list[MemberSubmission]
    comments: list[MemberComment]
    public_votes: bool
    upvotes: list[MemberUpvote] | None
    moderation: MemberModeration | None = None  # only for moderators


def valid_username(username: str) -> bool:
    """Whether `username` could name a member (the sign-up rule): avatars are drawn for any such name."""
    return bool(USERNAME.match(username))


def avatar(username: str) -> str:
    """The SVG avatar of a username (NotFound for a name no member could have)."""
    if not valid_username(username):
        raise NotFound("There is no avatar at this address.")
    return avatar_svg(username, AVATAR_SIZE)


def _may_ban(viewer: Member, target: Member) -> bool:
    return (
        viewer.id != target.id
        and target.role != "admin"
        and (target.role == "member" or viewer.role == "admin")
    )


def member_page(
    db: Database, settings: Settings, username: str, viewer: Member | None, now: datetime
) -> MemberPage:
    """The page of the member called `username` (any case), as `viewer` may see it."""
    moderator = viewer is not None and viewer.is_moderator and viewer.can_act(now)
    with db.read() as conn:
        row = accounts_q.member_by_username(conn, username) if valid_username(username) else None
        if row is None:
            raise NotFound(f"There is no member called {username!r}.")
        member = Member.from_row(row)
        submissions = store.submissions_of(conn, member.id, LIST_LIMIT)
        comments = store.comments_of(conn, member.id, moderator, LIST_LIMIT)
        upvotes = store.upvotes_of(conn, member.id, LIST_LIMIT) if member.public_votes else None
    moderation = None
    if moderator:
        assert viewer is not None
        moderation = MemberModeration(
            banned=member.banned_at(now),
            banned_until=member.banned_until if member.banned_at(now) else None,
            banned_for_good=member.banned_at(now)
            and member.banned_until is not None
            and member.banned_until >= FOREVER,
            ban_reason=member.ban_reason if member.banned_at(now) else None,
            can_ban=_may_ban(viewer, member),
        )
    return MemberPage(
        username=member.username,
        name=member.name,
        role=member.role,
        created_at=member.created_at,
        avatar_url=f"/users/{member.username}/avatar.svg",
        url=f"/users/{member.username}",
        submissions=[
            MemberSubmission(day=s.feed_date, arxiv_id=s.arxiv_id, title=s.title, url=f"/papers/{s.arxiv_id}")
            for s in submissions
        ],
        comments=[
            MemberComment(
                id=c.id,
                arxiv_id=c.arxiv_id,
                paper_title=c.title,
                excerpt=comment_excerpt(c.body),
                created_at=as_utc(c.created_at),
                hidden=c.hidden_at is not None,
                url=f"/papers/{c.arxiv_id}#c{c.id}",
            )
            for c in comments
        ],
        public_votes=member.public_votes,
        upvotes=None
        if upvotes is None
        else [
            MemberUpvote(
                arxiv_id=v.arxiv_id,
                title=v.title,
                created_at=as_utc(v.created_at),
                url=f"/papers/{v.arxiv_id}",
            )
            for v in upvotes
        ],
        moderation=moderation,
    )
