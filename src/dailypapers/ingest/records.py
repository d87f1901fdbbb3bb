"""From a source's raw values to a PaperRecord: field readers that reject bad values, and make_record.

Every parser (the three file formats, `.abs` files, the arXiv API, OAI-PMH, RSS/Atom) reads its
own fields with the readers below and hands them to make_record, which does the clean-up they
share: clean title (an empty one rejects the record), clean abstract, collapsed comment, code and
project links, withdrawal notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.models import PaperRecord
from dailypapers.core.text import clean_abstract, clean_title, extract_links, is_withdrawal

# Bounds of what the store can hold (column sizes, 32-bit integers); larger values are malformed.
MAX_VERSION = 9999
MAX_UPVOTES = 2**31 - 1
MAX_CATEGORY = 32
MAX_DOI = 255
_CATEGORY_RE = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?", re.ASCII)


class RecordError(ValueError):
    """A record is malformed; the message says what is wrong."""


@dataclass(slots=True)
class Rejected:
    """A record that could not be imported, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


# --- field readers: a clean value, or RecordError ---------------------------------------------


def read_text(value: Any, name: str, required: bool = False) -> str | None:
    """A string field as it is; None when absent or empty (RecordError if `required`)."""
    if value is None or value == "":
        if required:
            raise RecordError(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is {type(value).__name__}, expected a string")
    return value


def read_str_list(value: Any, name: str) -> list[str]:
    """A list of strings, or one string of space-separated items; blank items are dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if not isinstance(value, list):
        raise RecordError(f"{name} must be a list of strings")
    items = []
    for v in value:
        if not isinstance(v, str):
            raise RecordError(f"{name} must be a list of strings")
        if v := v.strip():
            items.append(v)
    return items


def read_arxiv_id(value: Any) -> tuple[str, int | None]:
    """An arXiv id or URL as (id without version, version or None)."""
    if not isinstance(value, str) or not value.strip():
        raise RecordError("missing id")
    try:
        return parse_arxiv_id(value)
    except InvalidArxivId as exc:
        raise RecordError(str(exc)) from None


def read_categories(value: Any) -> list[str]:
    """The arXiv categories of a list or space-separated string, other class codes left out."""
    # Scrapes sometimes put MSC/ACM class lists ("94A29, 94A08") among the arXiv categories:
    # those are dropped, the paper is kept.
    return [
        c for c in read_str_list(value, "categories") if len(c) <= MAX_CATEGORY and _CATEGORY_RE.fullmatch(c)
    ]


def read_doi(value: Any) -> str | None:
    """The paper's DOI: the first of the several that arXiv may keep in one field."""
    doi = read_text(value, "doi")
    doi = doi.split(maxsplit=1)[0] if doi and doi.strip() else None
    if doi and len(doi) > MAX_DOI:
        raise RecordError(f"doi is longer than {MAX_DOI} characters")
    return doi


# --- the shared clean-up ----------------------------------------------------------------------


def make_record(
    *,
    arxiv_id: str,
    version: int | None,
    title: str | None,
    abstract: str | None,
    authors: list[str],
    source: str,
    comment: str | None = None,
    categories: list[str] | None = None,
    journal_ref: str | None = None,
    doi: str | None = None,
    published_at: datetime | None = None,
    updated_at: datetime | None = None,
    upvotes: int | None = None,
    feed_entries: list[tuple[date, datetime]] | None = None,
    code_url: str | None = None,
    project_url: str | None = None,
    withdrawn: bool | None = None,
) -> PaperRecord:
    """A PaperRecord from a parser's fields, with the clean-up every parser shares.

    Title, abstract and comment arrive as the source wrote them. `code_url` and `project_url` are
    links the source names itself (the Hub's repository and project page): they come before the
    ones found in the text. `withdrawn`: what the source itself says; None reads the comment and
    the abstract for a withdrawal notice. RecordError when the title is empty.
    """
    title = clean_title(title or "")
    if not title:
        raise RecordError(f"{arxiv_id}: empty title")
    abstract = clean_abstract(abstract or "")
    comment = " ".join(comment.split()) if comment else None
    code, found_project = extract_links(abstract, comment)
    if code_url is not None:
        code = [code_url, *[c for c in code if c != code_url]]
    # Positional, in PaperRecord's field order: keywords would cost ~0.5 µs a record on the import's
    # hot path (2 % of parsing a listing). test_make_record_fills_every_field checks the order.
    return PaperRecord(
        arxiv_id,
        title,
        abstract,
        authors,
        categories or [],
        version,
        comment,
        journal_ref,
        doi,
        published_at,
        updated_at,
        code,  # code_urls
        found_project if project_url is None else project_url,
        is_withdrawal(comment, abstract) if withdrawn is None else withdrawn,
        upvotes,
        feed_entries or [],
        source,
    )
