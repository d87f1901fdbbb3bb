"""arXiv's native `.abs` metadata files (as in arXiv's own mirrors and the arxiv-browse service).

A file is a header of `Key: value` lines (continuation lines are indented) between `\\\\`
separators, then the abstract, closed by a last `\\\\`:

    arXiv:0704.0001
    From: …
    Date: Mon, 2 Apr 2007 19:18:42 GMT   (443kb)
    Date (revised v2): Tue, 24 Jul 2007 20:10:27 GMT   (370kb)
    Title: …
    Authors: C. Bal\\'azs, E. L. Berger, …
    Categories: hep-ph
    Comments / Journal-ref / DOI / Report-no / License …

The version is the number of Date lines; the first is the publication, the last the update.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dailypapers.core.models import PaperRecord
from dailypapers.core.text import decode_tex_name, split_authors
from dailypapers.ingest.records import (
    MAX_VERSION,
    RecordError,
    make_record,
    read_arxiv_id,
    read_categories,
    read_doi,
)
from dailypapers.ingest.sources.base import plausible

KIND = "arxiv-abs"
MAX_ABS_BYTES = 1 << 20
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z\- ]*(?:\(revised v(\d+)\))?):\s?(.*)$")
# `[ \t]*`, not `\s*`: \s would also match line breaks and backtrack over every blank line.
_ID_LINE_RE = re.compile(r"^[ \t]*(arXiv:|Paper:)", re.MULTILINE)
# arXiv's last "version" of a withdrawn paper is an empty one: "(0kb,I)" on its Date line.
_WITHDRAWN_SIZE = "(0kb,I)"
_DATE_RE = re.compile(r"^(.*?\d{2}:\d{2}:\d{2}\s+\w+)")


def _abs_date(value: str) -> datetime:
    match = _DATE_RE.match(value.strip())
    try:
        dt = parsedate_to_datetime(match.group(1) if match else value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        raise RecordError(f"bad date {value.strip()[:60]!r}") from None
    if not plausible(dt):
        raise RecordError(f"date {value.strip()[:60]!r} out of range")
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_abs(data: bytes | str) -> PaperRecord:
    """One .abs file as a PaperRecord; RecordError when it is not a readable .abs file."""
    if len(data) > MAX_ABS_BYTES:
        raise RecordError(f".abs file larger than {MAX_ABS_BYTES} bytes")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # older .abs files, as arXiv's own reader decodes them
    else:
        text = data
    sections = [s for s in re.split(r"^\\\\\s*$", text.replace("\r\n", "\n"), flags=re.MULTILINE)]
    # [preamble ("----" line), header, abstract, trailer]
    header_at = next((i for i, s in enumerate(sections) if _ID_LINE_RE.search(s)), None)
    if header_at is None:
        raise RecordError("no 'arXiv:' id line: not an .abs file")
    parts: dict[str, list[str]] = {}
    dates: list[tuple[int, datetime]] = []
    withdrawn_version = False
    key = None
    for line in sections[header_at].split("\n"):
        if not line.strip():
            continue
        if line[0] in " \t" and key:
            parts[key].append(line.strip())
            continue
        match = _KEY_RE.match(line)
        if not match:
            key = None
            continue
        key, revised, value = match.group(1).strip(), match.group(2), match.group(3).strip()
        if key == "Date" or key.startswith("Date ("):
            if revised and (len(revised) > 4 or not 1 <= int(revised) <= MAX_VERSION):
                raise RecordError(f"version v{revised[:10]} out of range 1..{MAX_VERSION}")
            version = int(revised) if revised else 1
            dates.append((version, _abs_date(value)))
            withdrawn_version = _WITHDRAWN_SIZE in value
            key = None
            continue
        parts[key] = [value]
    fields = {k: " ".join(v) for k, v in parts.items()}
    raw_id = fields.get("arXiv") or fields.get("Paper") or ""
    arxiv_id, _ = read_arxiv_id(raw_id)
    doi = read_doi(fields.get("DOI") or None)
    categories = read_categories(fields.get("Categories", ""))
    dates.sort()
    return make_record(
        arxiv_id=arxiv_id,
        version=dates[-1][0] if dates else None,
        title=fields.get("Title"),
        abstract=sections[header_at + 1] if len(sections) > header_at + 1 else None,
        authors=[n for n in map(decode_tex_name, split_authors(fields.get("Authors", ""))) if n],
        categories=list(dict.fromkeys(categories)),
        comment=fields.get("Comments"),
        journal_ref=fields.get("Journal-ref") or None,
        doi=doi,
        published_at=dates[0][1] if dates else None,
        updated_at=dates[-1][1] if len(dates) > 1 else None,
        # An empty last version is a withdrawal; otherwise the comment and abstract may say so.
        withdrawn=True if withdrawn_version and dates[-1][0] > 1 else None,
        source=KIND,
    )
