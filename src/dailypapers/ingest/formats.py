"""Parse one record of each file format: arXiv listing JSONL, Kaggle OAI snapshot, Hub daily_papers.

ingest.files opens a file and detects its format; the parsers here read one JSON object (or a Hub
item) each and leave the shared clean-up to records.make_record.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.models import PaperRecord
from dailypapers.core.text import decode_tex_name, split_authors
from dailypapers.ingest.records import (
    MAX_UPVOTES,
    MAX_VERSION,
    RecordError,
    make_record,
    read_arxiv_id,
    read_categories,
    read_doi,
    read_str_list,
    read_text,
)

LISTING = "arxiv-listing"
KAGGLE = "kaggle-oai"
HF_DAILY = "hf-daily"

# Python-repr items can be arbitrarily nested; refuse absurd ones before ast parses them.
_MAX_REPR_CHARS = 2_000_000


# --- field helpers --------------------------------------------------------------------------


def _upvotes(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError("upvotes must be an integer")
    if value > MAX_UPVOTES:
        raise RecordError(f"upvotes {value} out of range 0..{MAX_UPVOTES}")
    return max(value, 0)  # never negative in practice; a count below zero means none


def _iso_datetime(value: Any, name: str) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise RecordError(f"{name} {value[:40]!r} is not an ISO date") from None


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a date string")
    try:
        return _iso_day(value[:10])
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not a YYYY-MM-DD date") from None


@lru_cache(maxsize=1024)
def _iso_day(text: str) -> date:
    # Cached: a listing file repeats the same few hundred days, and records sharing one date
    # object travel (pickle) and bind (SQLite) once per batch instead of once per record.
    return date.fromisoformat(text)


@lru_cache(maxsize=1024)
def _midnight(day: date) -> datetime:
    # Cached like _iso_day (datetimes are immutable, so records can share them).
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _version_from_url(*urls: Any) -> int | None:
    for url in urls:
        # Only URLs ending in vN can carry a version; skip parsing the common unversioned ones
        # (the last "v" after the last "/": a "v" in the last path segment).
        if isinstance(url, str) and url[-1:].isdigit() and url.rfind("v") > url.rfind("/"):
            try:
                version = parse_arxiv_id(url).version
            except InvalidArxivId:
                continue
            if version:
                return version
    return None


# --- arXiv listing JSONL (daily-arXiv scrapes) ----------------------------------------------


def parse_listing(obj: dict[str, Any], file_day: date | None = None) -> PaperRecord:
    """One line of an arXiv "new" listing scrape: id, title, authors, categories, summary, dates.

    The raw one-day files (YYYY-MM-DD.jsonl) carry no date field: their file's day is the listing day.
    """
    arxiv_id, version = read_arxiv_id(obj.get("id"))
    title = read_text(obj.get("title"), "title", required=True)
    abstract = read_text(obj.get("summary"), "summary")
    comment = read_text(obj.get("comment"), "comment")
    days = obj.get("listing_dates")
    if days is None:
        if obj.get("listing_date"):
            days = [obj["listing_date"]]
        else:
            days = [file_day.isoformat()] if file_day else []
    if not isinstance(days, list):
        raise RecordError("listing_dates must be a list")
    feed_days = sorted({_day(d, "listing date") for d in days})
    upvotes = obj.get("upvotes")
    if upvotes is not None:
        upvotes = _upvotes(upvotes)
    return make_record(
        arxiv_id=arxiv_id,
        version=version or _version_from_url(obj.get("abs"), obj.get("pdf")),
        title=title,
        abstract=abstract,
        authors=read_str_list(obj.get("authors"), "authors"),
        categories=read_categories(obj.get("categories")),
        comment=comment,
        upvotes=upvotes,
        feed_entries=[(d, _midnight(d)) for d in feed_days],
        source=LISTING,
    )


# --- Kaggle arxiv-metadata-oai-snapshot ------------------------------------------------------


def _kaggle_authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if not isinstance(parts, list) or not parts:
                raise RecordError("authors_parsed entries must be lists")
            if not all(isinstance(p, str) for p in parts):
                raise RecordError("authors_parsed entries must be lists of strings")
            last, first, suffix = (list(parts) + ["", ""])[:3]
            names.append(decode_tex_name(" ".join(p for p in (first, last, suffix) if p).strip()))
        return [n for n in names if n]
    # Affiliations in parentheses are dropped, a serial "and" is a separator (core.text.split_authors).
    authors = split_authors(read_text(obj.get("authors"), "authors") or "")
    return [n for n in map(decode_tex_name, authors) if n]


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"version date {value[:40]!r} is not an RFC 2822 date") from None


def parse_kaggle(obj: dict[str, Any]) -> PaperRecord:
    """One line of Kaggle's arxiv-metadata-oai-snapshot.json."""
    arxiv_id, version = read_arxiv_id(obj.get("id"))
    title = read_text(obj.get("title"), "title", required=True)
    abstract = read_text(obj.get("abstract"), "abstract")
    comment = read_text(obj.get("comments"), "comments")
    versions = obj.get("versions") or []
    if not isinstance(versions, list):
        raise RecordError("versions must be a list")
    numbers, created = [], []
    for v in versions:
        if not isinstance(v, dict) or not str(v.get("version", "")).startswith("v"):
            raise RecordError("versions entries must look like {version: 'v1', created: ...}")
        number = str(v["version"])[1:]
        if not (number.isascii() and number.isdigit() and 1 <= int(number) <= MAX_VERSION):
            raise RecordError(f"bad version {str(v['version'])[:20]!r}")
        numbers.append(int(number))
        created.append(_rfc2822(v.get("created")))
    return make_record(
        arxiv_id=arxiv_id,
        version=max(numbers) if numbers else version,
        title=title,
        abstract=abstract,
        authors=_kaggle_authors(obj),
        categories=read_categories(obj.get("categories")),
        comment=comment,
        journal_ref=read_text(obj.get("journal-ref"), "journal-ref"),
        doi=read_doi(obj.get("doi")),
        published_at=created[0] if created else None,
        updated_at=created[-1] if len(created) > 1 else None,
        source=KAGGLE,
    )


# --- Hugging Face Hub daily_papers API --------------------------------------------------------


def _hub_item(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        # Some bots saved str(item) instead of JSON: a Python literal, parsed without eval.
        if len(item) > _MAX_REPR_CHARS:
            raise RecordError("python-repr item too large")
        try:
            with warnings.catch_warnings():
                # Invalid escapes in saved reprs ("\ ") are tolerated by Python; don't warn on each.
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                item = ast.literal_eval(item)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise RecordError(f"item is a string but not a Python literal: {type(exc).__name__}") from None
    if not isinstance(item, dict):
        raise RecordError(f"item is {type(item).__name__}, expected an object")
    return item


def _web_url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def parse_hub_item(item: Any, file_day: date | None = None) -> PaperRecord:
    """One item of a Hub /api/daily_papers response (JSON object or Python-repr string)."""
    item = _hub_item(item)
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise RecordError("paper is not an object")
    arxiv_id, version = read_arxiv_id(paper.get("id"))
    title = read_text(paper.get("title") or item.get("title"), "title", required=True)
    abstract = read_text(paper.get("summary") or item.get("summary"), "summary")
    authors_raw = paper.get("authors") or []
    if not isinstance(authors_raw, list):
        raise RecordError("authors must be a list")
    authors = []
    for a in authors_raw:
        name = a.get("name") if isinstance(a, dict) else a
        if isinstance(name, str) and name.strip():
            authors.append(" ".join(name.split()))
    upvotes = _upvotes(paper.get("upvotes", 0))
    submitted = _iso_datetime(paper.get("submittedOnDailyAt"), "submittedOnDailyAt")
    if submitted is not None:
        feed_day, featured_at = submitted.date(), submitted
    elif file_day is not None:
        feed_day = file_day
        listed = _iso_datetime(item.get("publishedAt"), "publishedAt")
        featured_at = listed if listed and listed.date() == file_day else _midnight(file_day)
    else:
        listed = _iso_datetime(item.get("publishedAt"), "publishedAt")
        if listed is None:
            raise RecordError("no submission day (submittedOnDailyAt or publishedAt)")
        feed_day, featured_at = listed.date(), listed
    return make_record(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        published_at=_iso_datetime(paper.get("publishedAt"), "paper.publishedAt"),
        code_url=_web_url(paper.get("githubRepo")),
        project_url=_web_url(paper.get("projectPage")),
        # The Hub's copy is not arXiv's record: only arXiv's own metadata marks a paper withdrawn.
        withdrawn=False,
        upvotes=upvotes,
        feed_entries=[(feed_day, featured_at)],
        source=HF_DAILY,
    )


PARSERS: dict[str, Callable[..., PaperRecord]] = {
    LISTING: parse_listing,
    KAGGLE: parse_kaggle,
    HF_DAILY: parse_hub_item,
}
