"""Detect and parse the file formats papers arrive in: arXiv listing JSONL, Kaggle snapshot, Hub daily_papers."""

from __future__ import annotations

import ast
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

import orjson

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.models import PaperRecord
from dailypapers.core.text import clean_abstract, clean_title, extract_links, is_withdrawal

LISTING = "arxiv-listing"
KAGGLE = "kaggle-oai"
HF_DAILY = "hf-daily"

# Python-repr items can be arbitrarily nested; refuse absurd ones before ast parses them.
_MAX_REPR_CHARS = 2_000_000
_BUFFER = 1 << 20
_FILENAME_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass(slots=True)
class Rejected:
    """A record that could not be imported, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class RecordError(ValueError):
    """A record is malformed; the message says what is wrong."""


class UnreadableFile(ValueError):
    """A whole file is in no format we know."""


# --- opening --------------------------------------------------------------------------------


def open_binary(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a file, transparently gunzipping; returns (stream to read, raw file for progress)."""
    raw = open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 - closed by the caller
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(gzip.GzipFile(fileobj=raw), buffer_size=_BUFFER), raw  # type: ignore[arg-type]
    return raw, raw


# --- field helpers --------------------------------------------------------------------------


def _text(value: Any, name: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RecordError(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is {type(value).__name__}, expected a string")
    return value


def _arxiv_id(value: Any) -> tuple[str, int | None]:
    if not isinstance(value, str) or not value.strip():
        raise RecordError("missing id")
    try:
        return parse_arxiv_id(value)
    except InvalidArxivId as exc:
        raise RecordError(str(exc)) from None


def _str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{name} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _iso_datetime(value: Any, name: str) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not an ISO date") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a date string")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not a YYYY-MM-DD date") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=timezone.utc)


def _version_from_url(*urls: Any) -> int | None:
    for url in urls:
        # Only URLs ending in vN can carry a version; skip parsing the common unversioned ones.
        if isinstance(url, str) and url[-1:].isdigit() and "v" in url.rsplit("/", 1)[-1]:
            try:
                version = parse_arxiv_id(url).version
            except InvalidArxivId:
                continue
            if version:
                return version
    return None


# --- arXiv listing JSONL (daily-arXiv scrapes) ----------------------------------------------


def parse_listing(obj: dict[str, Any]) -> PaperRecord:
    """One line of an arXiv "new" listing scrape: id, title, authors, categories, summary, dates."""
    arxiv_id, version = _arxiv_id(obj.get("id"))
    title = clean_title(_text(obj.get("title"), "title", required=True) or "")
    if not title:
        raise RecordError("empty title")
    abstract = clean_abstract(_text(obj.get("summary"), "summary") or "")
    comment = _text(obj.get("comment"), "comment")
    days = obj.get("listing_dates")
    if days is None:
        days = [obj["listing_date"]] if obj.get("listing_date") else []
    if not isinstance(days, list):
        raise RecordError("listing_dates must be a list")
    feed_days = sorted({_day(d, "listing date") for d in days})
    code, project = extract_links(abstract, comment)
    upvotes = obj.get("upvotes")
    if upvotes is not None and (not isinstance(upvotes, int) or isinstance(upvotes, bool)):
        raise RecordError("upvotes must be an integer")
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version or _version_from_url(obj.get("abs"), obj.get("pdf")),
        title=title,
        abstract=abstract,
        authors=_str_list(obj.get("authors"), "authors"),
        categories=_str_list(obj.get("categories"), "categories"),
        comment=" ".join(comment.split()) if comment else None,
        code_urls=code,
        project_url=project,
        withdrawn=is_withdrawal(comment, abstract),
        upvotes=upvotes,
        feed_entries=[(d, _midnight(d)) for d in feed_days],
        source=LISTING,
    )


# --- Kaggle arxiv-metadata-oai-snapshot ------------------------------------------------------


def _latex_name(name: str) -> str:
    # Kaggle names keep arXiv's TeX accents (Bal\'azs); decode only when there is TeX in them.
    if "\\" not in name and "{" not in name:
        return name
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        return " ".join(LatexNodes2Text().latex_to_text(name).split())
    except Exception:  # noqa: BLE001
        return name


def _kaggle_authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if not isinstance(parts, list) or not parts:
                raise RecordError("authors_parsed entries must be lists")
            last, first, suffix = (list(parts) + ["", ""])[:3]
            names.append(_latex_name(" ".join(p for p in (first, last, suffix) if p).strip()))
        return [n for n in names if n]
    authors = _text(obj.get("authors"), "authors") or ""
    parts = re.split(r",\s*|\s+and\s+", " ".join(authors.split()))
    return [_latex_name(p) for p in parts if p]


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise RecordError(f"version date {value[:40]!r} is not an RFC 2822 date") from None


def parse_kaggle(obj: dict[str, Any]) -> PaperRecord:
    """One line of Kaggle's arxiv-metadata-oai-snapshot.json."""
    arxiv_id, version = _arxiv_id(obj.get("id"))
    title = clean_title(_text(obj.get("title"), "title", required=True) or "")
    if not title:
        raise RecordError("empty title")
    abstract = clean_abstract(_text(obj.get("abstract"), "abstract") or "")
    comment = _text(obj.get("comments"), "comments")
    versions = obj.get("versions") or []
    if not isinstance(versions, list):
        raise RecordError("versions must be a list")
    numbers, created = [], []
    for v in versions:
        if not isinstance(v, dict) or not str(v.get("version", "")).startswith("v"):
            raise RecordError("versions entries must look like {version: 'v1', created: ...}")
        try:
            numbers.append(int(str(v["version"])[1:]))
        except ValueError:
            raise RecordError(f"bad version {v['version']!r}") from None
        created.append(_rfc2822(v.get("created")))
    code, project = extract_links(abstract, comment)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=max(numbers) if numbers else version,
        title=title,
        abstract=abstract,
        authors=_kaggle_authors(obj),
        categories=_str_list(obj.get("categories"), "categories"),
        comment=" ".join(comment.split()) if comment else None,
        journal_ref=_text(obj.get("journal-ref"), "journal-ref"),
        doi=_text(obj.get("doi"), "doi"),
        published_at=created[0] if created else None,
        updated_at=created[-1] if len(created) > 1 else None,
        code_urls=code,
        project_url=project,
        withdrawn=is_withdrawal(comment, abstract),
        source=KAGGLE,
    )


# --- Hugging Face Hub daily_papers API --------------------------------------------------------


def _hub_item(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        # Some bots saved str(item) instead of JSON: a Python literal, parsed without eval.
        if len(item) > _MAX_REPR_CHARS:
            raise RecordError("python-repr item too large")
        try:
            item = ast.literal_eval(item)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise RecordError(f"item is a string but not a Python literal: {type(exc).__name__}") from None
    if not isinstance(item, dict):
        raise RecordError(f"item is {type(item).__name__}, expected an object")
    return item


def parse_hub_item(item: Any, file_day: date | None = None) -> PaperRecord:
    """One item of a Hub /api/daily_papers response (JSON object or Python-repr string)."""
    item = _hub_item(item)
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise RecordError("paper is not an object")
    arxiv_id, version = _arxiv_id(paper.get("id"))
    title = clean_title(_text(paper.get("title") or item.get("title"), "title", required=True) or "")
    if not title:
        raise RecordError("empty title")
    abstract = clean_abstract(_text(paper.get("summary") or item.get("summary"), "summary") or "")
    authors_raw = paper.get("authors") or []
    if not isinstance(authors_raw, list):
        raise RecordError("authors must be a list")
    authors = []
    for a in authors_raw:
        name = a.get("name") if isinstance(a, dict) else a
        if isinstance(name, str) and name.strip():
            authors.append(" ".join(name.split()))
    upvotes = paper.get("upvotes", 0)
    if not isinstance(upvotes, int) or isinstance(upvotes, bool):
        raise RecordError("upvotes must be an integer")
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
    code, project = extract_links(abstract)
    repo = paper.get("githubRepo")
    if isinstance(repo, str) and repo.startswith(("https://", "http://")):
        code = [repo, *[c for c in code if c != repo]]
    page = paper.get("projectPage")
    if isinstance(page, str) and page.startswith(("https://", "http://")):
        project = page
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        published_at=_iso_datetime(paper.get("publishedAt"), "paper.publishedAt"),
        code_urls=code,
        project_url=project,
        upvotes=max(upvotes, 0),
        feed_entries=[(feed_day, featured_at)],
        source=HF_DAILY,
    )


def hub_items(doc: Any, path: Path) -> tuple[list[Any], date | None, str | None]:
    """Unwrap a Hub document into (items, file day, note); raises UnreadableFile if not Hub-shaped."""
    m = _FILENAME_DATE_RE.search(path.name)
    file_day = date.fromisoformat(m.group(1)) if m else None
    if isinstance(doc, list):
        return doc, file_day, None
    if isinstance(doc, dict):
        if isinstance(doc.get("date"), str):
            try:
                file_day = date.fromisoformat(doc["date"][:10])
            except ValueError:
                pass
        if "data" in doc:
            if not isinstance(doc["data"], list):
                raise UnreadableFile("'data' is not a list")
            return doc["data"], file_day, None
        if "status" in doc:
            return [], file_day, f"no papers ({doc.get('status')}: {doc.get('message', '')})".strip()
        if "paper" in doc:
            return [doc], file_day, None
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        # Weekend captures of some bots hold just a number instead of a response.
        return [], file_day, f"placeholder file (contains {doc!r}), no papers"
    raise UnreadableFile(f"JSON document is a {type(doc).__name__}, not a daily_papers response")


# --- detection --------------------------------------------------------------------------------


def detect_jsonl_format(obj: dict[str, Any]) -> str | None:
    """Which JSONL format one parsed line belongs to, or None when unknown."""
    if "paper" in obj:
        return HF_DAILY
    if "versions" in obj or "authors_parsed" in obj or "submitter" in obj or "journal-ref" in obj:
        return KAGGLE
    if "summary" in obj or "listing_dates" in obj or "listing_date" in obj:
        return LISTING
    if "abstract" in obj and "id" in obj:
        return KAGGLE
    return None


PARSERS = {LISTING: parse_listing, KAGGLE: parse_kaggle}


@dataclass(slots=True)
class ParsedFile:
    """What reading one file yields: its format, an optional note, and the records/rejections."""

    format: str
    note: str | None
    records: Iterator[PaperRecord | Rejected]


def _sniff(stream: IO[bytes]) -> tuple[str, bytes]:
    """Peek at the start of a stream: 'jsonl' when the first line is a whole JSON object."""
    head = stream.peek(_BUFFER)  # type: ignore[attr-defined]
    first = head.lstrip().split(b"\n", 1)[0].strip()
    if first.startswith(b"{") and first.endswith(b"}"):
        try:
            if isinstance(orjson.loads(first), dict):
                return "jsonl", head
        except orjson.JSONDecodeError:
            pass
    return "json", head


def read_file(path: Path, stream: IO[bytes]) -> ParsedFile:
    """Detect the format of an open (already un-gzipped) stream and parse it lazily."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, _BUFFER)  # type: ignore[arg-type]
    kind, _ = _sniff(buffered)
    if kind == "jsonl":
        return _read_jsonl(path, buffered)
    data = buffered.read()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # Maybe JSONL whose first line is broken: look for a good line further down.
        lines = data.splitlines()
        if any(_line_object(line) for line in lines[:200]):
            return _read_jsonl(path, io.BufferedReader(io.BytesIO(data)))
        raise UnreadableFile(f"not JSON or JSON lines ({exc})") from None
    items, file_day, note = hub_items(doc, path)

    def records() -> Iterator[PaperRecord | Rejected]:
        for index, item in enumerate(items, start=1):
            try:
                yield parse_hub_item(item, file_day)
            except RecordError as exc:
                yield Rejected(str(path), index, f"item {index}: {exc}")

    return ParsedFile(HF_DAILY, note, records())


def _line_object(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith(b"{"):
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _read_jsonl(path: Path, stream: IO[bytes]) -> ParsedFile:
    head = stream.peek(1 << 20)  # type: ignore[attr-defined]
    fmt = None
    for line in head.splitlines()[:200]:
        obj = _line_object(line)
        if obj is not None and (fmt := detect_jsonl_format(obj)):
            break
    if fmt is None:
        raise UnreadableFile("JSON lines of an unknown format (expected arXiv listing, Kaggle or Hub)")

    def records() -> Iterator[PaperRecord | Rejected]:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Rejected(str(path), line_no, f"malformed JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield Rejected(str(path), line_no, f"line is a JSON {type(obj).__name__}, not an object")
                continue
            try:
                if fmt == HF_DAILY:
                    yield parse_hub_item(obj)
                else:
                    yield PARSERS[fmt](obj)
            except RecordError as exc:
                yield Rejected(str(path), line_no, str(exc))

    return ParsedFile(fmt, None, records())
