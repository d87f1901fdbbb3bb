"""Open an import file (gunzip by magic bytes, keep what precedes a cut), detect its format, read it."""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.formats import HF_DAILY, KAGGLE, LISTING, PARSERS, parse_hub_item
from dailypapers.ingest.records import RecordError, Rejected

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_BUFFER = 1 << 20
_FILENAME_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


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

    def readinto(self, buffer: WriteableBuffer) -> int:
        try:
            return self._gz.readinto1(buffer)
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"corrupt gzip data: {exc}") from None

    def close(self) -> None:
        self._gz.close()
        super().close()


def open_binary(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Open a file, transparently gunzipping; returns (stream to read, raw file for progress)."""
    # What open(path, "rb", buffering=_BUFFER) builds, spelled out so that its type has peek().
    # Closed by the caller.
    raw = io.BufferedReader(io.FileIO(path), buffer_size=_BUFFER)
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_GzipRaw(raw), buffer_size=_BUFFER), raw
    return raw, raw


# --- what a file holds ----------------------------------------------------------------------


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
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, _BUFFER)  # type: ignore[type-var]
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
