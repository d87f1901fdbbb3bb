"""Detect and parse the file formats papers arrive in: arXiv listing JSONL, Kaggle snapshot, Hub daily_papers."""

from __future__ import annotations

import ast
import dataclasses
import gc
import gzip
import io
import pickle
import queue
import re
import signal
import subprocess
import sys
import threading
import traceback
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

import orjson

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id
from dailypapers.core.models import PaperRecord
from dailypapers.core.text import clean_abstract, clean_title, extract_links, is_withdrawal, split_authors

LISTING = "arxiv-listing"
KAGGLE = "kaggle-oai"
HF_DAILY = "hf-daily"

# Python-repr items can be arbitrarily nested; refuse absurd ones before ast parses them.
_MAX_REPR_CHARS = 2_000_000
_BUFFER = 1 << 20
# Bounds of what the store can hold (column sizes, 32-bit integers); larger values are malformed.
MAX_VERSION = 9999
MAX_UPVOTES = 2**31 - 1
MAX_CATEGORY = 32
MAX_DOI = 255
_CATEGORY_RE = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z\-]+)?", re.ASCII)
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


class _GzipRaw(io.RawIOBase):
    """GzipFile as a raw stream that fills a buffer with what is ready (readinto1).

    A BufferedReader over GzipFile.read() would throw away a whole buffer of good data when the
    stream turns out to be truncated; this way every complete line before the cut is kept. A
    corrupt deflate stream (zlib.error) is reported as gzip.BadGzipFile, an OSError.
    """

    def __init__(self, raw: IO[bytes]):
        self._gz = gzip.GzipFile(fileobj=raw)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        try:
            return self._gz.readinto1(buffer)
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"corrupt gzip data: {exc}") from None

    def close(self) -> None:
        self._gz.close()
        super().close()


def open_binary(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a file, transparently gunzipping; returns (stream to read, raw file for progress)."""
    raw = open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 - closed by the caller
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_GzipRaw(raw), buffer_size=_BUFFER), raw
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


def _upvotes(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError("upvotes must be an integer")
    if value > MAX_UPVOTES:
        raise RecordError(f"upvotes {value} out of range 0..{MAX_UPVOTES}")
    return max(value, 0)  # never negative in practice; a count below zero means none


def _categories(value: Any) -> list[str]:
    # Scrapes sometimes put MSC/ACM class lists ("94A29, 94A08") among the arXiv categories:
    # those are dropped, the paper is kept.
    return [c for c in _str_list(value, "categories") if len(c) <= MAX_CATEGORY and _CATEGORY_RE.fullmatch(c)]


def _doi(value: Any) -> str | None:
    # arXiv keeps several DOIs in one field ("10.1103/A 10.1103/B"): the first is the paper's.
    doi = _text(value, "doi")
    doi = doi.split(maxsplit=1)[0] if doi and doi.strip() else None
    if doi and len(doi) > MAX_DOI:
        raise RecordError(f"doi is longer than {MAX_DOI} characters")
    return doi


def _str_list(value: Any, name: str) -> list[str]:
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
    arxiv_id, version = _arxiv_id(obj.get("id"))
    title = clean_title(_text(obj.get("title"), "title", required=True) or "")
    if not title:
        raise RecordError("empty title")
    abstract = clean_abstract(_text(obj.get("summary"), "summary") or "")
    comment = _text(obj.get("comment"), "comment")
    days = obj.get("listing_dates")
    if days is None:
        if obj.get("listing_date"):
            days = [obj["listing_date"]]
        else:
            days = [file_day.isoformat()] if file_day else []
    if not isinstance(days, list):
        raise RecordError("listing_dates must be a list")
    feed_days = sorted({_day(d, "listing date") for d in days})
    code, project = extract_links(abstract, comment)
    upvotes = obj.get("upvotes")
    if upvotes is not None:
        upvotes = _upvotes(upvotes)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version or _version_from_url(obj.get("abs"), obj.get("pdf")),
        title=title,
        abstract=abstract,
        authors=_str_list(obj.get("authors"), "authors"),
        categories=_categories(obj.get("categories")),
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
            if not all(isinstance(p, str) for p in parts):
                raise RecordError("authors_parsed entries must be lists of strings")
            last, first, suffix = (list(parts) + ["", ""])[:3]
            names.append(_latex_name(" ".join(p for p in (first, last, suffix) if p).strip()))
        return [n for n in names if n]
    # Affiliations in parentheses are dropped, a serial "and" is a separator (core.text.split_authors).
    return [n for n in map(_latex_name, split_authors(_text(obj.get("authors"), "authors") or "")) if n]


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
        number = str(v["version"])[1:]
        if not (number.isascii() and number.isdigit() and 1 <= int(number) <= MAX_VERSION):
            raise RecordError(f"bad version {str(v['version'])[:20]!r}")
        numbers.append(int(number))
        created.append(_rfc2822(v.get("created")))
    code, project = extract_links(abstract, comment)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=max(numbers) if numbers else version,
        title=title,
        abstract=abstract,
        authors=_kaggle_authors(obj),
        categories=_categories(obj.get("categories")),
        comment=" ".join(comment.split()) if comment else None,
        journal_ref=_text(obj.get("journal-ref"), "journal-ref"),
        doi=_doi(obj.get("doi")),
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


def file_name_day(path: Path) -> date | None:
    """The YYYY-MM-DD day in a file's name (daily dumps are named by day), if a real one is there."""
    m = _FILENAME_DATE_RE.search(path.name)
    if not m:
        return None
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        return None


def hub_items(doc: Any, path: Path) -> tuple[list[Any], date | None, str | None]:
    """Unwrap a Hub document into (items, file day, note); raises UnreadableFile if not Hub-shaped."""
    file_day = file_name_day(path)
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
    raise UnreadableFile(
        f"JSON {type(doc).__name__} of an unknown format (expected arXiv listing or Kaggle JSON lines, "
        "or a Hub daily_papers response)"
    )


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


PARSERS = {LISTING: parse_listing, KAGGLE: parse_kaggle, HF_DAILY: parse_hub_item}


@dataclass(slots=True)
class ParsedFile:
    """What reading one file yields: its format, an optional note, and the records/rejections."""

    format: str
    note: str | None
    records: Iterator[PaperRecord | Rejected]
    # True for JSON lines (parsed line by line, so parse_in_worker can take over the parsing).
    lines: bool = False


def _sniff(stream: IO[bytes]) -> str:
    """Peek at the start of a stream: 'jsonl' when the first line is a whole JSON object."""
    head = stream.peek(_BUFFER)  # type: ignore[attr-defined]
    first = head.lstrip().split(b"\n", 1)[0].strip()
    if first.startswith(b"{") and first.endswith(b"}"):
        try:
            obj = orjson.loads(first)
            if isinstance(obj, dict) and detect_jsonl_format(obj) is not None:
                return "jsonl"
        except orjson.JSONDecodeError:
            pass
    return "json"


def read_file(path: Path, stream: IO[bytes]) -> ParsedFile:
    """Detect the format of an open (already un-gzipped) stream and parse it lazily."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, _BUFFER)  # type: ignore[arg-type]
    kind = _sniff(buffered)
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

    parse = PARSERS[fmt]
    if fmt == HF_DAILY or fmt == LISTING:
        day = file_name_day(path)
        parse = partial(parse, file_day=day)

    def records() -> Iterator[PaperRecord | Rejected]:
        for line_no, line in enumerate(stream, start=1):
            if line.isspace() or not line:  # (line.strip() would copy every line to find out)
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
                yield parse(obj)
            except RecordError as exc:
                yield Rejected(str(path), line_no, str(exc))

    return ParsedFile(fmt, None, records(), lines=True)


# --- parsing in a child process -------------------------------------------------------------
#
# Parsing a big file costs about as much CPU as writing its papers. ParseWorker runs read_file in
# a second Python process and streams the items back through a pipe, so that parsing what comes
# next overlaps the importer's database writes. The items, their order and the exceptions (raised
# at the same point of the stream) are those of read_file in this process.

_WORKER_CHUNK = 250  # items per message
_WORKER_AHEAD = 32  # messages buffered ahead of the consumer, about 8,000 items
_PIPE_BYTES = 1 << 20  # Linux's default limit for unprivileged processes (fs.pipe-max-size)
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(PaperRecord))
# A record travels as the tuple of its fields: pickling a slots dataclass is several times slower.
_record_values = attrgetter(*_RECORD_FIELDS)


class WorkerStopped(RuntimeError):
    """The parsing process ended without a result (killed, out of memory)."""


class ParseWorker:
    """The items of read_file(path), parsed in a child process; `position` is for progress.

    Use it as a context manager (or call close()): closing stops the child.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.position = 0
        # The child gets this process's sys.path, so it imports this very code (a fresh interpreter
        # rather than a fork: safe in a threaded process, and it does not rerun anyone's __main__).
        start = f"import sys; sys.path[:] = {sys.path!r}; from {__name__} import _worker_main; _worker_main()"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", start, str(self.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # Ctrl-C reaches only this process, which then stops the child in close().
            start_new_session=True,
        )
        _widen_pipe(self._proc.stdout)
        self._messages: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=_WORKER_AHEAD)
        self._closing = threading.Event()
        # A thread drains the pipe, so the child keeps parsing while the consumer writes.
        self._reader = threading.Thread(target=self._read_messages, name="parse-worker-reader", daemon=True)
        self._reader.start()

    @staticmethod
    def available() -> bool:
        """Whether a child Python can be started here (embedded interpreters may have none)."""
        return bool(sys.executable)

    def _read_messages(self) -> None:
        assert self._proc.stdout is not None
        try:
            while True:
                message = pickle.load(self._proc.stdout)
                self._put(message)
                if message[0] != "items":
                    return
        except Exception:  # noqa: BLE001 - end of pipe or garbage: the child is gone
            self._put(("stopped",))

    def _put(self, message: tuple[Any, ...]) -> None:
        while not self._closing.is_set():
            try:
                self._messages.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[PaperRecord | Rejected]:
        while True:
            if self._closing.is_set():
                raise WorkerStopped(f"the parsing process for {self.path} was stopped")
            message = self._messages.get()
            if message[0] == "items":
                _, items, self.position = message
                for item in items:
                    yield PaperRecord(*item) if type(item) is tuple else item
            elif message[0] == "end":
                return
            elif message[0] == "error":
                raise message[1]
            else:
                self._proc.wait()
                raise WorkerStopped(
                    f"the parsing process for {self.path} stopped (exit status {self._proc.returncode})"
                )

    def close(self) -> None:
        """Stop the child (if still running) and the reader thread; a waiting consumer stops too."""
        self._closing.set()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._reader.join()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        # A consumer blocked on an empty queue wakes up; any other sees _closing before its next get.
        try:
            self._messages.put_nowait(("stopped",))
        except queue.Full:
            pass

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Let the pipe hold a whole message (Linux; elsewhere nothing changes).

    With the default 64 KiB the child waits for the reader thread several times per message,
    and the reader needs the GIL, which the writing thread holds between its database calls.
    """
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[union-attr]
    except (ImportError, AttributeError, OSError):
        pass


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError saying what it was."""
    exc.add_note("(raised in the parsing process)\n" + "".join(traceback.format_exception(exc)))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)))
    return exc


def _worker_main() -> None:
    """The child side of ParseWorker: parse the file named in argv[1], pickle the items to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # As in the importer: the collector would rescan the records in flight every few records,
    # and parsing makes next to no reference cycles (see importer._fewer_cycle_collections).
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    path = Path(sys.argv[1])
    out = sys.stdout.buffer
    items: list[Any] = []
    position = 0

    def send(*message: Any) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)

    try:
        try:
            stream, raw = open_binary(path)
            with raw:
                for item in read_file(path, stream).records:
                    items.append(_record_values(item) if type(item) is PaperRecord else item)
                    if len(items) >= _WORKER_CHUNK:
                        position = raw.tell()
                        send("items", items, position)
                        items = []
                position = raw.tell()
        except Exception as exc:  # noqa: BLE001
            # What was parsed before the error comes first, as it would in the parent process.
            send("items", items, position)
            send("error", _portable(exc))
        else:
            send("items", items, position)
            send("end")
        out.flush()
    except BrokenPipeError:
        pass  # the parent stopped listening: it closed us or is gone
