"""ingest.files and .formats on the real recorded files: detection, parsing, Hub variants, rejections."""

from __future__ import annotations

import ast
import gzip
import io
import json
import shutil
from collections import Counter
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.files import ParsedFile, UnreadableFile, detect_jsonl_format, open_binary, read_file
from dailypapers.ingest.formats import HF_DAILY, KAGGLE, LISTING, parse_hub_item, parse_kaggle, parse_listing
from dailypapers.ingest.records import RecordError, Rejected

UTC = UTC
HUB = "hub"


def read(path: Path) -> tuple[ParsedFile, list[PaperRecord], list[Rejected]]:
    stream, raw = open_binary(path)
    with raw:
        parsed = read_file(path, stream)
        items = list(parsed.records)
    records = [r for r in items if isinstance(r, PaperRecord)]
    rejected = [r for r in items if isinstance(r, Rejected)]
    assert len(records) + len(rejected) == len(items)
    return parsed, records, rejected


def lines(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def hub_doc_items(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    items = doc["data"] if isinstance(doc, dict) else doc
    return [ast.literal_eval(i) if isinstance(i, str) else i for i in items]


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


# --- arXiv listing JSONL ---------------------------------------------------------------------


def test_listing_day_cs(data: Path) -> None:
    path = data / "listing-cs_2026-06-30.jsonl"
    parsed, records, rejected = read(path)
    raw = lines(path)
    assert parsed.format == LISTING and parsed.note is None
    assert rejected == []
    assert len(records) == len(raw) == 674
    # Cross-lists appear more than once in one day's scrape.
    assert len({r.arxiv_id for r in records}) == 532
    for rec, obj in zip(records, raw, strict=True):
        assert rec.arxiv_id == obj["id"]
        assert rec.source == LISTING
        assert rec.title == " ".join(obj["title"].split())
        assert rec.authors == obj["authors"]
        assert rec.categories == obj["categories"]
        assert rec.comment == (" ".join(obj["comment"].split()) if obj["comment"] else None)
        assert rec.version is None  # the scrape's abs/pdf links carry no version
        assert rec.upvotes is None
        assert rec.published_at is None and rec.doi is None
        assert "\n\n\n" not in rec.abstract and not rec.abstract.startswith(" ")


def test_listing_day_cs_first_record(data: Path) -> None:
    _, records, _ = read(data / "listing-cs_2026-06-30.jsonl")
    first = records[0]
    assert first.arxiv_id == "2606.28729"
    assert first.title == "Convertible Codes: MSR-to-MSR Conversion with Optimal Access and Bandwidth"
    assert first.authors == ["Yumeng Yang", "Han Cai", "Xianfu Lei", "Xiaohu Tang"]
    assert first.categories == ["cs.IT"]
    assert first.abstract.count("\n\n") == 1  # the scrape's indented second paragraph


def test_listing_links_and_withdrawals(data: Path) -> None:
    _, records, _ = read(data / "listing-cs_2026-06-30.jsonl")
    by_id = {r.arxiv_id: r for r in records}
    assert by_id["2606.28589"].code_urls == ["https://github.com/tianlwang/DynaSteer"]
    assert by_id["2606.28622"].project_url == "https://danielxu9393.github.io/meshtryoshka-website/"
    assert by_id["2606.28692"].code_urls == ["https://github.com/mims-harvard/ATHENA"]
    assert by_id["2606.28692"].project_url == "https://athena.openscientist.ai"
    assert sum(bool(r.code_urls) for r in by_id.values()) > 50
    assert not any(r.withdrawn for r in records)


def test_listing_day_cl_with_pdf_suffix_and_soft_wraps(data: Path) -> None:
    path = data / "listing-cl_2025-09-18.jsonl"
    parsed, records, rejected = read(path)
    raw = lines(path)
    assert parsed.format == LISTING and rejected == []
    assert len(records) == 162
    assert all(obj["pdf"].endswith(".pdf") for obj in raw)
    assert all("\n" in obj["summary"] for obj in raw)
    first = records[0]
    assert first.arxiv_id == "2509.13323"
    assert first.abstract.startswith(
        'We discuss the three main areas comprising the new and emerging field of "AI Behavioral Science". '
        "This includes not only how AI can enhance research in the behavioral sciences"
    )
    assert "\n" not in first.abstract
    assert first.categories == ["cs.HC", "econ.GN", "q-fin.EC"]


def test_listing_day_file_features_its_papers_on_the_day_in_its_name(data: Path) -> None:
    _, records, _ = read(data / "listing-cs_2026-06-30.jsonl")
    assert all([d for d, _ in r.feed_entries] == [date(2026, 6, 30)] for r in records)


def test_listing_corpus_gz(data: Path) -> None:
    path = data / "listing-cs-unique-300.jsonl.gz"
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    parsed, records, rejected = read(path)
    raw = lines(path)
    assert parsed.format == LISTING and rejected == []
    assert len(records) == 300 == len({r.arxiv_id for r in records})
    for rec, obj in zip(records, raw, strict=True):
        assert rec.arxiv_id == obj["id"]
        # listing_dates may repeat a day; each day is one feed entry, at midnight UTC.
        days = sorted({date.fromisoformat(d) for d in obj["listing_dates"]})
        assert rec.feed_entries == [(d, midnight(d)) for d in days]
    assert Counter(len(r.feed_entries) for r in records) == {1: 300}
    assert {d for r in records for d, _ in r.feed_entries} == {date(2025, 3, 18)}


def test_gzip_and_plain_give_the_same_records(data: Path, tmp_path: Path) -> None:
    plain = tmp_path / "corpus.jsonl"
    plain.write_bytes(gzip.decompress((data / "listing-cs-unique-300.jsonl.gz").read_bytes()))
    _, from_gz, _ = read(data / "listing-cs-unique-300.jsonl.gz")
    _, from_plain, _ = read(plain)
    assert from_gz == from_plain
    # A gzip file without a .gz name is still detected by its magic bytes.
    disguised = tmp_path / "kaggle.jsonl"
    disguised.write_bytes(gzip.compress((data / "kaggle-sample200.jsonl").read_bytes()))
    _, from_disguised, _ = read(disguised)
    assert from_disguised == read(data / "kaggle-sample200.jsonl")[1]


def test_parse_listing_versions_from_links() -> None:
    base = {"id": "2501.01234", "title": "T", "summary": "S"}
    assert parse_listing(base).version is None
    assert parse_listing(base | {"id": "2501.01234v3"}).version == 3
    assert parse_listing(base | {"abs": "https://arxiv.org/abs/2501.01234v2"}).version == 2
    assert parse_listing(base | {"pdf": "https://arxiv.org/pdf/2501.01234v4"}).version == 4
    assert parse_listing(base | {"pdf": "https://arxiv.org/pdf/2501.01234.pdf"}).version is None


def test_parse_listing_single_listing_date_and_upvotes() -> None:
    rec = parse_listing({"id": "2501.01234", "title": "T", "listing_date": "2025-01-21", "upvotes": 4})
    assert rec.feed_entries == [(date(2025, 1, 21), midnight(date(2025, 1, 21)))]
    assert rec.upvotes == 4


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"title": "T"}, "missing id"),
        ({"id": "", "title": "T"}, "missing id"),
        ({"id": 2501.01234, "title": "T"}, "missing id"),
        ({"id": "not-an-id", "title": "T"}, "not an arXiv id"),
        ({"id": "2501.01234"}, "missing title"),
        ({"id": "2501.01234", "title": "   "}, "empty title"),
        ({"id": "2501.01234", "title": ["T"]}, "title is list"),
        ({"id": "2501.01234", "title": "T", "summary": 3}, "summary is int"),
        ({"id": "2501.01234", "title": "T", "authors": [1, 2]}, "authors must be a list of strings"),
        ({"id": "2501.01234", "title": "T", "listing_dates": "2025-01-01"}, "listing_dates must be a list"),
        ({"id": "2501.01234", "title": "T", "listing_dates": ["yesterday"]}, "not a YYYY-MM-DD date"),
        ({"id": "2501.01234", "title": "T", "listing_dates": [20250101]}, "not a date string"),
        ({"id": "2501.01234", "title": "T", "upvotes": "3"}, "upvotes must be an integer"),
        ({"id": "2501.01234", "title": "T", "upvotes": True}, "upvotes must be an integer"),
    ],
)
def test_parse_listing_rejects(obj: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_listing(obj)


# --- Kaggle arxiv-metadata-oai-snapshot ------------------------------------------------------


def test_kaggle_sample(data: Path) -> None:
    path = data / "kaggle-sample200.jsonl"
    parsed, records, rejected = read(path)
    raw = lines(path)
    assert parsed.format == KAGGLE and parsed.note is None and rejected == []
    assert len(records) == 200 == len({r.arxiv_id for r in records})
    for rec, obj in zip(records, raw, strict=True):
        assert rec.arxiv_id == obj["id"]
        assert rec.source == KAGGLE
        numbers = [int(v["version"][1:]) for v in obj["versions"]]
        assert rec.version == max(numbers) == len(numbers)
        assert rec.published_at is not None and rec.published_at.tzinfo is not None
        if len(numbers) > 1:
            assert rec.updated_at is not None and rec.updated_at > rec.published_at
        else:
            assert rec.updated_at is None
        assert rec.doi == (obj["doi"].split()[0] if obj["doi"] else None)  # the first of several DOIs
        assert rec.journal_ref == (obj["journal-ref"] or None)
        assert rec.categories == obj["categories"].split()
        assert rec.feed_entries == [] and rec.upvotes is None
        assert len(rec.authors) == len(obj["authors_parsed"])
        assert (
            rec.abstract and not rec.abstract.startswith(" ") and "\n" not in rec.abstract.replace("\n\n", "")
        )
    assert Counter(r.version for r in records) == {1: 113, 2: 59, 3: 20, 4: 5, 5: 3}
    assert sum(r.doi is not None for r in records) == 117
    assert sum(r.journal_ref is not None for r in records) == 109


def test_kaggle_first_record(data: Path) -> None:
    rec = read(data / "kaggle-sample200.jsonl")[1][0]
    assert rec.arxiv_id == "0704.0001"
    assert rec.version == 2
    assert (
        rec.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert rec.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert rec.updated_at == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert rec.doi == "10.1103/PhysRevD.76.013009"
    assert rec.journal_ref == "Phys.Rev.D76:013009,2007"
    assert rec.comment == "37 pages, 15 figures; published version"
    assert rec.categories == ["hep-ph"]
    assert rec.authors[0] == "C. Balázs"
    assert rec.withdrawn is False


def test_kaggle_withdrawn_record(data: Path) -> None:
    records = {r.arxiv_id: r for r in read(data / "kaggle-sample200.jsonl")[1]}
    assert [k for k, r in records.items() if r.withdrawn] == ["0704.0156"]


@pytest.mark.parametrize(
    ("arxiv_id", "authors"),
    [
        ("0704.0001", ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]),
        ("0704.0028", ["Péter E. Frenkel"]),
        ("0704.0032", ["A. Esteban-Pretel", "R. Tomàs", "J. W. F. Valle"]),
        ("0704.0049", ["Mikkel Øbro"]),
        ("0704.0062", ["Rastislav Šrámek", "Broňa Brejová", "Tomáš Vinař"]),
    ],
)
def test_kaggle_tex_accents_in_author_names_are_decoded(
    data: Path, arxiv_id: str, authors: list[str]
) -> None:
    obj = next(o for o in lines(data / "kaggle-sample200.jsonl") if o["id"] == arxiv_id)
    assert "\\" in obj["authors"]
    # Without authors_parsed the TeX `authors` string is split and decoded.
    without_parsed = {k: v for k, v in obj.items() if k != "authors_parsed"}
    assert parse_kaggle(without_parsed).authors == authors
    assert not any("\\" in a or "{" in a for a in parse_kaggle(obj).authors)


def test_kaggle_tex_author_that_decodes_to_nothing_is_dropped(data: Path) -> None:
    obj = next(o for o in lines(data / "kaggle-sample200.jsonl") if o["id"] == "0704.0001")
    obj = {k: v for k, v in obj.items() if k != "authors_parsed"}
    assert parse_kaggle({**obj, "authors": "C. Bal\\'azs, {}, E. L. Berger"}).authors == [
        "C. Balázs",
        "E. L. Berger",
    ]


def test_kaggle_versions_edge_cases(data: Path) -> None:
    obj = next(o for o in lines(data / "kaggle-sample200.jsonl") if o["id"] == "0704.0001")
    # No versions list: the id's own version (if any) is used and there is no date.
    rec = parse_kaggle({**obj, "versions": [], "id": "0704.0001v5"})
    assert (rec.version, rec.published_at, rec.updated_at) == (5, None, None)
    # Versions out of order: the highest number wins.
    shuffled = [obj["versions"][1], obj["versions"][0]]
    assert parse_kaggle({**obj, "versions": shuffled}).version == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"versions": "v1"}, "versions must be a list"),
        ({"versions": [{"created": "Mon, 2 Apr 2007 19:18:42 GMT"}]}, "versions entries must look like"),
        ({"versions": ["v1"]}, "versions entries must look like"),
        ({"versions": [{"version": "vX", "created": ""}]}, "bad version"),
        ({"versions": [{"version": "v1", "created": "2 April 2007"}]}, "not an RFC 2822 date"),
        ({"authors_parsed": [["A", "B"], "C"]}, "authors_parsed entries must be lists"),
        ({"doi": 10}, "doi is int"),
        ({"journal-ref": ["x"]}, "journal-ref is list"),
        ({"comments": {"a": 1}}, "comments is dict"),
        ({"id": "0704.0001/x"}, "not an arXiv id"),
        ({"title": None}, "missing title"),
    ],
)
def test_parse_kaggle_rejects(data: Path, change: dict[str, Any], reason: str) -> None:
    obj = next(o for o in lines(data / "kaggle-sample200.jsonl") if o["id"] == "0704.0001")
    with pytest.raises(RecordError, match=reason):
        parse_kaggle({**obj, **change})


def test_kaggle_non_string_author_parts_are_a_record_error(data: Path) -> None:
    obj = next(o for o in lines(data / "kaggle-sample200.jsonl") if o["id"] == "0704.0001")
    with pytest.raises(RecordError):
        parse_kaggle({**obj, "authors_parsed": [["Balázs", 7, ""]]})


# --- Hugging Face Hub daily_papers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count", "day"),
    [
        ("newsletter-chinese_2025-03-10.json", 13, date(2025, 3, 10)),
        ("pushpaper_2025-03-10.json", 24, date(2025, 3, 10)),
        ("newsletter-chinese_2026-08-21.json", 17, date(2026, 8, 21)),
        ("newsletter-chinese_2024-12-11_python-repr-items.json", 26, date(2024, 12, 11)),
        ("newsletter-chinese_2025-01-10_wrapped-dict.json", 9, date(2025, 1, 10)),
    ],
)
def test_hub_files(data: Path, name: str, count: int, day: date) -> None:
    path = data / HUB / name
    parsed, records, rejected = read(path)
    items = hub_doc_items(path)
    assert parsed.format == HF_DAILY and parsed.note is None and rejected == []
    assert len(records) == len(items) == count
    for rec, item in zip(records, items, strict=True):
        paper = item["paper"]
        assert rec.source == HF_DAILY
        assert rec.arxiv_id == paper["id"]
        assert rec.upvotes == paper["upvotes"]
        assert rec.authors == [
            " ".join(a["name"].split()) for a in paper["authors"] if a.get("name", "").strip()
        ]
        assert rec.title == " ".join(paper["title"].split())
        assert [d for d, _ in rec.feed_entries] == [day]
        assert rec.feed_entries[0][1].tzinfo is not None
        assert rec.published_at == datetime.fromisoformat(paper["publishedAt"].replace("Z", "+00:00"))
        if paper.get("githubRepo"):
            assert rec.code_urls[0] == paper["githubRepo"]
        if paper.get("projectPage"):
            assert rec.project_url == paper["projectPage"]


def test_hub_github_repo_is_the_first_code_link(data: Path) -> None:
    records = {r.arxiv_id: r for r in read(data / HUB / "newsletter-chinese_2025-03-10.json")[1]}
    rec = records["2503.05236"]
    assert rec.code_urls == ["https://github.com/CodeGoat24/UnifiedReward"]
    assert rec.project_url == "https://codegoat24.github.io/UnifiedReward/"
    assert rec.upvotes == 65
    items = hub_doc_items(data / HUB / "newsletter-chinese_2026-08-21.json")
    with_repo = [i for i in items if i["paper"].get("githubRepo")]
    assert with_repo
    by_id = {r.arxiv_id: r for r in read(data / HUB / "newsletter-chinese_2026-08-21.json")[1]}
    for item in with_repo:
        assert by_id[item["paper"]["id"]].code_urls[0] == item["paper"]["githubRepo"]


def test_hub_same_day_from_two_bots(data: Path) -> None:
    a = {r.arxiv_id: r for r in read(data / HUB / "newsletter-chinese_2025-03-10.json")[1]}
    b = {r.arxiv_id: r for r in read(data / HUB / "pushpaper_2025-03-10.json")[1]}
    common = set(a) & set(b)
    assert len(common) == 13
    for arxiv_id in common:
        assert a[arxiv_id].title == b[arxiv_id].title
        assert [d for d, _ in a[arxiv_id].feed_entries] == [d for d, _ in b[arxiv_id].feed_entries]
    # The captures were taken at different times: the later one has more upvotes.
    assert (a["2503.05236"].upvotes, b["2503.05236"].upvotes) == (65, 87)


def test_hub_feed_day_from_submitted_on_daily_at_beats_the_file_name(data: Path, tmp_path: Path) -> None:
    src = data / HUB / "newsletter-chinese_2026-08-21.json"
    items = hub_doc_items(src)
    assert all(i["paper"]["submittedOnDailyAt"].startswith("2026-08-21") for i in items)
    for name in ("copy_2020-01-01.json", "copy.json"):
        copy = tmp_path / name
        shutil.copy(src, copy)
        records = read(copy)[1]
        assert {d for r in records for d, _ in r.feed_entries} == {date(2026, 8, 21)}
        assert all(r.feed_entries[0][1] == datetime(2026, 8, 21, tzinfo=UTC) for r in records)


def test_hub_feed_day_from_the_file_name(data: Path, tmp_path: Path) -> None:
    src = data / HUB / "newsletter-chinese_2025-03-10.json"
    assert not any("submittedOnDailyAt" in i["paper"] for i in hub_doc_items(src))
    copy = tmp_path / "daily_2025-03-11.json"
    shutil.copy(src, copy)
    records = read(copy)[1]
    assert {d for r in records for d, _ in r.feed_entries} == {date(2025, 3, 11)}
    # The item's own publishedAt is on another day, so the feature time is midnight.
    assert all(r.feed_entries[0][1] == midnight(date(2025, 3, 11)) for r in records)


def test_hub_featured_at_from_item_published_at_on_the_file_day(data: Path) -> None:
    path = data / HUB / "newsletter-chinese_2024-12-11_python-repr-items.json"
    items = hub_doc_items(path)
    records = read(path)[1]
    for rec, item in zip(records, items, strict=True):
        listed = datetime.fromisoformat(item["publishedAt"].replace("Z", "+00:00"))
        expected = listed if listed.date() == date(2024, 12, 11) else midnight(date(2024, 12, 11))
        assert rec.feed_entries == [(date(2024, 12, 11), expected)]
    assert records[0].feed_entries[0][1] == datetime(2024, 12, 11, 1, 2, 25, 688000, tzinfo=UTC)


def test_hub_wrapped_dict_day_comes_from_the_document(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "wrapped.json"
    shutil.copy(data / HUB / "newsletter-chinese_2025-01-10_wrapped-dict.json", copy)
    parsed, records, rejected = read(copy)
    assert rejected == [] and len(records) == 9
    assert {d for r in records for d, _ in r.feed_entries} == {date(2025, 1, 10)}


def test_hub_without_any_day_uses_the_item_published_at(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "nodate.json"
    shutil.copy(data / HUB / "pushpaper_2025-03-10.json", copy)
    items = hub_doc_items(copy)
    records = read(copy)[1]
    for rec, item in zip(records, items, strict=True):
        listed = datetime.fromisoformat(item["publishedAt"].replace("Z", "+00:00"))
        assert rec.feed_entries == [(listed.date(), listed)]


def test_hub_no_data_dict_is_zero_records_with_a_note(data: Path) -> None:
    parsed, records, rejected = read(data / HUB / "newsletter-chinese_2025-01-11_no-data.json")
    assert parsed.format == HF_DAILY
    assert records == [] and rejected == []
    assert parsed.note is not None
    assert "no_data" in parsed.note and "No papers found for this date" in parsed.note


def test_hub_placeholder_is_zero_records_with_a_note(data: Path) -> None:
    path = data / HUB / "newsletter-chinese_2024-06-01_placeholder.json"
    assert path.read_bytes().strip() == b"1"
    parsed, records, rejected = read(path)
    assert records == [] and rejected == []
    assert parsed.note is not None and "placeholder" in parsed.note


def test_hub_single_paper_object(data: Path, tmp_path: Path) -> None:
    item = hub_doc_items(data / HUB / "newsletter-chinese_2025-03-10.json")[0]
    path = tmp_path / "one_2025-03-10.json"
    path.write_text(json.dumps(item))
    parsed, records, rejected = read(path)
    assert parsed.format == HF_DAILY and rejected == []
    assert [r.arxiv_id for r in records] == ["2503.05236"]


def test_hub_items_as_json_lines(data: Path, tmp_path: Path) -> None:
    # One Hub item per line: each needs its own day (submittedOnDailyAt or publishedAt).
    items = hub_doc_items(data / HUB / "newsletter-chinese_2026-08-21.json")
    path = tmp_path / "hub.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    parsed, records, rejected = read(path)
    assert parsed.format == HF_DAILY and rejected == []
    assert len(records) == 17
    assert {d for r in records for d, _ in r.feed_entries} == {date(2026, 8, 21)}


def test_hub_bad_items_are_rejected_with_their_index(data: Path, tmp_path: Path) -> None:
    items: list[Any] = hub_doc_items(data / HUB / "newsletter-chinese_2025-03-10.json")[:3]
    bad_id = json.loads(json.dumps(items[0]))
    bad_id["paper"]["id"] = "nonsense"
    items = [items[0], "not a python literal {", 42, bad_id, items[1], {"paper": "x"}, items[2]]
    path = tmp_path / "mixed_2025-03-10.json"
    path.write_text(json.dumps(items))
    _, records, rejected = read(path)
    assert len(records) == 3
    assert [(r.line, r.path) for r in rejected] == [
        (2, str(path)),
        (3, str(path)),
        (4, str(path)),
        (6, str(path)),
    ]
    assert "item 2: item is a string but not a Python literal" in rejected[0].reason
    assert "item 3: item is int, expected an object" == rejected[1].reason
    assert "not an arXiv id" in rejected[2].reason
    assert "paper is not an object" in rejected[3].reason


@pytest.mark.parametrize(
    ("paper", "reason"),
    [
        ({"title": "T"}, "missing id"),
        ({"id": "2501.01234"}, "missing title"),
        ({"id": "2501.01234", "title": "T", "authors": "A, B"}, "authors must be a list"),
        ({"id": "2501.01234", "title": "T", "upvotes": "5"}, "upvotes must be an integer"),
        ({"id": "2501.01234", "title": "T", "upvotes": 2.5}, "upvotes must be an integer"),
        ({"id": "2501.01234", "title": "T", "submittedOnDailyAt": "today"}, "not an ISO date"),
        ({"id": "2501.01234", "title": "T", "submittedOnDailyAt": 5}, "not a string"),
        ({"id": "2501.01234", "title": "T"}, "no submission day"),
    ],
)
def test_parse_hub_item_rejects(paper: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_hub_item({"paper": paper})


def test_parse_hub_item_negative_upvotes_are_zero() -> None:
    rec = parse_hub_item({"paper": {"id": "2501.01234", "title": "T", "upvotes": -3}}, date(2025, 1, 2))
    assert rec.upvotes == 0
    assert rec.feed_entries == [(date(2025, 1, 2), midnight(date(2025, 1, 2)))]


def test_parse_hub_item_python_repr_string() -> None:
    item = repr({"paper": {"id": "2501.01234v2", "title": "T", "upvotes": 3, "authors": [{"name": "A  B"}]}})
    rec = parse_hub_item(item, date(2025, 1, 2))
    assert (rec.arxiv_id, rec.version, rec.upvotes, rec.authors) == ("2501.01234", 2, 3, ["A B"])


@pytest.mark.parametrize("item", ["{[1]: 2}", "{{'paper': 1}}", "{1, [2]}"])
def test_python_repr_with_unhashable_keys_is_a_record_error(item: str) -> None:
    with pytest.raises(RecordError):
        parse_hub_item(item, date(2025, 1, 2))


# --- detection and whole-file errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "fmt"),
    [
        ({"paper": {}}, HF_DAILY),
        ({"id": "x", "versions": []}, KAGGLE),
        ({"authors_parsed": []}, KAGGLE),
        ({"submitter": "x"}, KAGGLE),
        ({"journal-ref": None}, KAGGLE),
        ({"id": "x", "abstract": "y"}, KAGGLE),
        ({"id": "x", "summary": "y"}, LISTING),
        ({"listing_dates": []}, LISTING),
        ({"listing_date": "2025-01-01"}, LISTING),
        ({"id": "x"}, None),
        ({}, None),
    ],
)
def test_detect_jsonl_format(obj: dict[str, Any], fmt: str | None) -> None:
    assert detect_jsonl_format(obj) == fmt


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON or JSON lines"),
        (b"\x00\x01\x02garbage\xff", "not JSON or JSON lines"),
        (b"id,title\n2501.01234,T\n", "not JSON or JSON lines"),
        (b'"just a string"', "unknown format"),
        (b"null", "unknown format"),
        (b"true", "unknown format"),
        (b'{\n  "unrelated": 1\n}', "unknown format"),
        (b'{\n  "data": {"x": 1}\n}', "'data' is not a list"),
        (b'{"unrelated": 1}', "unknown format"),
        (b'{"a": 1}\n{"b": 2}\n', "unknown format"),
    ],
)
def test_unreadable_content(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.json"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message):
        read(path)
    # The same through an in-memory stream without peek().
    with pytest.raises(UnreadableFile, match=message):
        read_file(path, io.BytesIO(content))


def test_jsonl_with_a_broken_first_line_is_still_jsonl(data: Path, tmp_path: Path) -> None:
    good = (data / "kaggle-sample200.jsonl").read_text().splitlines()[:3]
    path = tmp_path / "k.jsonl"
    path.write_text('{"id": "0704.0001", "title": \n' + "\n".join(good) + "\n")
    parsed, records, rejected = read(path)
    assert parsed.format == KAGGLE
    assert [r.arxiv_id for r in records] == ["0704.0001", "0704.0002", "0704.0003"]
    assert [r.line for r in rejected] == [1]
    assert rejected[0].reason.startswith("malformed JSON")


def test_impossible_date_in_a_hub_file_name(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "daily_2025-02-30.json"
    shutil.copy(data / HUB / "newsletter-chinese_2026-08-21.json", copy)
    _, records, _ = read(copy)
    assert len(records) == 17


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("newsletter-chinese_2025-01-10_wrapped-dict.json", 9),
        ("newsletter-chinese_2025-01-11_no-data.json", 0),
    ],
)
def test_compact_hub_documents(data: Path, tmp_path: Path, name: str, count: int) -> None:
    compact = tmp_path / name
    compact.write_text(json.dumps(json.loads((data / HUB / name).read_text())))
    assert compact.read_text().count("\n") == 0
    parsed, records, rejected = read(compact)
    assert parsed.format == HF_DAILY and rejected == []
    assert len(records) == count


def test_rejected_str() -> None:
    assert str(Rejected("f.jsonl", 7, "missing title")) == "f.jsonl:7: missing title"


def test_kaggle_author_string_affiliations_are_not_authors() -> None:
    rec = parse_kaggle(
        {
            "id": "0704.0001",
            "title": "T",
            "abstract": "x",
            "authors": "A. Smith (MIT, CSAIL (Boston)), B. Jones and C. Wu (Tsinghua U.)",
        }
    )
    assert rec.authors == ["A. Smith", "B. Jones", "C. Wu"]
