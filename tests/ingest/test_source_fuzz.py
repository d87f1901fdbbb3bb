"""Fuzzing the remote sources' parsers: a malformed response may only end in FeedError (the page)
or RecordError (one record), never in another exception and never in a hang.

Inputs are the recorded real responses of tests/data/harvest, mutated: bytes flipped, inserted,
deleted or duplicated, the body cut off anywhere, XML element texts and attributes replaced by
arbitrary Unicode and by edge values (huge numbers, the first and last representable dates, odd
ids), elements dropped, XML fragments inserted, JSON values replaced by values of any type; and
random bytes and text. The normal run tries a few hundred inputs per parser; the `slow` variant
tries 10,000 each:

    DAILYPAPERS_SLOW=1 .venv/bin/pytest tests/ingest/test_source_fuzz.py -m slow

Inputs that found a bug are kept in CRASHES and HANGS: each runs as its own test, expected to fail
(xfail, strict) while its entry names an open bug; once the bug is fixed, set `bug` to None and the
input stays as a regression. A parser's fuzz test runs its CRASHES inputs after the generated ones
and is expected to fail on them (as KnownBug) while a bug is open; meanwhile its generated inputs
still look for new bugs, and any other failure is reported as one.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dailypapers.core.arxiv_ids import parse_arxiv_id
from dailypapers.core.models import PaperRecord
from dailypapers.ingest.abs_files import parse_abs
from dailypapers.ingest.formats import parse_hub_item
from dailypapers.ingest.records import MAX_CATEGORY, MAX_DOI, MAX_UPVOTES, MAX_VERSION, RecordError
from dailypapers.ingest.sources.arxiv_api import parse_api_entry, parse_api_feed
from dailypapers.ingest.sources.arxiv_oai import parse_oai_page, parse_oai_record
from dailypapers.ingest.sources.arxiv_rss import parse_rss_feed, parse_rss_item
from dailypapers.ingest.sources.base import FeedError
from dailypapers.ingest.sources.hub import parse_hub_page

HARVEST = Path(__file__).parents[1] / "data" / "harvest"
NORMAL_EXAMPLES = 500
SLOW_EXAMPLES = 10_000
# A parse takes milliseconds; one that takes this long on a small input is stuck (backtracking,
# a quadratic loop). Generous, so that a slow or busy machine never trips it.
TIME_LIMIT_S = 20.0

# --- real bodies to start from ----------------------------------------------------------------------


def _excerpts(body: bytes, item: bytes, picks: list[list[int]]) -> list[bytes]:
    """Smaller real documents: the document's own head and tail around some of its items
    (a few records parse in microseconds; the whole 1 MB feed would slow every example down)."""
    items = re.findall(rb"<" + item + rb">.*?</" + item + rb">\n", body, re.DOTALL)
    head = body[: body.find(b"<" + item + b">")]
    tail = body[body.rfind(b"</" + item + b">\n") + len(item) + 4 :]
    return [head + b"".join(items[i] for i in pick) + tail for pick in picks]


def _api_bases() -> list[bytes]:
    bodies = []
    for path in sorted((HARVEST / "arxiv-api").glob("*.json")):
        body = json.loads(path.read_text())["body"].encode("latin-1")  # see test_source_parsers.api_body
        if len(body) < 100_000:
            bodies.append(body)
        else:
            bodies += _excerpts(body, b"entry", [[0, 1], [2]])
    return bodies


def _oai_bases() -> list[bytes]:
    pages = [p.read_bytes() for p in sorted((HARVEST / "oai").glob("page-*.xml"))]
    return [
        *_excerpts(pages[0], b"record", [[0, 1], [8], [49]]),
        *_excerpts(pages[2], b"record", [[0, 5]]),
        pages[4],
    ]


def _rss_bases() -> list[bytes]:
    rss = (HARVEST / "rss" / "rss-cs.AI_cs.CL_cs.CV_cs.LG.xml").read_bytes()
    atom = (HARVEST / "rss" / "atom-cs.AI_cs.CL_cs.CV_cs.LG.xml").read_bytes()
    # Items 0-1 are cross-lists, 20 a new paper, 499-508 replacements.
    picks = [[0, 20], [499], [20, 500, 1]]
    return [
        *_excerpts(rss, b"item", picks),
        *_excerpts(atom, b"entry", picks),
        (HARVEST / "rss" / "rss-empty-day.xml").read_bytes(),
    ]


def _hub_bases() -> list[tuple[list[Any], date]]:
    bases = []
    for path in sorted((HARVEST / "hub").glob("*.json")):
        items = json.loads(path.read_text())
        bases.append((items[:2], date.fromisoformat(path.stem)))
    return bases


def _abs_bases() -> list[bytes]:
    return [p.read_bytes() for p in sorted((HARVEST / "abs").glob("*.abs"))]


API_BASES = _api_bases()
OAI_BASES = _oai_bases()
RSS_BASES = _rss_bases()
HUB_BASES = _hub_bases()
ABS_BASES = _abs_bases()
assert len(API_BASES) > 20 and OAI_BASES and RSS_BASES and len(HUB_BASES) == 5 and len(ABS_BASES) == 32


# --- edge values ------------------------------------------------------------------------------------------

NUMBERS = ["0", "-1", "1", "07", " 12 ", "²", "٣", "１２", "1e309", "NaN", "0x10", "9" * 30, "9" * 5000]
DATES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T12:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T00:00:00Z",
    "2026-06-30T25:00:00Z",
    "2026-06-30",
    "2026-06-30T14:00:00",
    "0000-00-00",
    "Tue, 30 Jun 2026 00:00:00 -0400",
    "Tue, 30 Jun 2026 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 1 Jan 0001 00:00:00 +2359",
    "Sat, 04 Jul 2026",
    "Mon, 2 Apr 2007 19:18:42 GMT   (443kb)",
    "yesterday",
]
IDS = [
    "2101.00001",
    "2101.00001v0",
    "2101.00001v99999",
    "astro-ph/0601001",
    "http://arxiv.org/abs/astro-ph/0601001v2",
    "oai:arXiv.org:2606.28778v1",
    "https://arxiv.org/api/errors#incorrect_id_format_for_x",
    "abc",
    ":",
    "١٢٣٤.٥٦٧٨",
    "arXiv:2606.28778v1 Announce Type: new \nAbstract: x",
    "arXiv:2606.28778v1 Announce Type: replace-cross",
]
TEXTS = [
    "",
    " ",
    "withdrawn",
    "This paper has been withdrawn",
    "https://github.com/a/b",
    "Project page: https://a.io/p",
    "see http://x.io/" + ")" * 50,
    "x" * 300,
    "cs.LG cs.AI cs.LG",
    "cs.LG " * 40,
    "C. Bal\\'azs and P\\'eter {\\O}bro",
    "A (B (C)), D, and E",
    "$x^2$ \\(",
    "\\",
    "{",
    "é\u202e",
    "new",
    "cross",
    "replace",
    "NEW",
]
EDGE_TEXTS = st.sampled_from(NUMBERS + DATES + IDS + TEXTS)
# Mostly text that XML can carry (no control characters), so that edits reach the record parsers.
texts = st.one_of(
    EDGE_TEXTS,
    EDGE_TEXTS,
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
    st.text(max_size=60),
)
positions = st.integers(min_value=0, max_value=1 << 30)

# --- byte mutations ---------------------------------------------------------------------------------------


def _flip(data: bytes, pos: int, mask: int) -> bytes:
    if not data:
        return data
    i = pos % len(data)
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


def _truncate(data: bytes, pos: int) -> bytes:
    return data[: pos % (len(data) + 1)]


def _delete(data: bytes, pos: int, length: int) -> bytes:
    i = pos % (len(data) + 1)
    return data[:i] + data[i + length :]


def _insert(data: bytes, pos: int, chunk: bytes) -> bytes:
    i = pos % (len(data) + 1)
    return data[:i] + chunk + data[i:]


def _duplicate(data: bytes, pos: int, length: int) -> bytes:
    i = pos % (len(data) + 1)
    return data[:i] + data[i : i + length] + data[i:]


byte_ops = st.one_of(
    st.tuples(st.just(_flip), positions, st.integers(min_value=1, max_value=255)),
    st.tuples(st.just(_truncate), positions),
    st.tuples(st.just(_delete), positions, st.integers(min_value=1, max_value=300)),
    st.tuples(st.just(_insert), positions, st.binary(min_size=1, max_size=30)),
    st.tuples(st.just(_duplicate), positions, st.integers(min_value=1, max_value=3000)),
).map(tuple)  # (map: one_of would otherwise merge these five into the caller's list, outweighing the rest)

# --- XML mutations ---------------------------------------------------------------------------------------

API_TAGS = [
    "id",
    "title",
    "summary",
    "published",
    "updated",
    "name",
    "opensearch:totalResults",
    "opensearch:startIndex",
    "opensearch:itemsPerPage",
    "arxiv:comment",
    "arxiv:doi",
    "arxiv:journal_ref",
    "author",
    "entry",
]
OAI_TAGS = [
    "identifier",
    "datestamp",
    "id",
    "created",
    "updated",
    "keyname",
    "forenames",
    "suffix",
    "title",
    "categories",
    "comments",
    "doi",
    "journal-ref",
    "abstract",
    "resumptionToken",
    "responseDate",
    "header",
    "metadata",
    "authors",
    "ListRecords",
    "record",
]
RSS_TAGS = [
    "title",
    "description",
    "guid",
    "link",
    "category",
    "pubDate",
    "lastBuildDate",
    "channel",
    "updated",
    "id",
    "summary",
    "arxiv:announce_type",
    "arxiv:DOI",
    "arxiv:journal_reference",
    "dc:creator",
    "item",
    "entry",
]
XML_FRAGMENTS = [
    b"<entry>",
    b"</entry>",
    b"<item>",
    b"<record>",
    b"<!-- x -->",
    b"<![CDATA[<x>&]]>",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"&nbsp;",
    b'<!DOCTYPE x [<!ENTITY a "b">]>',
    b'<!DOCTYPE x SYSTEM "http://x/y.dtd">',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b"<?pi x?>",
    b"<x:y xmlns:x='urn:x'/>",
    b"\x00",
    b"\xff\xfe",
    b"<entry><id>http://arxiv.org/abs/2101.00001v1</id><title>x</title>"
    b"<published>2026-06-30T12:00:00Z</published></entry>",
    b"<entry><id>http://arxiv.org/api/errors#x</id><title>Error</title></entry>",
    b'<error code="badArgument">bad</error>',
    b'<error code="noRecordsMatch"/>',
    b"<error>no code</error>",
    b'<record><header status="deleted"><identifier>oai:arXiv.org:0704.9999</identifier></header></record>',
    b"<record><header/><metadata/></record>",
    b"<record/>",
    b'<category term="cs.LG"/>',
    b"<category/>",
    b"<item><title>t</title><guid>oai:arXiv.org:2101.00001v1</guid></item>",
    b"<item/>",
    b"<entry/>",
    b"<author><name> A.\n  B </name></author>",
    b'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom"/>',
]
_TEXT_RE = re.compile(rb">([^<]*)<")
_ATTR_RE = re.compile(rb'="([^"]*)"')


def _encode(value: str, escaped: bool) -> bytes:
    return (escape(value, {'"': "&quot;"}) if escaped else value).encode("utf-8", "surrogatepass")


def _nth(matches: list[re.Match[bytes]], n: int) -> re.Match[bytes] | None:
    return matches[n % len(matches)] if matches else None


def _set_text(data: bytes, n: int, value: str, escaped: bool) -> bytes:
    m = _nth(list(_TEXT_RE.finditer(data)), n)
    return data if m is None else data[: m.start(1)] + _encode(value, escaped) + data[m.end(1) :]


def _set_attr(data: bytes, n: int, value: str, escaped: bool) -> bytes:
    m = _nth(list(_ATTR_RE.finditer(data)), n)
    return data if m is None else data[: m.start(1)] + _encode(value, escaped) + data[m.end(1) :]


def _element_re(tag: str) -> re.Pattern[bytes]:
    t = re.escape(tag.encode())
    return re.compile(rb"<" + t + rb"(?:\s[^>]*)?(?:/>|>(.*?)</" + t + rb">)", re.DOTALL)


def _set_element(data: bytes, tag: str, n: int, value: str, escaped: bool) -> bytes:
    m = _nth([m for m in _element_re(tag).finditer(data) if m.group(1) is not None], n)
    return data if m is None else data[: m.start(1)] + _encode(value, escaped) + data[m.end(1) :]


def _drop_element(data: bytes, tag: str, n: int) -> bytes:
    m = _nth(list(_element_re(tag).finditer(data)), n)
    return data if m is None else data[: m.start()] + data[m.end() :]


def _duplicate_element(data: bytes, tag: str, n: int) -> bytes:
    m = _nth(list(_element_re(tag).finditer(data)), n)
    return data if m is None else data[: m.end()] + m.group(0) + data[m.end() :]


def _insert_fragment(data: bytes, n: int, fragment: bytes) -> bytes:
    starts = [m.start() for m in re.finditer(rb"<", data)] or [0]
    i = starts[n % len(starts)]
    return data[:i] + fragment + data[i:]


def xml_ops(tag_names: list[str]) -> st.SearchStrategy[tuple[Any, ...]]:
    """Mutations of an XML body; mostly well-formed ones, so that many reach the record parsers."""
    tags = st.sampled_from(tag_names)
    escaped = st.sampled_from([True, True, True, False])
    return st.one_of(
        st.tuples(st.just(_set_element), tags, positions, texts, escaped),
        st.tuples(st.just(_set_element), tags, positions, texts, escaped),
        st.tuples(st.just(_set_element), tags, positions, texts, escaped),
        st.tuples(st.just(_set_text), positions, texts, escaped),
        st.tuples(st.just(_set_attr), positions, texts, escaped),
        st.tuples(st.just(_drop_element), tags, positions),
        st.tuples(st.just(_duplicate_element), tags, positions),
        st.tuples(st.just(_insert_fragment), positions, st.sampled_from(XML_FRAGMENTS)),
        byte_ops,
    )


def _apply(data: Any, ops: list[tuple[Any, ...]]) -> Any:
    for op, *args in ops:
        data = op(data, *args)
    return data


def one_of_the(bases: list[Any]) -> st.SearchStrategy[Any]:
    # By index: a failure report then shows a number instead of a whole response.
    return st.integers(min_value=0, max_value=len(bases) - 1).map(bases.__getitem__)


def mutated(bases: list[Any], ops: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[Any]:
    """A real body with one to four mutations applied in order."""
    return st.builds(_apply, one_of_the(bases), st.lists(ops, min_size=1, max_size=4))


random_bodies = st.binary(max_size=2000) | st.text(max_size=500).map(
    lambda s: s.encode("utf-8", "surrogatepass")
)


def xml_inputs(bases: list[bytes], tag_names: list[str]) -> st.SearchStrategy[bytes]:
    ops = xml_ops(tag_names)
    return st.one_of(mutated(bases, ops), mutated(bases, ops), mutated(bases, ops), random_bodies)


# --- JSON mutations (Hub) --------------------------------------------------------------------------------

ints = st.integers(min_value=-(2**70), max_value=2**70)
json_values = st.recursive(
    st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6,
)
hub_values = st.one_of(
    json_values,
    st.sampled_from([2**31 - 1, 2**31, 2**63, -(2**63), -1, 0, 1.5, True, "", [], {}, "2608.14391v2"]),
    st.sampled_from(DATES + IDS + ["2026-08-17T00:00:00.000Z"]),
)
HUB_PAPER_KEYS = [
    "id",
    "title",
    "summary",
    "authors",
    "upvotes",
    "publishedAt",
    "submittedOnDailyAt",
    "githubRepo",
    "projectPage",
]
HUB_ITEM_KEYS = ["paper", "title", "summary", "publishedAt", "numComments"]


def _paper_set(items: list[Any], n: int, key: str, value: Any) -> list[Any]:
    if (
        items
        and isinstance(items[n % len(items)], dict)
        and isinstance(items[n % len(items)].get("paper"), dict)
    ):
        items[n % len(items)]["paper"][key] = value
    return items


def _paper_del(items: list[Any], n: int, key: str) -> list[Any]:
    if (
        items
        and isinstance(items[n % len(items)], dict)
        and isinstance(items[n % len(items)].get("paper"), dict)
    ):
        items[n % len(items)]["paper"].pop(key, None)
    return items


def _item_set(items: list[Any], n: int, key: str, value: Any) -> list[Any]:
    if items and isinstance(items[n % len(items)], dict):
        items[n % len(items)][key] = value
    return items


def _item_replace(items: list[Any], n: int, value: Any) -> list[Any]:
    if items:
        items[n % len(items)] = value
    return items


def _item_repr(items: list[Any], n: int) -> list[Any]:
    # Some bots saved str(item), a Python literal, instead of the JSON object.
    if items:
        items[n % len(items)] = repr(items[n % len(items)])
    return items


json_ops = st.one_of(
    st.tuples(st.just(_paper_set), positions, st.sampled_from(HUB_PAPER_KEYS), hub_values),
    st.tuples(st.just(_paper_set), positions, st.sampled_from(HUB_PAPER_KEYS), hub_values),
    st.tuples(st.just(_paper_del), positions, st.sampled_from(HUB_PAPER_KEYS)),
    st.tuples(st.just(_item_set), positions, st.sampled_from(HUB_ITEM_KEYS), hub_values),
    st.tuples(st.just(_item_replace), positions, hub_values),
    st.tuples(st.just(_item_repr), positions),
)


def _hub_document(
    base: tuple[list[Any], date],
    ops: list[tuple[Any, ...]],
    wrap: str,
    error: Any,
    raw: list[tuple[Any, ...]],
) -> tuple[bytes, date]:
    items, day = base
    # Deep copies: the bases and the values that strategies share between examples stay as they are.
    items = _apply(copy.deepcopy(items), [(op, *copy.deepcopy(args)) for op, *args in ops])
    doc: Any = {
        "list": items,
        "data": {"data": items, "count": len(items)},
        "error": {"error": error},
        "both": {"data": items, "error": error},
        "value": error,
    }[wrap]
    body = json.dumps(doc, default=str).encode()
    return _apply(body, raw), day


hub_inputs = st.one_of(
    st.builds(
        _hub_document,
        one_of_the(HUB_BASES),
        st.lists(json_ops, max_size=4),
        st.sampled_from(["list", "list", "list", "data", "error", "both", "value"]),
        hub_values,
        st.lists(byte_ops, max_size=1) | st.just([]),
    ),
    st.tuples(random_bodies, st.dates()),
)

# --- .abs mutations ------------------------------------------------------------------------------------------

ABS_KEYS = [
    "arXiv",
    "Paper",
    "From",
    "Date",
    "Date (revised v2)",
    "Title",
    "Authors",
    "Categories",
    "Comments",
    "DOI",
    "Journal-ref",
    "Report-no",
]


def _abs_field(data: bytes, key: str, value: str) -> bytes:
    line = f"{key}: {value}".encode("utf-8", "surrogatepass")
    pattern = re.compile(rb"^" + re.escape(key.encode()) + rb":.*$", re.MULTILINE)
    if pattern.search(data):
        return pattern.sub(lambda _: line, data, count=1)
    at = data.find(b"\nFrom:")
    return data[: at + 1] + line + b"\n" + data[at + 1 :] if at >= 0 else line + b"\n" + data


def _abs_line(data: bytes, n: int, line: str) -> bytes:
    lines = data.split(b"\n")
    lines.insert(n % (len(lines) + 1), line.encode("utf-8", "surrogatepass"))
    return b"\n".join(lines)


def _abs_drop_line(data: bytes, n: int) -> bytes:
    lines = data.split(b"\n")
    del lines[n % len(lines)]
    return b"\n".join(lines)


abs_lines = st.one_of(
    st.builds(
        "Date (revised v{}): {}".format,
        st.sampled_from(NUMBERS) | st.text(max_size=4),
        st.sampled_from(DATES) | texts,
    ),
    st.builds("  {}".format, texts),  # a continuation line
    st.sampled_from(["\\\\", "\\\\  ", "", "Paper: hep-th/9901001", "arXiv:2101.00001v3", ":", "Date:"]),
    texts,
)
abs_ops = st.one_of(
    st.tuples(st.just(_abs_field), st.sampled_from(ABS_KEYS), texts),
    st.tuples(st.just(_abs_field), st.sampled_from(ABS_KEYS), texts),
    st.tuples(st.just(_abs_line), positions, abs_lines),
    st.tuples(st.just(_abs_drop_line), positions),
    byte_ops,
)
abs_inputs = st.one_of(
    mutated(ABS_BASES, abs_ops),
    mutated(ABS_BASES, abs_ops),
    mutated(ABS_BASES, abs_ops).map(lambda b: b.decode("utf-8", "replace")),  # text in
    random_bodies,
)

# --- the contract ------------------------------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException, so that no `except Exception` in a parser swallows it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Turn a parse that does not come back within `seconds` into a test failure."""
    if not hasattr(signal, "setitimer") or 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= seconds:
        yield  # no alarms here, or an enclosing limit that ends sooner
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout:
        raise AssertionError(f"no answer after {seconds:g} s: the parser hangs on this input") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _page(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except FeedError as exc:
        assert str(exc)  # the harvester logs it
        return None


def _record(parse: Callable[[], PaperRecord | None]) -> None:
    try:
        rec = parse()
    except RecordError as exc:
        assert str(exc)  # the rejection's reason
        return
    if rec is not None:
        check_record(rec)


def check_record(rec: PaperRecord) -> None:
    """What the store relies on: a real id, clean text, bounded values, aware datetimes."""
    assert isinstance(rec, PaperRecord)
    assert parse_arxiv_id(rec.arxiv_id) == (rec.arxiv_id, None)
    assert isinstance(rec.title, str) and rec.title and rec.title == rec.title.strip()
    assert isinstance(rec.abstract, str)
    assert all(isinstance(a, str) and a for a in rec.authors)
    assert all(isinstance(c, str) and 0 < len(c) <= MAX_CATEGORY for c in rec.categories)
    assert len(rec.categories) == len(set(rec.categories))
    assert rec.version is None or (type(rec.version) is int and 1 <= rec.version <= MAX_VERSION)
    assert rec.upvotes is None or (type(rec.upvotes) is int and 0 <= rec.upvotes <= MAX_UPVOTES)
    assert rec.doi is None or (isinstance(rec.doi, str) and len(rec.doi) <= MAX_DOI)
    for value in (rec.published_at, rec.updated_at):
        assert value is None or (isinstance(value, datetime) and value.tzinfo is not None)
    for day, at in rec.feed_entries:
        assert type(day) is date and isinstance(at, datetime) and at.tzinfo is not None
    assert isinstance(rec.withdrawn, bool)


def check_api(body: bytes) -> None:
    with time_limit(TIME_LIMIT_S):
        page = _page(lambda: parse_api_feed(body))
        if page is None:
            return
        assert all(v is None or type(v) is int for v in page.info.values())
        for entry in page.entries:
            _record(lambda entry=entry: parse_api_entry(entry))


def check_oai(body: bytes) -> None:
    with time_limit(TIME_LIMIT_S):
        page = _page(lambda: parse_oai_page(body))
        if page is None:
            return
        assert page.info["token"] is None or (isinstance(page.info["token"], str) and page.info["token"])
        assert all(page.info[k] is None or type(page.info[k]) is int for k in ("complete_size", "cursor"))
        for record in page.entries:
            _record(lambda record=record: parse_oai_record(record))


def check_rss(body: bytes) -> None:
    with time_limit(TIME_LIMIT_S):
        page = _page(lambda: parse_rss_feed(body))
        if page is None:
            return
        assert page.info["format"] in ("rss", "atom")
        day = date.fromisoformat(page.info["day"]) if page.info["day"] else None
        for item in page.entries:
            _record(lambda item=item: parse_rss_item(item, page.info["format"], day)[0])


def check_hub(args: tuple[bytes, date]) -> None:
    body, day = args
    with time_limit(TIME_LIMIT_S):
        page = _page(lambda: parse_hub_page(body))
        if page is None:
            return
        assert isinstance(page.entries, list)
        for item in page.entries:
            _record(lambda item=item: parse_hub_item(item, day))


def check_abs(data: bytes | str) -> None:
    with time_limit(TIME_LIMIT_S):
        _record(lambda: parse_abs(data))


TARGETS: dict[str, tuple[Callable[[Any], None], st.SearchStrategy[Any]]] = {
    "arxiv_api": (check_api, xml_inputs(API_BASES, API_TAGS)),
    "arxiv_oai": (check_oai, xml_inputs(OAI_BASES, OAI_TAGS)),
    "arxiv_rss": (check_rss, xml_inputs(RSS_BASES, RSS_TAGS)),
    "hub": (check_hub, hub_inputs),
    "abs": (check_abs, abs_inputs),
}

# --- inputs that found bugs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A minimal input that broke a parser; `bug` says how, None once it is fixed."""

    name: str
    target: str
    data: Any
    bug: str | None
    # The exception and the innermost function of dailypapers (or of check_record here) raising
    # it: while the bug is open, the fuzz test lets other inputs that end the same way pass.
    raised_in: tuple[type[BaseException], str] | None = None

    def matches(self, exc: BaseException) -> bool:
        if self.raised_in is None or not isinstance(exc, self.raised_in[0]):
            return False
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [
            f.name for f in frames if f"{os.sep}dailypapers{os.sep}" in f.filename or f.name == "check_record"
        ]
        return bool(ours) and ours[-1] == self.raised_in[1]


class KnownBug(Exception):
    """An input in CRASHES still breaks its parser (the xfail marks expect this exception)."""


def _atom_entry(published: str) -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2101.00001v1</id>'
        f"<title>T</title><published>{published}</published></entry></feed>"
    ).encode()


def _oai_token(attrs: str) -> bytes:
    return (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        f"<resumptionToken {attrs}>t</resumptionToken></ListRecords></OAI-PMH>"
    ).encode()


def _abs(*header: str) -> bytes:
    return ("\n".join(["arXiv:0704.0001", *header, "Title: T", "\\\\", "  Abstract.", "\\\\", ""])).encode()


# Each of these once broke its parser (all fixed; kept as regressions).
CRASHES = [
    Found(
        "api-published-year-1",
        "arxiv_api",
        _atom_entry("0001-01-01T00:00:00+01:00"),
        None,
        (OverflowError, "_api_datetime"),
    ),
    Found(
        "api-published-year-9999",
        "arxiv_api",
        _atom_entry("9999-12-31T23:59:59-12:00"),
        None,
        (OverflowError, "_api_datetime"),
    ),
    Found(
        "api-announced-after-9999",
        "arxiv_api",
        _atom_entry("9999-12-31T12:00:00Z"),
        None,
        (OverflowError, "_next_weekday"),
    ),
    Found(
        "api-announced-before-year-1",
        "arxiv_api",
        _atom_entry("0001-01-01T00:00:00Z"),
        None,
        (OverflowError, "announcement_day"),
    ),
    Found(
        "api-unknown-encoding",
        "arxiv_api",
        b'<?xml version="1.0" encoding="x"?><feed/>',
        None,
        (LookupError, "parse_xml"),
    ),
    Found(
        "oai-unknown-encoding",
        "arxiv_oai",
        b'<?xml version="1.0" encoding="x"?><OAI-PMH/>',
        None,
        (LookupError, "parse_xml"),
    ),
    Found(
        "oai-superscript-digit",
        "arxiv_oai",
        _oai_token('completeListSize="²"'),
        None,
        (ValueError, "parse_oai_page"),
    ),
    Found(
        "oai-5000-digit-cursor",
        "arxiv_oai",
        _oai_token(f'cursor="{"9" * 5000}"'),
        None,
        (ValueError, "parse_oai_page"),
    ),
    Found(
        "rss-unknown-encoding",
        "arxiv_rss",
        b'<?xml version="1.0" encoding="x"?><rss/>',
        None,
        (LookupError, "parse_xml"),
    ),
    Found(
        "rss-pubdate-after-9999",
        "arxiv_rss",
        b"<rss><channel><pubDate>Fri, 31 Dec 9999 23:00:00 -0400</pubDate></channel></rss>",
        None,
        (OverflowError, "_feed_time"),
    ),
    Found(
        "rss-pubdate-year-1",
        "arxiv_rss",
        b"<rss><channel><pubDate>0001-01-01T00:00:00Z</pubDate></channel></rss>",
        None,
        (OverflowError, "parse_rss_feed"),
    ),
    Found(
        "abs-date-after-9999",
        "abs",
        _abs("Date: Fri, 31 Dec 9999 23:59:59 -2359"),
        None,
        (OverflowError, "_abs_date"),
    ),
    Found(
        "abs-5000-digit-version",
        "abs",
        _abs(f"Date (revised v{'9' * 5000}): Mon, 2 Apr 2007 19:18:42 GMT"),
        None,
        (ValueError, "parse_abs"),
    ),
    Found(
        "abs-version-0",
        "abs",
        _abs("Date (revised v0): Mon, 2 Apr 2007 19:18:42 GMT"),
        None,
        (AssertionError, "check_record"),
    ),
]

# Inputs on which a parser takes minutes: quadratic work on inputs well under MAX_ABS_BYTES (1 MiB).
HANG_LIMIT_S = 5.0
HANGS = [
    # parse_abs: a `^\s*` regex backtracked over blank lines (~110 s here).
    Found("abs-blank-lines", "abs", b" \n" * 100_000, None),
    # core.text._trim_url: one ')' stripped per loop, the URL recounted each time (~50 s).
    Found("abs-closing-parentheses", "abs", _abs("Comments: see http://a.b/" + ")" * 400_000), None),
    # core.text.extract_links: each code URL compared with every earlier one (~70 s).
    Found(
        "abs-many-code-links",
        "abs",
        _abs("Comments: " + " ".join(f"https://github.com/a/b{i}" for i in range(20_000))),
        None,
    ),
]


def _found_params(found: list[Found]) -> list[Any]:
    params = []
    for f in found:
        raises = f.raised_in[0] if f.raised_in else AssertionError  # a hang fails the time limit
        marks = [pytest.mark.xfail(strict=True, raises=raises, reason=f.bug)] if f.bug else []
        params.append(pytest.param(f, id=f.name, marks=marks))
    return params


@pytest.mark.parametrize("found", _found_params(CRASHES))
def test_found_crash(found: Found) -> None:
    TARGETS[found.target][0](found.data)


@pytest.mark.parametrize("found", _found_params(HANGS))
def test_found_hang(found: Found) -> None:
    with time_limit(HANG_LIMIT_S):
        TARGETS[found.target][0](found.data)


# --- the fuzzers -------------------------------------------------------------------------------------------


def _fuzz(target: str, examples: int) -> None:
    check, strategy = TARGETS[target]
    found_here = [f for f in CRASHES if f.target == target]
    open_bugs = [f for f in found_here if f.bug]

    def check_for_new_bugs(data: Any) -> None:
        try:
            check(data)
        except Exception as exc:
            if not any(f.matches(exc) for f in open_bugs):
                raise

    settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )(given(strategy)(check_for_new_bugs))()
    # The inputs that found bugs come last: as regressions once fixed, as KnownBug while open.
    for found in found_here:
        try:
            check(found.data)
        except Exception as exc:
            if found.bug:
                raise KnownBug(f"{found.name}: {found.bug}") from exc
            raise


def _targets() -> list[Any]:
    """One parameter per parser; xfail (as KnownBug only: any other failure is a new bug) while
    an input of CRASHES still breaks it."""
    params = []
    for target in TARGETS:
        bugs = sorted(f.name for f in CRASHES if f.target == target and f.bug)
        reason = "open bugs: " + ", ".join(bugs)
        marks = [pytest.mark.xfail(strict=True, raises=KnownBug, reason=reason)] if bugs else []
        params.append(pytest.param(target, id=target, marks=marks))
    return params


@pytest.mark.parametrize("target", _targets())
def test_fuzz(target: str) -> None:
    _fuzz(target, NORMAL_EXAMPLES)


@pytest.mark.parametrize("target", _targets())
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DAILYPAPERS_SLOW") != "1",
    reason="full-size fuzzing: set DAILYPAPERS_SLOW=1 (and -m slow)",
)
def test_fuzz_slow(target: str) -> None:
    _fuzz(target, SLOW_EXAMPLES)


# --- the fuzzers reach the records -------------------------------------------------------------------------


PAGE_AND_RECORD_PARSERS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any, Any, date | None], Any]]] = {
    "arxiv_api": (parse_api_feed, lambda entry, page, day: parse_api_entry(entry)),
    "arxiv_oai": (parse_oai_page, lambda entry, page, day: parse_oai_record(entry)),
    "arxiv_rss": (parse_rss_feed, lambda entry, page, day: parse_rss_item(entry, page.info["format"], day)),
    "hub": (parse_hub_page, lambda entry, page, day: parse_hub_item(entry, day)),
}


def _outcomes(target: str, body: bytes, day: date | None) -> set[str]:
    parse_page, parse_record = PAGE_AND_RECORD_PARSERS[target]
    try:
        page = parse_page(body)
    except Exception as exc:  # noqa: BLE001 - only counting here; the fuzz tests report crashes
        return {"page rejected" if isinstance(exc, FeedError) else "crash"}
    outcomes = set()
    for entry in page.entries:
        try:
            parse_record(entry, page, day)
            outcomes.add("record")
        except Exception as exc:  # noqa: BLE001
            outcomes.add("record rejected" if isinstance(exc, RecordError) else "crash")
    return outcomes


REACH_INPUTS: dict[str, st.SearchStrategy[tuple[bytes, date | None]]] = {
    "arxiv_api": st.tuples(mutated(API_BASES, xml_ops(API_TAGS)), st.none()),
    "arxiv_oai": st.tuples(mutated(OAI_BASES, xml_ops(OAI_TAGS)), st.none()),
    "arxiv_rss": st.tuples(mutated(RSS_BASES, xml_ops(RSS_TAGS)), st.none()),
    "hub": hub_inputs,
}


@pytest.mark.parametrize("target", list(REACH_INPUTS))
def test_mutated_bodies_reach_the_record_parsers(target: str) -> None:
    """Guard against strategies that only ever produce broken pages: mutated real bodies must
    often give a page, and its records must be parsed as well as rejected. (Derandomized: a
    guard of the strategies, not a search, so it never flickers.)"""
    seen: set[str] = set()

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(REACH_INPUTS[target])
    def sample(args: tuple[bytes, date | None]) -> None:
        seen.update(_outcomes(target, *args))

    sample()
    assert {"page rejected", "record", "record rejected"} <= seen


def test_mutated_abs_files_are_parsed_as_well_as_rejected() -> None:
    outcomes: set[str] = set()

    @settings(
        max_examples=150,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(ABS_BASES, abs_ops))
    def sample(data: bytes) -> None:
        try:
            parse_abs(data)
            outcomes.add("parsed")
        except RecordError:
            outcomes.add("rejected")
        except Exception:  # noqa: BLE001 - counted by the fuzz test
            pass

    sample()
    assert outcomes == {"parsed", "rejected"}
