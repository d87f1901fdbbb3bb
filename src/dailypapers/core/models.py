"""PaperRecord, what every source produces, and the policy for merging it into a stored paper."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, overload

import orjson

from dailypapers.core.ranking import trending_score


@dataclass(slots=True)
class PaperRecord:
    """One paper as read from one source, already normalised (clean text, id without version)."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    version: int | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    code_urls: list[str] = field(default_factory=list)
    project_url: str | None = None
    withdrawn: bool = False
    # Upvotes counted elsewhere (the Hub) and imported with the record; None when unknown.
    upvotes: int | None = None
    # Days this source featured the paper, with the moment it was featured.
    feed_entries: list[tuple[date, datetime]] = field(default_factory=list)
    source: str = "import"


# Columns of `papers` that merge_records decides; the store adds bookkeeping columns.
CONTENT_FIELDS = (
    "version",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "comment",
    "journal_ref",
    "doi",
    "published_at",
    "updated_at",
    "code_urls",
    "project_url",
    "withdrawn",
    "imported_upvotes",
    "vote_count",
    "first_featured_at",
    "trending_score",
)

_FILL_FIELDS = (
    "title",
    "abstract",
    "comment",
    "journal_ref",
    "doi",
    "published_at",
    "updated_at",
    "project_url",
)


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
@overload
def as_utc(dt: datetime | None) -> datetime | None: ...


def as_utc(dt: datetime | None) -> datetime | None:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def is_newer(
    version: int | None,
    than: int | None,
    revised: datetime | None = None,
    than_revised: datetime | None = None,
) -> bool:
    """True when a record (version, last revision time) is a newer arXiv version than a stored one.

    Two known version numbers decide alone. When either is unknown (OAI-PMH's arXiv format and
    the Hub carry none) but both revision times are known, a later revision *day* is newer (OAI
    dates are days, the API's are instants: the same revision must not look newer). Otherwise a
    known version is newer than an unknown one.
    """
    if version is not None and than is not None:
        return version > than
    if revised is not None and than_revised is not None:
        return as_utc(revised).date() > as_utc(than_revised).date()
    return version is not None and than is None


def _revised(updated: datetime | None, published: datetime | None) -> datetime | None:
    return updated or published


def combine_records(first: PaperRecord, second: PaperRecord) -> PaperRecord:
    """Two records of one paper read in the same batch, as one record (the same policy as
    merge_records: the newer version is the base, the other only fills its gaps)."""
    newer = is_newer(
        second.version,
        first.version,
        _revised(second.updated_at, second.published_at),
        _revised(first.updated_at, first.published_at),
    )
    base, extra = (second, first) if newer else (first, second)
    for name in _FILL_FIELDS:
        if not getattr(base, name) and getattr(extra, name):
            setattr(base, name, getattr(extra, name))
    if not base.authors:
        base.authors = extra.authors
    base.categories = _union(base.categories, extra.categories)
    base.code_urls = _union(base.code_urls, extra.code_urls)
    if extra.upvotes is not None:
        base.upvotes = max(base.upvotes or 0, extra.upvotes)
    seen = {d for d, _ in base.feed_entries}
    # Feed entries keep the source of the base record: a mixed batch keeps one source.
    base.feed_entries += [e for e in extra.feed_entries if e[0] not in seen]
    return base


def merge_records(stored: dict[str, Any] | None, rec: PaperRecord, now: datetime) -> dict[str, Any]:
    """Merge a record into the stored paper row (None for a new paper); returns the new content.

    Policy: a strictly newer arXiv version overwrites every field it has; an equal or unknown
    version only fills fields that are empty. Categories and code links are unioned (a cross-list
    adds categories; the newer record's primary comes first). Imported upvotes take the maximum,
    so re-importing an older capture never lowers them. The result does not depend on `now`
    unless the paper has no date at all (then `now` is the first-seen time, stored once).
    """
    first_feature = min((at for _, at in rec.feed_entries), default=None)
    if stored is None:
        row: dict[str, Any] = {
            "version": rec.version,
            "title": rec.title,
            "abstract": rec.abstract,
            "authors": list(rec.authors),
            "categories": list(dict.fromkeys(rec.categories)),
            "comment": rec.comment,
            "journal_ref": rec.journal_ref,
            "doi": rec.doi,
            "published_at": as_utc(rec.published_at),
            "updated_at": as_utc(rec.updated_at),
            "code_urls": list(dict.fromkeys(rec.code_urls)),
            "project_url": rec.project_url,
            "withdrawn": rec.withdrawn,
            "imported_upvotes": max(rec.upvotes or 0, 0),
            "vote_count": 0,
            "first_featured_at": as_utc(first_feature),
            "created_at": now,
        }
    else:
        row = {k: stored[k] for k in CONTENT_FIELDS if k in stored}
        row["created_at"] = stored["created_at"]
        for key in ("published_at", "updated_at", "first_featured_at", "created_at"):
            row[key] = as_utc(row.get(key))
        if is_newer(
            rec.version,
            row["version"],
            _revised(rec.updated_at, rec.published_at),
            _revised(row.get("updated_at"), row.get("published_at")),
        ):
            row["version"] = rec.version
            for key in _FILL_FIELDS:
                value = getattr(rec, key)
                if value:
                    row[key] = as_utc(value) if isinstance(value, datetime) else value
            if rec.authors:
                row["authors"] = list(rec.authors)
            row["categories"] = _union(rec.categories, row["categories"] or [])
            # A newer version decides the withdrawal state (a replacement can un-withdraw).
            row["withdrawn"] = rec.withdrawn
        else:
            for key in _FILL_FIELDS:
                value = getattr(rec, key)
                if value and not row.get(key):
                    row[key] = as_utc(value) if isinstance(value, datetime) else value
            if rec.authors and not row["authors"]:
                row["authors"] = list(rec.authors)
            row["categories"] = _union(row["categories"] or [], rec.categories)
            row["withdrawn"] = bool(row["withdrawn"] or rec.withdrawn)
        row["code_urls"] = _union(row["code_urls"] or [], rec.code_urls)
        row["imported_upvotes"] = max(row["imported_upvotes"] or 0, rec.upvotes or 0)
        if first_feature is not None:
            first_feature = as_utc(first_feature)
            current = row.get("first_featured_at")
            row["first_featured_at"] = first_feature if current is None else min(current, first_feature)
    row["primary_category"] = row["categories"][0] if row["categories"] else None
    reference = row["first_featured_at"] or row["published_at"] or row["created_at"]
    row["trending_score"] = trending_score(row["imported_upvotes"] + row["vote_count"], reference)
    return row


# The schema fixes the types of CONTENT_FIELDS: one float and three timestamps need care below.
_SCORE_SLOT = CONTENT_FIELDS.index("trending_score")
_TIME_SLOTS = tuple(CONTENT_FIELDS.index(k) for k in ("published_at", "updated_at", "first_featured_at"))


def content_hash(row: dict[str, Any]) -> str:
    """A stable hash of a paper row's content, to skip writes that would change nothing."""
    values = [row.get(key) for key in CONTENT_FIELDS]
    # The score is rounded so float noise in a recomputation does not count as a change.
    score = values[_SCORE_SLOT]
    if isinstance(score, float):
        values[_SCORE_SLOT] = round(score, 9)
    # orjson writes a UTC datetime as isoformat() does, and a naive one as UTC (OPT_NAIVE_UTC);
    # only another offset must be converted first (merge_records already yields UTC).
    for slot in _TIME_SLOTS:
        value = values[slot]
        if value is not None and value.tzinfo is not None and value.tzinfo is not UTC:
            values[slot] = as_utc(value)
    return hashlib.blake2b(orjson.dumps(values, option=orjson.OPT_NAIVE_UTC), digest_size=16).hexdigest()
