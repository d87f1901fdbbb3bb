"""The remote sources' parsers on the recorded real responses in tests/data/harvest (see its SOURCE.md):
arXiv API feeds, OAI-PMH pages, RSS/Atom announcement feeds, Hub daily_papers captures, .abs files;
plus the featuring policy and the announcement calendar they depend on."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from dailypapers.core.arxiv_calendar import announcement_day, listing_time
from dailypapers.core.models import PaperRecord
from dailypapers.ingest.abs_files import MAX_ABS_BYTES, parse_abs
from dailypapers.ingest.featuring import POLICIES, apply_policy
from dailypapers.ingest.formats import parse_hub_item, parse_kaggle, parse_listing
from dailypapers.ingest.records import RecordError, make_record
from dailypapers.ingest.sources.arxiv_api import parse_api_entry, parse_api_feed
from dailypapers.ingest.sources.arxiv_oai import parse_oai_page, parse_oai_record
from dailypapers.ingest.sources.arxiv_rss import parse_rss_feed, parse_rss_item, split_authors
from dailypapers.ingest.sources.base import ANNOUNCEMENT, COMMUNITY, NO_FEATURES, FeedError
from dailypapers.ingest.sources.hub import parse_hub_page

UTC = UTC
EASTERN = ZoneInfo("America/New_York")
DATA = Path(__file__).parents[1] / "data"
HARVEST = DATA / "harvest"
API_FILES = sorted((HARVEST / "arxiv-api").glob("*.json"))
OAI_PAGES = sorted((HARVEST / "oai").glob("page-*.xml"))
ABS_FILES = sorted((HARVEST / "abs").glob("*.abs"))
HUB_FILES = sorted((HARVEST / "hub").glob("*.json"))
RSS_FILE = HARVEST / "rss" / "rss-cs.AI_cs.CL_cs.CV_cs.LG.xml"
ATOM_FILE = HARVEST / "rss" / "atom-cs.AI_cs.CL_cs.CV_cs.LG.xml"
RSS_EMPTY = HARVEST / "rss" / "rss-empty-day.xml"
LISTING_DAY = date(2026, 6, 30)
# Midnight US Eastern (EDT) of the listing day: how arXiv dates that day's feed.
LISTING_AT = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- arXiv API (Atom) ----------------------------------------------------------------------------


def api_exchange(name: str) -> dict[str, Any]:
    """The recorded exchange whose file name starts with `name` + '_'."""
    (path,) = [p for p in API_FILES if p.name.startswith(name + "_")]
    return json.loads(path.read_text())


def api_body(exchange: dict[str, Any]) -> bytes:
    # arxiv.py recorded `response.text`, which requests decoded as ISO-8859-1 (arXiv's API sends no
    # charset): encoding it back as latin-1 gives the UTF-8 bytes arXiv sent ("Dirk Wübben").
    return exchange["body"].encode("latin-1")


def api_records(name: str, feature: bool = True) -> list[PaperRecord]:
    page = parse_api_feed(api_body(api_exchange(name)))
    return [parse_api_entry(e, feature=feature) for e in page.entries]


def query_of(exchange: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(exchange["url"]).query, keep_blank_values=True).items()}


def test_the_twenty_recorded_api_exchanges_are_all_there() -> None:
    assert len(API_FILES) == 20
    statuses = Counter(json.loads(p.read_text())["status_code"] for p in API_FILES)
    assert statuses == {200: 19, 400: 1}


SEARCH_PAGES = [p.name.rsplit("_", 1)[0] for p in API_FILES if p.name.startswith("q_testing_")]


@pytest.mark.parametrize("name", SEARCH_PAGES)
def test_api_search_pages_report_their_paging_numbers(name: str) -> None:
    exchange = api_exchange(name)
    query = query_of(exchange)
    page = parse_api_feed(api_body(exchange))
    start, size = int(query["start"]), int(query["max_results"])
    assert page.info == {"total": 214881, "start": start, "per_page": size}
    assert len(page.entries) == size


def test_api_search_pages_are_slices_of_one_ranking() -> None:
    """Recorded on one day, the pages at start 0…50 are windows onto the same 100 results."""
    first_hundred = [r.arxiv_id for r in api_records("q_testing_s0_m100")]
    assert len(first_hundred) == len(set(first_hundred)) == 100
    for name in SEARCH_PAGES:
        query = query_of(api_exchange(name))
        start, size = int(query["start"]), int(query["max_results"])
        assert [r.arxiv_id for r in api_records(name)] == first_hundred[start : start + size], name


def test_api_old_style_id() -> None:
    (rec,) = api_records("id_astro-ph_0601001_s0_m100")
    assert rec.arxiv_id == "astro-ph/0601001" and rec.version == 1
    assert rec.title == (
        "Frequency of Hot Jupiters and Very Hot Jupiters from the OGLE-III Transit Surveys Toward "
        "the Galactic Bulge and Carina"
    )
    assert rec.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert rec.categories == ["astro-ph"]
    assert rec.comment == (
        "62 pages including 16 figures and 9 tables. Submitted to Acta Astronomica. Full resolution "
        "version at http://www.astronomy.ohio-state.edu/~gould/ogle_hot_jupiters.ps.gz"
    )
    assert rec.journal_ref == "ActaAstron.56:1-50,2006"
    assert rec.doi is None
    assert rec.abstract.startswith("We derive the frequencies of hot Jupiters (HJs) with 3--5 day periods")
    assert "Gould & Morgan (2003)" in rec.abstract and "V_max<17.5" in rec.abstract  # entities decoded
    assert rec.published_at == utc(2006, 1, 2, 14, 57, 58)
    assert rec.updated_at is None  # <updated> equals <published>: never revised
    # Monday 09:57 EST, before the cut-off: Monday evening's announcement, Tuesday's listing.
    assert rec.feed_entries == [(date(2006, 1, 3), utc(2006, 1, 3, 5, 0))]
    assert rec.withdrawn is False and rec.source == "arxiv-api"


def test_api_versioned_old_style_id_and_primary_category_first() -> None:
    (rec,) = api_records("id_quant-ph_0201082v1_s0_m100")
    assert rec.arxiv_id == "quant-ph/0201082" and rec.version == 1
    assert rec.title == (
        "Quantum Computers and Quantum Computer Languages: Quantum Assembly Language and Quantum C Language"
    )
    assert rec.authors == ["Stephen Blaha"]
    assert rec.categories == ["quant-ph", "cs.PL"]
    assert rec.comment == "32 pages"
    assert rec.published_at == utc(2002, 1, 18, 15, 8, 5)
    # Friday 10:08 EST, before the cut-off: the Sunday-evening announcement, Monday's listing.
    assert rec.feed_entries == [(date(2002, 1, 21), utc(2002, 1, 21, 5, 0))]


def test_api_new_style_ids() -> None:
    (heat,) = api_records("id_1605.08386_s0_m100")
    assert heat.arxiv_id == "1605.08386" and heat.version == 1
    assert heat.title == "Heat-bath random walks with Markov bases"
    assert heat.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert heat.categories == ["math.CO", "math.ST"]
    assert heat.comment == "20 pages, 3 figures"
    assert heat.published_at == utc(2016, 5, 26, 17, 59, 46)
    assert heat.feed_entries == [(date(2016, 5, 27), utc(2016, 5, 27, 4, 0))]

    (zero,) = api_records("id_2104.12255v1_s0_m100")
    assert zero.arxiv_id == "2104.12255" and zero.version == 1
    assert zero.title == "0"  # a real title that is falsy-looking, not an empty one
    assert zero.authors == ["Quan Thoi Minh Nguyen"]
    assert zero.categories == ["cs.CR"]
    assert zero.comment is None and zero.journal_ref is None


def test_api_utf8_names_and_many_authors() -> None:
    (rec,) = api_records("id_1707.08567_s0_m100")
    assert rec.arxiv_id == "1707.08567"
    assert rec.title == "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
    assert len(rec.authors) == 34
    assert rec.authors[0] == "Kees A. Schouhamer Immink" and rec.authors[-1] == "Hirosuke Yamamoto"
    assert "Dirk Wübben" in rec.authors and "Peter H. N. de With" in rec.authors
    assert rec.comment == "44 pages, editors for the proceedings: Yanling Chen and A. J. Han Vinck"
    assert rec.categories == ["cs.IT"]


def test_api_revised_paper_with_doi_and_journal_ref() -> None:
    by_id = {r.arxiv_id: r for r in api_records("q_testing_s0_m10")}
    rec = by_id["2005.14124"]
    assert rec.version == 2
    assert rec.title.startswith("Active Fuzzing for Testing and Securing Cyber-Physical Systems")
    assert rec.authors[:3] == ["Yuqi Chen", "Bohan Xuan", "Christopher M. Poskitt"]
    assert rec.categories == ["cs.SE", "cs.CR", "cs.LG"]
    assert rec.doi == "10.1145/3395363.3397376"
    assert rec.journal_ref is not None and rec.journal_ref.startswith(
        "In Proc. ACM SIGSOFT International Symposium on Software Testing and Analysis (ISSTA 2020)"
    )
    assert rec.published_at == utc(2020, 5, 28, 16, 19, 50)
    assert rec.updated_at == utc(2020, 7, 16, 8, 15, 48)
    assert rec.feed_entries == [(date(2020, 5, 29), utc(2020, 5, 29, 4, 0))]
    ramirez = by_id["2405.13786"]
    assert ramirez.authors[0] == "Aurora Ramírez" and "José Raúl Romero" in ramirez.authors


@pytest.mark.parametrize("name", ["id_0000.0000_s0_m100", "id_0808.05394_s0_m100"])
def test_api_unknown_id_is_an_empty_feed(name: str) -> None:
    page = parse_api_feed(api_body(api_exchange(name)))
    assert page.entries == []
    assert page.info == {"total": 0, "start": 0, "per_page": 100}


def test_api_lookup_of_a_known_and_an_unknown_id_gives_the_known_one() -> None:
    assert [r.arxiv_id for r in api_records("id_0808.05394_1707.08567_s0_m100")] == ["1707.08567"]


def test_api_invalid_id_is_arxivs_error_feed() -> None:
    exchange = api_exchange("id_abc_s0_m100")
    assert exchange["status_code"] == 400
    with pytest.raises(FeedError, match="incorrect id format for abc") as info:
        parse_api_feed(api_body(exchange))
    assert info.value.retryable is False


@pytest.mark.parametrize("path", [p for p in API_FILES if "id_abc" not in p.name], ids=lambda p: p.stem)
def test_api_every_entry(path: Path) -> None:
    """Every entry: its id and version from <id>, primary category first, and a feed entry on the
    announcement day of its submission (none when featuring is off)."""
    body = api_body(json.loads(path.read_text()))
    page = parse_api_feed(body)
    assert page.info["total"] is not None and len(page.entries) <= page.info["per_page"]
    for entry in page.entries:
        rec = parse_api_entry(entry)
        raw_id = entry.find("{http://www.w3.org/2005/Atom}id").text
        match = re.fullmatch(r"https?://arxiv\.org/abs/(.+)v(\d+)", raw_id)
        assert match, raw_id
        assert (rec.arxiv_id, rec.version) == (match.group(1), int(match.group(2)))
        primary = entry.find("{http://arxiv.org/schemas/atom}primary_category").get("term")
        assert rec.categories[0] == primary and len(rec.categories) == len(set(rec.categories))
        assert rec.title and rec.authors and rec.abstract
        assert rec.published_at is not None and rec.published_at.tzinfo is not None
        assert rec.updated_at is None or rec.updated_at > rec.published_at
        day = announcement_day(rec.published_at)
        assert rec.feed_entries == [(day, listing_time(day))]
        assert day.weekday() < 5 and day > rec.published_at.astimezone(EASTERN).date()
        assert parse_api_entry(entry, feature=False).feed_entries == []


def test_api_rejects_what_is_not_an_api_feed() -> None:
    with pytest.raises(FeedError, match="not an Atom feed"):
        parse_api_feed(OAI_PAGES[0].read_bytes())
    body = api_body(api_exchange("q_testing_s0_m10"))
    with pytest.raises(FeedError, match="malformed") as info:
        parse_api_feed(body[: len(body) // 2])
    assert info.value.retryable is True  # a cut-off body is worth another try
    with pytest.raises(FeedError, match="totalResults is not a number"):
        parse_api_feed(body.replace(b"<opensearch:totalResults>214881<", b"<opensearch:totalResults>many<"))


def test_api_entry_problems_are_record_errors() -> None:
    entry = parse_api_feed(api_body(api_exchange("id_1605.08386_s0_m100"))).entries[0]
    atom = "{http://www.w3.org/2005/Atom}"
    for tag, value, message in (
        ("id", "http://arxiv.org/abs/nonsense", "not an arXiv id"),
        ("title", "   ", "empty title"),
        ("published", "26 May 2016", "not an ISO date"),
    ):
        broken = copy.deepcopy(entry)
        broken.find(atom + tag).text = value
        with pytest.raises(RecordError, match=message):
            parse_api_entry(broken)


# --- OAI-PMH ---------------------------------------------------------------------------------------

OAI_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">\n'
    "<responseDate>2026-11-30T10:00:00Z</responseDate>\n"
    '<request verb="ListRecords">http://export.arxiv.org/oai2</request>\n{}\n</OAI-PMH>\n'
)


def oai_records() -> list[tuple[Any, PaperRecord | None]]:
    return [(e, parse_oai_record(e)) for p in OAI_PAGES for e in parse_oai_page(p.read_bytes()).entries]


@pytest.mark.parametrize(
    ("page", "token", "cursor", "count"),
    [
        ("page-001.xml", "6960524|50", 0, 50),
        ("page-002.xml", "6960524|100", 50, 50),
        ("page-003.xml", "6960524|150", 100, 50),
        ("page-004.xml", "6960524|200", 150, 50),
        ("page-005.xml", None, 200, 1),  # the last page: an empty token closes the list
    ],
)
def test_oai_pages_and_resumption_tokens(page: str, token: str | None, cursor: int, count: int) -> None:
    parsed = parse_oai_page((HARVEST / "oai" / page).read_bytes())
    assert parsed.info == {
        "token": token,
        "complete_size": 201,
        "cursor": cursor,
        "response_date": "2026-11-30T10:00:00Z",
    }
    assert len(parsed.entries) == count


def test_oai_records_of_all_pages() -> None:
    pairs = oai_records()
    assert len(pairs) == 201  # completeListSize
    deleted = [e for e, rec in pairs if rec is None]
    assert len(deleted) == 1
    assert deleted[0].find("{http://www.openarchives.org/OAI/2.0/}header").get("status") == "deleted"
    records = [rec for _, rec in pairs if rec is not None]
    assert len({r.arxiv_id for r in records}) == 200
    assert all(r.version is None and r.feed_entries == [] and r.source == "arxiv-oai" for r in records)
    assert [r.arxiv_id for r in records if r.withdrawn] == ["0704.0156"]


def test_oai_record_values() -> None:
    by_id = {r.arxiv_id: r for _, r in oai_records() if r is not None}
    first = by_id["0704.0001"]
    assert (
        first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.authors == [
        "C. Balázs",
        "E. L. Berger",
        "P. M. Nadolsky",
        "C. -P. Yuan",
    ]  # forenames keyname
    assert first.categories == ["hep-ph"]
    assert first.comment == "37 pages, 15 figures; published version"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.published_at == utc(2007, 4, 2) and first.updated_at == utc(2007, 7, 24)
    assert first.abstract.startswith(
        "A fully differential calculation in perturbative quantum chromodynamics"
    )

    second = by_id["0704.0002"]
    assert second.categories == ["math.CO", "cs.CG"]  # primary first
    assert second.authors == ["Ileana Streinu", "Louis Theran"]
    assert second.published_at == utc(2007, 3, 31) and second.updated_at == utc(2008, 12, 13)

    assert "Neal J. Evans II" in by_id["0704.0009"].authors  # <suffix>
    never_revised = by_id["0704.0050"]
    assert never_revised.published_at == utc(2007, 4, 1) and never_revised.updated_at is None
    assert never_revised.categories == ["cs.NE", "cs.AI"]


def test_oai_records_agree_with_the_kaggle_snapshot_they_were_written_from() -> None:
    kaggle = {}
    for line in (DATA / "kaggle-sample200.jsonl").read_text().splitlines():
        rec = parse_kaggle(json.loads(line))
        kaggle[rec.arxiv_id] = rec
    records = [r for _, r in oai_records() if r is not None]
    assert {r.arxiv_id for r in records} == set(kaggle)
    for rec in records:
        ref = kaggle[rec.arxiv_id]
        for name in (
            "title",
            "abstract",
            "authors",
            "categories",
            "comment",
            "journal_ref",
            "doi",
            "withdrawn",
        ):
            assert getattr(rec, name) == getattr(ref, name), (rec.arxiv_id, name)
        # OAI dates are days; Kaggle's are the instants of the first and last version.
        assert rec.published_at == utc(*ref.published_at.timetuple()[:3])
        assert rec.updated_at == (ref.updated_at and utc(*ref.updated_at.timetuple()[:3]))


def test_oai_no_records_match_is_an_empty_complete_page() -> None:
    body = OAI_ENVELOPE.format('<error code="noRecordsMatch">No records match the request</error>')
    page = parse_oai_page(body.encode())
    assert page.entries == []
    assert page.info["token"] is None and page.info["response_date"] == "2026-11-30T10:00:00Z"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("badResumptionToken", "The value of the resumptionToken argument is invalid or expired."),
        ("badArgument", "Illegal argument 'from' : 2026-13-01"),
        ("cannotDisseminateFormat", "Unknown metadata format"),
    ],
)
def test_oai_errors_are_feed_errors(code: str, text: str) -> None:
    body = OAI_ENVELOPE.format(f'<error code="{code}">{text}</error>')
    with pytest.raises(FeedError, match=f"OAI-PMH error {code}: ") as info:
        parse_oai_page(body.encode())
    assert text[:20] in str(info.value)
    assert info.value.retryable is False


@pytest.mark.parametrize(
    "body",
    [
        api_body(api_exchange("id_1605.08386_s0_m100")),  # an Atom feed
        b"<html><body>503 Service Unavailable</body></html>",
        OAI_ENVELOPE.format("<Identify><repositoryName>arXiv</repositoryName></Identify>").encode(),
        OAI_PAGES[0].read_bytes()[:5000],  # cut off
        b"",
    ],
    ids=["atom", "html", "no-listrecords", "truncated", "empty"],
)
def test_oai_rejects_what_is_not_a_list_records_page(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_oai_page(body)


def test_oai_record_without_metadata_is_a_record_error() -> None:
    entry = parse_oai_page(OAI_PAGES[0].read_bytes()).entries[0]
    broken = copy.deepcopy(entry)
    broken.remove(broken.find("{http://www.openarchives.org/OAI/2.0/}metadata"))
    with pytest.raises(RecordError, match="without arXiv metadata"):
        parse_oai_record(broken)


# --- RSS 2.0 and Atom announcement feeds -----------------------------------------------------------


def rss_records(path: Path) -> list[tuple[PaperRecord, str]]:
    page = parse_rss_feed(path.read_bytes())
    day = date.fromisoformat(page.info["day"])
    return [parse_rss_item(item, page.info["format"], day) for item in page.entries]


@pytest.mark.parametrize(("path", "fmt"), [(RSS_FILE, "rss"), (ATOM_FILE, "atom")], ids=["rss", "atom"])
def test_rss_feed_day_and_items(path: Path, fmt: str) -> None:
    page = parse_rss_feed(path.read_bytes())
    assert page.info == {"day": "2026-06-30", "format": fmt}
    assert len(page.entries) == 509


def test_rss_and_atom_give_the_same_records() -> None:
    assert rss_records(RSS_FILE) == rss_records(ATOM_FILE)


def test_rss_new_and_cross_items_are_feed_candidates_replacements_are_not() -> None:
    pairs = rss_records(RSS_FILE)
    assert Counter(kind for _, kind in pairs) == {"new": 490, "cross": 9, "replace": 10}
    for rec, kind in pairs:
        assert rec.source == "arxiv-rss"
        assert rec.published_at is None  # the announcement is not the submission
        if kind in ("new", "cross"):
            assert rec.version == 1
            assert rec.feed_entries == [(LISTING_DAY, LISTING_AT)]
        else:
            assert rec.version is not None and rec.version >= 2
            assert rec.feed_entries == []


def test_rss_item_values() -> None:
    pairs = rss_records(RSS_FILE)
    cross, kind = pairs[0]
    assert kind == "cross"
    assert cross.arxiv_id == "2606.28778"
    assert cross.title == (
        "Brownian Bridge Diffusion-Based Joint Channel Estimation and Data Detection for Jamming-Resilient Receivers"
    )
    assert cross.authors == [
        "Honghan She",
        "Yufan Cheng",
        "Tieming Sun",
        "Pengyu Wang",
        "Siya Huang",
        "Kaikai Yang",
    ]
    assert cross.categories == ["cs.IT", "cs.AI", "eess.SP"]
    assert cross.abstract.startswith("In next-generation wireless networks, the growing density of devices")
    assert not cross.abstract.startswith("arXiv:")  # the "arXiv:ID vN Announce Type: T" prefix is gone
    assert cross.doi is None and cross.journal_ref is None

    by_id = {rec.arxiv_id: (rec, kind) for rec, kind in pairs}
    replaced, kind = by_id["0704.0001"]
    assert kind == "replace" and replaced.version == 2
    assert replaced.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert replaced.categories == ["hep-ph"]
    assert replaced.doi == "10.1103/PhysRevD.76.013009"
    assert replaced.journal_ref == "Phys.Rev.D76:013009,2007"
    assert by_id["0704.0003"][0].version == 3


def test_rss_items_agree_with_the_listing_and_snapshot_they_were_written_from() -> None:
    listing: dict[str, PaperRecord] = {}
    for line in (DATA / "listing-cs_2026-06-30.jsonl").read_text().splitlines():
        rec = parse_listing(json.loads(line))
        listing.setdefault(rec.arxiv_id, rec)
    kaggle = {}
    for line in (DATA / "kaggle-sample200.jsonl").read_text().splitlines():
        rec = parse_kaggle(json.loads(line))
        kaggle[rec.arxiv_id] = rec
    for rec, kind in rss_records(RSS_FILE):
        ref = kaggle[rec.arxiv_id] if kind == "replace" else listing[rec.arxiv_id]
        for name in ("title", "abstract", "authors", "categories"):
            assert getattr(rec, name) == getattr(ref, name), (rec.arxiv_id, name)
        if kind == "replace":
            assert (rec.version, rec.doi, rec.journal_ref) == (ref.version, ref.doi, ref.journal_ref)


def test_rss_without_a_day_features_nothing() -> None:
    page = parse_rss_feed(RSS_FILE.read_bytes())
    rec, kind = parse_rss_item(page.entries[0], "rss", None)
    assert kind == "cross" and rec.feed_entries == []


def test_rss_empty_day() -> None:
    page = parse_rss_feed(RSS_EMPTY.read_bytes())
    assert page.entries == []
    assert page.info == {"day": "2026-07-04", "format": "rss"}


def test_rss_creator_split_into_authors() -> None:
    assert split_authors("A. One (MIT), B. Two and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("Ada  Lovelace,\n  Charles Babbage (Cambridge (UK))") == [
        "Ada Lovelace",
        "Charles Babbage",
    ]
    assert split_authors("") == []


@pytest.mark.parametrize(
    "body",
    [
        b"<rss version='2.0'></rss>",  # no <channel>
        b"<html><body>arXiv is down</body></html>",
        RSS_FILE.read_bytes()[:3000],  # cut off
    ],
    ids=["no-channel", "html", "truncated"],
)
def test_rss_rejects_what_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_rss_feed(body)


# --- Hub daily_papers --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", HUB_FILES, ids=lambda p: p.stem)
def test_hub_captures(path: Path) -> None:
    items = json.loads(path.read_text())
    page = parse_hub_page(path.read_bytes())
    assert (
        page.entries == items
        and len(items)
        == {
            "2026-08-17": 23,
            "2026-08-18": 29,
            "2026-08-19": 26,
            "2026-08-20": 15,
            "2026-08-21": 17,
        }[path.stem]
    )
    day = date.fromisoformat(path.stem)
    records = [parse_hub_item(item, day) for item in page.entries]
    assert all(r.feed_entries == [(day, datetime.combine(day, datetime.min.time(), UTC))] for r in records)
    assert all(r.source == "hf-daily" and r.upvotes is not None and r.upvotes >= 0 for r in records)
    assert len({r.arxiv_id for r in records}) == len(records)


def test_hub_item_values() -> None:
    page = parse_hub_page((HARVEST / "hub" / "2026-08-17.json").read_bytes())
    rec = parse_hub_item(page.entries[0], date(2026, 8, 17))
    assert rec.arxiv_id == "2608.14391" and rec.version is None
    assert rec.authors[:2] == ["Shuo Liang", "Yixing Ma"] and len(rec.authors) == 35
    assert rec.upvotes == 52
    assert rec.code_urls[0] == "https://github.com/24029100313/RA-Bench"
    assert rec.project_url == "https://ra-bench-crisis-video.yxgma811120.chatgpt.site/"
    assert rec.published_at == utc(2026, 8, 14)


def test_hub_data_wrapper() -> None:
    items = json.loads((HARVEST / "hub" / "2026-08-18.json").read_text())
    page = parse_hub_page(json.dumps({"data": items, "count": len(items)}).encode())
    assert page.entries == items


@pytest.mark.parametrize(
    ("body", "message", "retryable"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON", True),
        ((HARVEST / "hub" / "2026-08-20.json").read_bytes()[:1000], "not JSON", True),  # cut off
        (b'{"error": "Invalid date parameter"}', "Hub API error: Invalid date parameter", False),
        (b'{"data": "nope"}', "JSON dict, expected a list", False),
        (b"42", "JSON int, expected a list", False),
        (b'"2026-08-17"', "JSON str, expected a list", False),
    ],
    ids=["html", "truncated", "error-object", "data-not-list", "number", "string"],
)
def test_hub_bad_answers_are_feed_errors(body: bytes, message: str, retryable: bool) -> None:
    with pytest.raises(FeedError, match=re.escape(message)) as info:
        parse_hub_page(body)
    assert info.value.retryable is retryable


def test_hub_empty_day_is_an_empty_page() -> None:
    assert parse_hub_page(b"[]").entries == []


# --- arXiv .abs files ------------------------------------------------------------------------------

_DATE_LINE_RE = re.compile(rb"^Date(?: \(revised v\d+\))?: (.*?GMT)", re.MULTILINE)
# arXiv marks a withdrawn version as an empty "(0kb,I)" submission; its comment says so too.
_WITHDRAWN_LAST = re.compile(rb"\(0kb,I\)\s*$")


def abs_dates(data: bytes) -> list[datetime]:
    return [
        datetime.strptime(m.decode(), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
        for m in _DATE_LINE_RE.findall(data)
    ]


def abs_id(path: Path) -> str:
    stem = re.sub(r"v\d+$", "", path.stem)
    old_style = {"0509002": "math-ph/0509002", "9301001": "funct-an/9301001", "9709111": "hep-th/9709111"}
    return old_style.get(stem, stem)


def test_the_abs_fixtures_are_all_there() -> None:
    assert len(ABS_FILES) == 32


@pytest.mark.parametrize("path", ABS_FILES, ids=lambda p: p.name)
def test_abs_versions_and_dates(path: Path) -> None:
    data = path.read_bytes()
    dates = abs_dates(data)
    rec = parse_abs(data)
    assert rec.arxiv_id == abs_id(path)
    assert rec.version == len(dates) >= 1
    assert rec.published_at == dates[0]
    assert rec.updated_at == (dates[-1] if len(dates) > 1 else None)
    assert rec.title and rec.abstract and rec.authors and rec.categories
    assert rec.feed_entries == [] and rec.source == "arxiv-abs"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    assert parse_abs(text) == rec  # text in: the same record


@pytest.mark.parametrize("path", ABS_FILES, ids=lambda p: p.name)
def test_abs_withdrawn_flag(path: Path) -> None:
    """Withdrawn exactly when the last version is arXiv's empty "(0kb,I)" withdrawal notice."""
    data = path.read_bytes()
    last_date_line = [line for line in data.splitlines() if line.startswith(b"Date")][-1]
    assert parse_abs(data).withdrawn == bool(_WITHDRAWN_LAST.search(last_date_line))


def test_abs_withdrawn_papers() -> None:
    assert parse_abs((HARVEST / "abs" / "0704.0615.abs").read_bytes()).withdrawn is True
    assert parse_abs((HARVEST / "abs" / "0704.0374.abs").read_bytes()).withdrawn is True
    # Earlier versions of a paper withdrawn later were not withdrawn.
    for version in (5, 6, 7):
        assert parse_abs((HARVEST / "abs" / f"2101.10016v{version}.abs").read_bytes()).withdrawn is False


def test_abs_values() -> None:
    rec = parse_abs((HARVEST / "abs" / "0704.0001.abs").read_bytes())
    assert rec.arxiv_id == "0704.0001" and rec.version == 2
    assert (
        rec.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert rec.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]  # TeX accent decoded
    assert rec.categories == ["hep-ph"]
    assert rec.comment == "37 pages, 15 figures; published version"
    assert rec.journal_ref == "Phys.Rev.D76:013009,2007"
    assert rec.doi == "10.1103/PhysRevD.76.013009"
    assert rec.published_at == utc(2007, 4, 2, 19, 18, 42)
    assert rec.updated_at == utc(2007, 7, 24, 20, 10, 27)
    assert rec.abstract.startswith("A fully differential calculation in perturbative quantum chromodynamics")
    assert rec.abstract.endswith("judicious selection of events.")


def test_abs_old_style_and_continuation_lines() -> None:
    rec = parse_abs((HARVEST / "abs" / "9709111.abs").read_bytes())
    assert rec.arxiv_id == "hep-th/9709111" and rec.version == 3
    assert rec.authors == ["Andrea Brignole", "Ferruccio Feruglio", "Fabio Zwirner"]  # affiliations dropped
    assert rec.categories == ["hep-th", "hep-ph"]
    assert rec.comment == (
        "12 pages, 1 figure, plain LaTeX. An important proof added in section 5. Final version to be published in JHEP"
    )
    assert rec.journal_ref == "JHEP 9711:001,1997"
    assert rec.doi == "10.1088/1126-6708/1997/11/001"

    turbiner = parse_abs((HARVEST / "abs" / "9301001.abs").read_bytes())
    assert turbiner.arxiv_id == "funct-an/9301001"
    assert turbiner.categories == ["funct-an", "math.OA"]
    assert turbiner.published_at == utc(1993, 1, 16, 11, 49, 26)
    assert turbiner.journal_ref is not None and turbiner.journal_ref.startswith(
        r"in {\em Lie algebras, cohomologies and new findings in quantum mechanics} (N. Kamran"
    )
    assert turbiner.journal_ref.endswith("vol. 160, pp. 263--310, 1994")

    carter = parse_abs((HARVEST / "abs" / "0704.0389.abs").read_bytes())
    assert carter.version == 8
    assert carter.authors == ["Eanna E. Flanagan", "Tanja Hinderer"]
    assert carter.doi == "10.1103/PhysRevD.75.124007"  # the first of the field's three DOIs

    v5 = parse_abs((HARVEST / "abs" / "2101.10016v5.abs").read_bytes())
    assert v5.version == 5 and v5.authors[-1] == "Claudia Pinzari" and len(v5.authors) == 4


def test_abs_tex_accent_in_authors() -> None:
    rec = parse_abs((HARVEST / "abs" / "1607.08199.abs").read_bytes())
    assert rec.authors == ["Marcello Bernardara", "Emanuele Macrì", "Benjamin Schmidt", "Xiaolei Zhao"]


def test_abs_latin1_bytes_are_decoded() -> None:
    rec = parse_abs((HARVEST / "abs" / "1607.08199.abs").read_bytes())
    assert rec.journal_ref == "Épijournal de Géométrie Algébrique, Volume 1 (September 1, 2017) epiga:3255"


def test_abs_authors_with_a_serial_comma() -> None:
    rec = parse_abs((HARVEST / "abs" / "0704.0148.abs").read_bytes())
    assert rec.authors == ["J. H. Jiang", "Y. Y. Wang", "M. W. Wu"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        bytes(range(256)) * 4,
        b"<html><body>Not Found</body></html>",
        b"arXiv:0704.0001\nTitle: \n\\\\\n abstract\n\\\\\n",  # no title
        b"arXiv:not-an-id\nTitle: T\n\\\\\n abstract\n\\\\\n",
        b"arXiv:0704.0001\nDate: yesterday\nTitle: T\n\\\\\n abstract\n\\\\\n",
        b"arXiv:0704.0001\nDate (revised v10000): Mon, 2 Apr 2007 19:18:42 GMT\nTitle: T\n\\\\\n a\n\\\\\n",
        b"arXiv:0704.0001\nTitle: T\n" + b"x" * MAX_ABS_BYTES,
    ],
    ids=["empty", "text", "binary", "html", "no-title", "bad-id", "bad-date", "version-too-big", "too-large"],
)
def test_abs_garbage_is_a_record_error(data: bytes) -> None:
    with pytest.raises(RecordError):
        parse_abs(data)


# --- make_record: the clean-up every parser shares ------------------------------------------------------


def test_make_record_cleans_text_and_finds_links() -> None:
    rec = make_record(
        arxiv_id="2501.01234",
        version=2,
        title="  A\n  wrapped   title ",
        abstract="Line one\nline two.\n  New paragraph: code at https://github.com/o/r.",
        comment="12 pages,\n  project page: https://o.github.io/p",
        authors=["A. One"],
        source="test",
    )
    assert rec.title == "A wrapped title"
    assert rec.abstract == "Line one line two.\n\nNew paragraph: code at https://github.com/o/r."
    assert rec.comment == "12 pages, project page: https://o.github.io/p"
    assert (rec.code_urls, rec.project_url) == (["https://github.com/o/r"], "https://o.github.io/p")
    assert (rec.withdrawn, rec.categories, rec.feed_entries, rec.source) == (False, [], [], "test")


def test_make_record_fills_every_field() -> None:
    """make_record builds the record positionally: each value must land in its own field."""
    values: dict[str, Any] = {
        "arxiv_id": "2501.01234",
        "version": 3,
        "title": "The title",
        "abstract": "The abstract.",
        "authors": ["A. One"],
        "categories": ["cs.LG"],
        "comment": "The comment",
        "journal_ref": "J. Ref. 1",
        "doi": "10.1/x",
        "published_at": utc(2025, 1, 1),
        "updated_at": utc(2025, 2, 1),
        "upvotes": 7,
        "feed_entries": [(date(2025, 1, 2), utc(2025, 1, 2))],
        "source": "test",
        "code_url": "https://github.com/o/r",
        "project_url": "https://example.org/p",
        "withdrawn": True,
    }
    rec = make_record(**values)
    expected = {k: v for k, v in values.items() if k != "code_url"} | {"code_urls": [values["code_url"]]}
    assert {name: getattr(rec, name) for name in expected} == expected
    assert set(expected) == set(PaperRecord.__dataclass_fields__)


@pytest.mark.parametrize("title", [None, "", " \n\t "])
def test_make_record_rejects_an_empty_title(title: str | None) -> None:
    with pytest.raises(RecordError, match=r"^2501\.01234: empty title$"):
        make_record(arxiv_id="2501.01234", version=None, title=title, abstract=None, authors=[], source="t")


def test_make_record_withdrawal_and_the_links_a_source_names() -> None:
    def record(abstract: str, **named: Any) -> PaperRecord:
        return make_record(
            arxiv_id="2501.01234", version=None, title="T", abstract=abstract, authors=[], source="t", **named
        )

    notice = "This paper has been withdrawn by the authors."
    assert record(notice).withdrawn is True
    assert record("", comment=notice).withdrawn is True
    assert record(notice, withdrawn=False).withdrawn is False  # what the source says wins
    assert record("Fine.", withdrawn=True).withdrawn is True
    rec = record(
        "Code: https://github.com/a/b and https://github.com/o/r; project page https://a.github.io/x",
        code_url="https://github.com/o/r",
        project_url="https://example.org/p",
    )
    assert rec.code_urls == ["https://github.com/o/r", "https://github.com/a/b"]
    assert rec.project_url == "https://example.org/p"


def test_the_file_parsers_share_the_clean_up() -> None:
    title, abstract = "  A\n  wrapped title", "One\ntwo https://github.com/o/r.\n  Two."
    records = [
        parse_listing({"id": "2501.01234", "title": title, "summary": abstract}),
        parse_kaggle({"id": "2501.01234", "title": title, "abstract": abstract}),
        parse_hub_item(
            {"paper": {"id": "2501.01234", "title": title, "summary": abstract}}, date(2025, 1, 2)
        ),
    ]
    assert {(r.title, r.abstract, tuple(r.code_urls)) for r in records} == {
        ("A wrapped title", "One two https://github.com/o/r.\n\nTwo.", ("https://github.com/o/r",))
    }


# --- featuring policy ---------------------------------------------------------------------------------


def _candidates() -> list[PaperRecord]:
    """Three real RSS records with their feed entry: a cross-list, a cs.CL paper, a cs.CV paper."""
    by_id = {rec.arxiv_id: rec for rec, _ in rss_records(RSS_FILE)}
    picked = [by_id["2606.28778"], by_id["2606.28457"], by_id["2606.28371"]]
    assert [r.categories for r in picked] == [["cs.IT", "cs.AI", "eess.SP"], ["cs.CL"], ["cs.CV"]]
    return copy.deepcopy(picked)


def _allowed(features: str, policy: str) -> bool:
    return (features == ANNOUNCEMENT and policy in ("all", "arxiv-new")) or (
        features == COMMUNITY and policy in ("all", "community")
    )


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("features", [ANNOUNCEMENT, COMMUNITY, NO_FEATURES])
def test_policy_without_category_filter(features: str, policy: str) -> None:
    records = _candidates()
    kept = apply_policy(records, features, policy)
    assert kept == records and all(a is b for a, b in zip(kept, records))  # changed in place, same order
    expected = [(LISTING_DAY, LISTING_AT)] if _allowed(features, policy) else []
    assert [r.feed_entries for r in kept] == [expected] * 3


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("features", [ANNOUNCEMENT, COMMUNITY, NO_FEATURES])
def test_policy_with_category_filter(features: str, policy: str) -> None:
    records = _candidates()
    kept = apply_policy(records, features, policy, categories=["cs.CL", "cs.AI"])
    featured = [bool(r.feed_entries) for r in kept]
    if not _allowed(features, policy):
        assert featured == [False, False, False]
    elif features == ANNOUNCEMENT:
        # The cross-list (cs.AI among its categories) and the cs.CL paper; not the cs.CV one.
        assert featured == [True, True, False]
    else:
        # A community feed's days are the community's choice: categories do not filter them.
        assert featured == [True, True, True]


def test_policy_on_real_hub_and_oai_records() -> None:
    day = date(2026, 8, 17)
    hub = [
        parse_hub_item(i, day)
        for i in parse_hub_page((HARVEST / "hub" / "2026-08-17.json").read_bytes()).entries
    ]
    assert all(r.feed_entries for r in apply_policy(copy.deepcopy(hub), COMMUNITY, "community", ["math.CO"]))
    assert not any(r.feed_entries for r in apply_policy(copy.deepcopy(hub), COMMUNITY, "arxiv-new"))
    oai = [r for _, r in oai_records() if r is not None]
    assert apply_policy(oai, NO_FEATURES, "all") == oai and not any(r.feed_entries for r in oai)


def test_policy_keeps_records_without_entries_untouched() -> None:
    rec = PaperRecord(arxiv_id="0704.0001", title="T", categories=["hep-ph"])
    assert apply_policy([rec], ANNOUNCEMENT, "all", ["cs.LG"]) == [rec]


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="unknown feature policy 'everything'"):
        apply_policy(_candidates(), ANNOUNCEMENT, "everything")
    with pytest.raises(ValueError, match="unknown feature policy"):
        apply_policy([], COMMUNITY, "")


# --- the announcement calendar ------------------------------------------------------------------------


def eastern(*args: int) -> datetime:
    return datetime(*args, tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("submitted", "listed"),
    [
        # Monday 2026-06-29, around the 14:00 EDT cut-off (18:00 UTC).
        (eastern(2026, 6, 29, 13, 59, 59), date(2026, 6, 30)),
        (eastern(2026, 6, 29, 14, 0, 0), date(2026, 7, 1)),
        (utc(2026, 6, 29, 17, 59, 59), date(2026, 6, 30)),
        (utc(2026, 6, 29, 18, 0, 0), date(2026, 7, 1)),
        (eastern(2026, 6, 29, 0, 0, 0), date(2026, 6, 30)),
        # Thursday before the cut-off: Friday's listing; after it: Friday's cut-off, Monday's listing.
        (eastern(2026, 7, 2, 13, 0), date(2026, 7, 3)),
        (eastern(2026, 7, 2, 15, 0), date(2026, 7, 6)),
        # Friday before the cut-off: Sunday evening's announcement, Monday's listing; after: Tuesday.
        (eastern(2026, 7, 3, 13, 59), date(2026, 7, 6)),
        (eastern(2026, 7, 3, 14, 0), date(2026, 7, 7)),
        (eastern(2026, 7, 3, 23, 59), date(2026, 7, 7)),
        # The weekend waits for Monday's cut-off: Tuesday's listing.
        (eastern(2026, 7, 4, 9, 0), date(2026, 7, 7)),
        (eastern(2026, 7, 5, 23, 59), date(2026, 7, 7)),
        # Sunday 23:30 EDT is already Monday in UTC: still the weekend in New York.
        (utc(2026, 7, 6, 3, 30), date(2026, 7, 7)),
        # Other time zones and naive datetimes (taken as UTC).
        (datetime(2026, 6, 30, 2, 59, tzinfo=timezone(timedelta(hours=9))), date(2026, 6, 30)),
        (datetime(2026, 6, 30, 3, 0, tzinfo=timezone(timedelta(hours=9))), date(2026, 7, 1)),
        (datetime(2026, 6, 29, 18, 0), date(2026, 7, 1)),
    ],
)
def test_announcement_day(submitted: datetime, listed: date) -> None:
    assert announcement_day(submitted) == listed


@pytest.mark.parametrize(
    ("submitted", "listed"),
    [
        # Winter (EST, UTC-5): the cut-off is 19:00 UTC.
        (utc(2026, 3, 2, 18, 30), date(2026, 3, 3)),
        (utc(2026, 3, 2, 19, 0), date(2026, 3, 4)),
        # DST starts Sunday 2026-03-08: the weekend before goes out on Tuesday.
        (utc(2026, 3, 7, 12, 0), date(2026, 3, 10)),
        (eastern(2026, 3, 8, 3, 0), date(2026, 3, 10)),
        # Summer (EDT, UTC-4) from then on: the cut-off is 18:00 UTC.
        (utc(2026, 3, 9, 18, 30), date(2026, 3, 11)),
        (utc(2026, 3, 9, 17, 59), date(2026, 3, 10)),
        # DST ends Sunday 2026-11-01: Friday after the cut-off (EDT) → Tuesday; Monday 13:30 EST → Tuesday.
        (utc(2026, 10, 30, 18, 30), date(2026, 11, 3)),
        (utc(2026, 11, 2, 18, 30), date(2026, 11, 3)),
        (utc(2026, 11, 2, 19, 0), date(2026, 11, 4)),
    ],
)
def test_announcement_day_across_daylight_saving_changes(submitted: datetime, listed: date) -> None:
    assert announcement_day(submitted) == listed


def test_announcement_day_is_always_a_later_weekday() -> None:
    start = utc(2026, 2, 27)
    for hour in range(0, 24 * 21, 1):  # three weeks, spanning the March DST change
        submitted = start + timedelta(hours=hour)
        day = announcement_day(submitted)
        local = submitted.astimezone(EASTERN).date()
        assert day.weekday() < 5 and local < day <= local + timedelta(days=4)


@pytest.mark.parametrize(
    ("day", "at"),
    [
        (date(2026, 6, 30), utc(2026, 6, 30, 4, 0)),  # EDT
        (date(2026, 12, 1), utc(2026, 12, 1, 5, 0)),  # EST
        (date(2026, 3, 9), utc(2026, 3, 9, 4, 0)),  # the Monday after DST starts
        (date(2026, 11, 2), utc(2026, 11, 2, 5, 0)),  # the Monday after DST ends
    ],
)
def test_listing_time_is_midnight_eastern_in_utc(day: date, at: datetime) -> None:
    result = listing_time(day)
    assert result == at and result.tzinfo is UTC
    assert result.astimezone(EASTERN).replace(tzinfo=None) == datetime(day.year, day.month, day.day)
