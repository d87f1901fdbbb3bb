"""Fuzzing every parser: malformed input may only end in RecordError, Rejected or UnreadableFile.

Inputs are JSON-like dicts built from the real keys of each format (real records with fields
replaced, removed or added, and dicts built from scratch), Python-repr strings, whole files of
such records, and random bytes. The normal run tries a few hundred examples per parser; the
`slow` variant tries 10,000 each:

    DAILYPAPERS_SLOW=1 .venv/bin/pytest tests/ingest/test_fuzz.py -m slow
"""

from __future__ import annotations

import ast
import atexit
import gzip
import io
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.files import UnreadableFile, open_binary, read_file
from dailypapers.ingest.formats import parse_hub_item, parse_kaggle, parse_listing
from dailypapers.ingest.records import RecordError, Rejected

DATA = Path(__file__).parents[1] / "data"
NORMAL_EXAMPLES = 300
SLOW_EXAMPLES = 10_000

# --- real records to start from ----------------------------------------------------------------


def _jsonl(name: str) -> list[dict[str, Any]]:
    opener = gzip.open if name.endswith(".gz") else open
    with opener(DATA / name, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _hub() -> list[dict[str, Any]]:
    items = []
    for path in sorted((DATA / "hub").glob("*.json")):
        doc = json.loads(path.read_text())
        raw = doc["data"] if isinstance(doc, dict) and "data" in doc else doc
        if isinstance(raw, list):
            items += [ast.literal_eval(i) if isinstance(i, str) else i for i in raw]
    return items


LISTING = _jsonl("listing-cs_2026-06-30.jsonl")[:60] + _jsonl("listing-cs-unique-300.jsonl.gz")[:60]
KAGGLE = _jsonl("kaggle-sample200.jsonl")
HUB = _hub()
assert LISTING and KAGGLE and HUB


# --- value strategies ----------------------------------------------------------------------------

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
scalars = (
    st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=5,
)

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | st.timezones()
)
iso_datetimes = moments.map(lambda d: d.isoformat()) | moments.map(
    lambda d: d.replace(tzinfo=None).isoformat() + "Z"
)
iso_dates = st.dates().map(date.isoformat)
rfc2822 = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(format_datetime) | st.sampled_from(
    ["Mon, 2 Apr 2007 19:18:42 GMT", "Tue, 24 Jul 2007 20:10:27 -0000", "", "GMT"]
)

new_ids = st.from_regex(r"\A\d{4}\.\d{4,5}(v\d{1,3})?\Z")
old_ids = st.from_regex(r"\A[a-z][a-z\-]{1,10}(\.[A-Z]{2})?/\d{7}(v\d{1,2})?\Z")
ids = (
    new_ids
    | old_ids
    | new_ids.map(lambda s: "arXiv:" + s)
    | new_ids.map(lambda s: f"https://arxiv.org/abs/{s}")
    | new_ids.map(lambda s: f"https://arxiv.org/pdf/{s}.pdf?x=1")
    | st.text(alphabet="0123456789.v/:arXiv-", max_size=20)
)
strings = st.text(max_size=80) | st.sampled_from(
    [
        r"$x^2$ and \(\alpha\)",
        "Code: https://github.com/a/b.",
        "Project page: https://a.github.io/p",
        "withdrawn",
        "\n  x",
    ]
)
string_lists = st.lists(st.text(max_size=20), max_size=5)
categories = st.lists(st.sampled_from(["cs.LG", "cs.AI", "hep-ph", "math.OC", ""]), max_size=4) | st.text(
    max_size=30
)
urls = st.sampled_from(
    ["https://arxiv.org/abs/2501.01234v2", "https://arxiv.org/pdf/2501.01234", "", "v2"]
) | ids.map(lambda s: "https://arxiv.org/abs/" + s)


def anything(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly plausible values for a key, sometimes any JSON value at all."""
    return st.one_of(plausible, plausible, json_values)


LISTING_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "id": anything(ids),
    "title": anything(strings),
    "summary": anything(strings),
    "comment": anything(st.none() | strings),
    "authors": anything(string_lists | st.text(max_size=40)),
    "categories": anything(categories),
    "abs": anything(urls),
    "pdf": anything(urls),
    "listing_dates": anything(st.lists(iso_dates | st.text(max_size=12), max_size=3)),
    "listing_date": anything(iso_dates),
    "upvotes": anything(ints),
}

versions = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "version": anything(st.from_regex(r"\Av\d{1,4}\Z") | st.text(max_size=5)),
            "created": anything(rfc2822 | st.text(max_size=30)),
        },
    ),
    max_size=4,
)
KAGGLE_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "id": anything(ids),
    "submitter": anything(strings),
    "title": anything(strings),
    "abstract": anything(strings),
    "comments": anything(st.none() | strings),
    "authors": anything(
        st.text(max_size=60) | st.sampled_from([r"C. Bal\'azs and P\'eter {\O}bro", r"\v{S}r\'amek, {"])
    ),
    "authors_parsed": anything(st.lists(st.lists(st.text(max_size=12), max_size=4), max_size=4)),
    "journal-ref": anything(st.none() | strings),
    "doi": anything(st.none() | strings),
    "report-no": anything(st.none() | strings),
    "categories": anything(categories),
    "license": anything(st.none() | strings),
    "versions": anything(versions),
    "update_date": anything(iso_dates),
}

hub_authors = st.lists(
    st.fixed_dictionaries({}, optional={"name": anything(st.text(max_size=20)), "hidden": st.booleans()})
    | st.text(max_size=20),
    max_size=4,
)
HUB_PAPER_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "id": anything(ids),
    "title": anything(strings),
    "summary": anything(strings),
    "authors": anything(hub_authors),
    "upvotes": anything(ints),
    "publishedAt": anything(iso_datetimes),
    "submittedOnDailyAt": anything(iso_datetimes),
    "githubRepo": anything(st.none() | urls | st.just("https://github.com/a/b")),
    "projectPage": anything(st.none() | urls),
}
HUB_ITEM_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "title": anything(strings),
    "summary": anything(strings),
    "publishedAt": anything(iso_datetimes),
    "numComments": anything(ints),
}


def mutated(real: list[dict[str, Any]], keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    """A real record with some keys replaced, some removed; or a dict built from the keys alone."""
    names = sorted(keys)

    def build(base: dict[str, Any], changes: dict[str, Any], removed: set[str]) -> dict[str, Any]:
        return {k: v for k, v in {**base, **changes}.items() if k not in removed}

    from_real = st.builds(
        build,
        st.sampled_from(real),
        st.fixed_dictionaries({}, optional=keys),
        st.sets(st.sampled_from(names), max_size=3),
    )
    from_scratch = st.fixed_dictionaries({}, optional=keys)
    return from_real | from_real | from_scratch


listing_objs = mutated(LISTING, LISTING_KEYS)
kaggle_objs = mutated(KAGGLE, KAGGLE_KEYS)


def _hub_item(item: dict[str, Any], paper: dict[str, Any] | None, drop_paper: bool) -> dict[str, Any]:
    out = dict(item)
    if drop_paper:
        out.pop("paper", None)
    elif paper is not None:
        out["paper"] = paper
    return out


hub_papers = mutated([i["paper"] for i in HUB], HUB_PAPER_KEYS)
hub_dicts = st.builds(
    _hub_item, mutated(HUB, HUB_ITEM_KEYS), st.none() | hub_papers | json_values, st.booleans()
)
hub_items = st.one_of(
    hub_dicts,
    hub_dicts,
    hub_dicts.map(repr),  # the Python-repr form some bots saved
    st.text(max_size=60),
    st.text(alphabet="{}[]()':,0123456789 ab", max_size=40),
    json_values,
)


# --- the contract --------------------------------------------------------------------------------


def _raised_in(exc: BaseException, function: str) -> bool:
    return any(frame.name == function for frame in traceback.extract_tb(exc.__traceback__))


def _parses_or_rejects(parse: Callable[[], PaperRecord]) -> None:
    try:
        rec = parse()
    except RecordError as exc:
        assert str(exc)  # a reason for the rejection list
        return
    _check_record(rec)


def _check_record(rec: PaperRecord) -> None:
    assert isinstance(rec, PaperRecord)
    assert isinstance(rec.arxiv_id, str) and rec.arxiv_id
    assert isinstance(rec.title, str) and rec.title == rec.title.strip() and rec.title
    assert isinstance(rec.abstract, str)
    assert all(isinstance(a, str) and a for a in rec.authors)
    assert all(isinstance(c, str) and c for c in rec.categories)
    assert rec.version is None or isinstance(rec.version, int)
    assert rec.upvotes is None or (isinstance(rec.upvotes, int) and not isinstance(rec.upvotes, bool))
    for day, at in rec.feed_entries:
        assert isinstance(day, date) and isinstance(at, datetime) and at.tzinfo is not None
    for value in (rec.published_at, rec.updated_at):
        assert value is None or isinstance(value, datetime)


def check_listing(obj: dict[str, Any]) -> None:
    _parses_or_rejects(lambda: parse_listing(obj))


def check_kaggle(obj: dict[str, Any]) -> None:
    _parses_or_rejects(lambda: parse_kaggle(obj))


def check_hub_item(args: tuple[Any, date | None]) -> None:
    item, file_day = args
    _parses_or_rejects(lambda: parse_hub_item(item, file_day))


def _consume(path: Path, stream: Any) -> None:
    """read_file may raise UnreadableFile; its records are PaperRecord or Rejected, nothing else."""
    try:
        parsed = read_file(path, stream)
    except UnreadableFile as exc:
        assert str(exc)
        return
    for item in parsed.records:
        if isinstance(item, Rejected):
            assert item.path == str(path) and item.line >= 1 and item.reason
        else:
            _check_record(item)


def check_read_file(args: tuple[str, bytes]) -> None:
    name, content = args
    _consume(Path(name), io.BytesIO(content))


_TMP = Path(tempfile.mkdtemp(prefix="dailypapers-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)


def check_gzip_file(args: tuple[str, bytes, int]) -> None:
    """Through open_binary, gzipped and possibly truncated: truncation may also raise EOFError
    (or OSError), which import_paths reports; nothing else may escape."""
    name, content, keep = args
    packed = gzip.compress(content, mtime=0)
    path = _TMP / name
    path.write_bytes(packed[: max(keep, 0) or len(packed)])
    stream, raw = open_binary(path)
    with raw:
        try:
            _consume(path, stream)
        except (EOFError, OSError):
            pass


# --- whole files -------------------------------------------------------------------------------

file_names = st.sampled_from(["f.jsonl", "hub_2025-03-10.json", "papers.json", "2024-12-11.jsonl"])


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an int beyond 64 bits
        return json.dumps(value).encode()


def _jsonl_bytes(objs: list[Any], junk: list[bytes]) -> bytes:
    lines = [_dumps(o) for o in objs]
    for i, j in enumerate(junk):
        lines.insert((i * 7) % (len(lines) + 1), j)
    return b"\n".join(lines) + b"\n"


junk_lines = st.lists(
    st.binary(max_size=30) | st.sampled_from([b"[1, 2]", b'"x"', b"{", b"null", b"", b"   "]), max_size=3
)
record_objs = listing_objs | kaggle_objs | hub_dicts
file_contents = st.one_of(
    st.binary(max_size=300),
    st.builds(_jsonl_bytes, st.lists(record_objs, max_size=3), junk_lines),
    st.builds(_jsonl_bytes, st.lists(listing_objs, min_size=1, max_size=3), junk_lines),
    st.builds(_jsonl_bytes, st.lists(kaggle_objs, min_size=1, max_size=3), junk_lines),
    st.lists(hub_items, max_size=3).map(lambda items: json.dumps(items, indent=1, default=str).encode()),
    st.builds(
        lambda status, day, items: json.dumps(
            {"status": status, "date": day, "count": 1, "data": items}, indent=2, default=str
        ).encode(),
        st.sampled_from(["success", "no_data"]),
        iso_dates | st.text(max_size=12),
        st.lists(hub_items, max_size=3) | json_values,
    ),
    json_values.map(lambda v: json.dumps(v, indent=1).encode()),
)

TARGETS: dict[str, tuple[Callable[[Any], None], st.SearchStrategy[Any]]] = {
    "parse_listing": (check_listing, listing_objs),
    "parse_kaggle": (check_kaggle, kaggle_objs),
    "parse_hub_item": (check_hub_item, st.tuples(hub_items, st.none() | st.dates())),
    "read_file": (check_read_file, st.tuples(file_names, file_contents)),
    "read_file_gzip": (
        check_gzip_file,
        st.tuples(file_names, file_contents, st.integers(min_value=0, max_value=400)),
    ),
}


def _fuzz(target: str, examples: int) -> None:
    check, strategy = TARGETS[target]
    run = settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )(given(strategy)(check))
    run()


@pytest.mark.parametrize("target", list(TARGETS))
def test_fuzz(target: str) -> None:
    _fuzz(target, NORMAL_EXAMPLES)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DAILYPAPERS_SLOW") != "1",
    reason="full-size fuzzing: set DAILYPAPERS_SLOW=1 (and -m slow)",
)
def test_fuzz_slow(target: str) -> None:
    _fuzz(target, SLOW_EXAMPLES)


# --- the fuzzers reach the interesting paths -----------------------------------------------------


def test_mutated_real_records_still_parse_often() -> None:
    """Guard against strategies that only ever produce rejections."""
    outcomes: dict[str, list[bool]] = {"listing": [], "kaggle": [], "hub": []}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(listing_objs, kaggle_objs, hub_dicts)
    def sample(lo: dict, ko: dict, ho: dict) -> None:
        for key, parse, obj in (
            ("listing", parse_listing, lo),
            ("kaggle", parse_kaggle, ko),
            ("hub", lambda o: parse_hub_item(o, date(2025, 1, 1)), ho),
        ):
            try:
                parse(obj)
                outcomes[key].append(True)
            except Exception:  # noqa: BLE001 - only counting here
                outcomes[key].append(False)

    sample()
    for key, results in outcomes.items():
        assert any(results), f"{key}: no fuzzed record ever parsed"
        assert not all(results), f"{key}: no fuzzed record was ever rejected"
