"""Build tests/data/harvest from real recorded data (a developer tool; the tests never run it).

- arxiv-api/: the 20 recorded export.arxiv.org/api/query exchanges, copied as they are.
- abs/: a selection of arXiv's own .abs files (arxiv-browse test data), copied as they are.
- oai/: OAI-PMH ListRecords pages in arXiv's metadata format (http://arxiv.org/OAI/arXiv/),
  written from the 200 real Kaggle-snapshot records in tests/data (no real OAI page was available:
  the envelope follows the OAI-PMH 2.0 spec and arXiv's schema; every value is the real record's).
- rss/: an RSS 2.0 and an Atom announcement feed for cs.AI+cs.CL+cs.CV+cs.LG of 2026-06-30,
  written the way arXiv's feed service (github.com/arXiv/arxiv-feed) serializes them, from the real
  listing of that day (tests/data/listing-cs_2026-06-30.jsonl): new items for papers whose
  primary category is followed, cross items for the others, and replace items for the Kaggle
  records that have a second version.
- hub/: five consecutive days of real Hub /api/daily_papers captures (2026-08-17 … 2026-08-21).

Usage: python scripts/build_harvest_fixtures.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "harvest"
FEED_CATS = ["cs.AI", "cs.CL", "cs.CV", "cs.LG"]
HUB_DAYS = ["2026-08-17", "2026-08-18", "2026-08-19", "2026-08-20", "2026-08-21"]
ABS_PICK = [
    "0704.0001",
    "0704.0002",
    "0704.0010",
    "0704.0374",
    "0704.0840",
    "2101.10016",
    "9301001",
    "9709111",
]


def copy_api(shared: Path) -> None:
    out = OUT / "arxiv-api"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((shared / "format-fixtures" / "atom-api-arxiv.py").glob("*.json")):
        shutil.copy(path, out / path.name)


def copy_abs(shared: Path) -> None:
    out = OUT / "abs"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(shared / "format-fixtures" / "abs-files-arxiv-browse" / "abs_files.tar.gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".abs")]
        picked = [m for m in members if Path(m.name).stem in ABS_PICK]
        # Every withdrawn paper and every paper with 5+ versions too: the edge cases.
        for m in members:
            data = tar.extractfile(m).read()  # type: ignore[union-attr]
            if m not in picked and (b"withdrawn" in data.lower() or b"(revised v5)" in data):
                picked.append(m)
        for m in picked:
            (out / Path(m.name).name).write_bytes(tar.extractfile(m).read())  # type: ignore[union-attr]


def _kaggle() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "tests" / "data" / "kaggle-sample200.jsonl").open()]


def _oai_record(rec: dict) -> str:
    from email.utils import parsedate_to_datetime

    versions = rec.get("versions") or []
    created = parsedate_to_datetime(versions[0]["created"]).date().isoformat() if versions else None
    updated = parsedate_to_datetime(versions[-1]["created"]).date().isoformat() if len(versions) > 1 else None
    authors = "".join(
        "<author><keyname>{}</keyname>{}{}</author>".format(
            escape(p[0]),
            f"<forenames>{escape(p[1])}</forenames>" if len(p) > 1 and p[1] else "",
            f"<suffix>{escape(p[2])}</suffix>" if len(p) > 2 and p[2] else "",
        )
        for p in rec.get("authors_parsed") or []
    )
    optional = "".join(
        f"<{tag}>{escape(rec[key])}</{tag}>"
        for tag, key in (
            ("comments", "comments"),
            ("report-no", "report-no"),
            ("journal-ref", "journal-ref"),
            ("doi", "doi"),
            ("license", "license"),
        )
        if rec.get(key)
    )
    archive = rec["categories"].split()[0].split(".")[0]
    return (
        f"<record><header><identifier>oai:arXiv.org:{rec['id']}</identifier>"
        f"<datestamp>{rec['update_date']}</datestamp><setSpec>{escape(archive)}</setSpec></header>"
        f'<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{rec["id"]}</id>'
        + (f"<created>{created}</created>" if created else "")
        + (f"<updated>{updated}</updated>" if updated else "")
        + f"<authors>{authors}</authors><title>{escape(rec['title'])}</title>"
        f"<categories>{escape(rec['categories'])}</categories>{optional}"
        f"<abstract>{escape(rec['abstract'])}</abstract></arXiv></metadata></record>"
    )


def build_oai() -> None:
    out = OUT / "oai"
    out.mkdir(parents=True, exist_ok=True)
    records = [_oai_record(r) for r in _kaggle()]
    # arXiv lists a removed record as a header with status="deleted" and no metadata.
    records.append(
        '<record><header status="deleted"><identifier>oai:arXiv.org:0704.9999</identifier>'
        "<datestamp>2008-11-13</datestamp><setSpec>physics</setSpec></header></record>"
    )
    size = 50
    pages = [records[i : i + size] for i in range(0, len(records), size)]
    for n, page in enumerate(pages):
        last = n == len(pages) - 1
        token = "" if last else f"6960524|{(n + 1) * size}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
            'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n<responseDate>2026-11-30T10:00:00Z</responseDate>\n'
            '<request verb="ListRecords" metadataPrefix="arXiv">http://export.arxiv.org/oai2</request>\n<ListRecords>\n'
            + "\n".join(page)
            + f'\n<resumptionToken cursor="{n * size}" completeListSize="{len(records)}">{token}</resumptionToken>\n'
            "</ListRecords>\n</OAI-PMH>\n"
        )
        (out / f"page-{n + 1:03d}.xml").write_text(body)


def _rss_items() -> list[dict]:
    items = []
    seen = set()
    for line in (ROOT / "tests" / "data" / "listing-cs_2026-06-30.jsonl").open():
        rec = json.loads(line)
        # The scrape lists some papers twice (a cross-list under each category); the feed once.
        if rec["id"] in seen or not set(rec["categories"]) & set(FEED_CATS):
            continue
        seen.add(rec["id"])
        if not set(rec["categories"]) & set(FEED_CATS):
            continue
        kind = "new" if rec["categories"][0] in FEED_CATS else "cross"
        items.append(
            {
                "id": rec["id"],
                "v": 1,
                "type": kind,
                "title": rec["title"],
                "abstract": rec["summary"],
                "authors": rec["authors"],
                "cats": rec["categories"],
                "doi": None,
                "jref": None,
            }
        )
    for rec in _kaggle():
        if len(rec.get("versions") or []) >= 2:
            names = [" ".join(x for x in (p[1], p[0]) if x) for p in rec["authors_parsed"]]
            items.append(
                {
                    "id": rec["id"],
                    "v": len(rec["versions"]),
                    "type": "replace",
                    "title": " ".join(rec["title"].split()),
                    "abstract": " ".join(rec["abstract"].split()),
                    "authors": names,
                    "cats": rec["categories"].split(),
                    "doi": rec.get("doi"),
                    "jref": rec.get("journal-ref"),
                }
            )
            if sum(1 for i in items if i["type"] == "replace") >= 10:
                break
    return items


def build_rss() -> None:
    from datetime import datetime, timedelta, timezone

    out = OUT / "rss"
    out.mkdir(parents=True, exist_ok=True)
    midnight = datetime(2026, 6, 30, 0, 0, tzinfo=timezone(timedelta(hours=-4)))
    stamp = format_datetime(midnight)
    cats = "+".join(FEED_CATS)
    items = _rss_items()
    rss = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n<channel>\n'
        f"<title>{', '.join(FEED_CATS)} updates on arXiv.org</title>\n<link>http://rss.arxiv.org/rss/{cats}</link>\n"
        f"<description>{', '.join(FEED_CATS)} updates on the arXiv.org e-print archive.</description>\n"
        f'<atom:link href="https://rss.arxiv.org/rss/{cats}" rel="self" type="application/rss+xml"/>\n'
        "<docs>http://www.rssboard.org/rss-specification</docs>\n<language>en-us</language>\n"
        f"<lastBuildDate>{stamp}</lastBuildDate>\n<managingEditor>rss-help@arxiv.org</managingEditor>\n"
        f"<pubDate>{stamp}</pubDate>\n<skipDays>\n<day>Saturday</day>\n<day>Sunday</day>\n</skipDays>\n"
    ]
    atom = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">\n'
        f"<id>http://rss.arxiv.org/atom/{cats}</id>\n<title>{', '.join(FEED_CATS)} updates on arXiv.org</title>\n"
        f"<updated>{midnight.isoformat()}</updated>\n"
        f'<link href="http://rss.arxiv.org/atom/{cats}" rel="self" type="application/atom+xml"/>\n'
    ]
    for it in items:
        full = f"{it['id']}v{it['v']}"
        desc = f"arXiv:{full} Announce Type: {it['type']} \nAbstract: {it['abstract']}"
        extra = (f"<arxiv:DOI>{escape(it['doi'])}</arxiv:DOI>\n" if it["doi"] else "") + (
            f"<arxiv:journal_reference>{escape(it['jref'])}</arxiv:journal_reference>\n" if it["jref"] else ""
        )
        creator = escape(", ".join(it["authors"]))
        rss.append(
            f"<item>\n<title>{escape(it['title'])}</title>\n<link>https://arxiv.org/abs/{it['id']}</link>\n"
            f'<description>{escape(desc)}</description>\n<guid isPermaLink="false">oai:arXiv.org:{full}</guid>\n'
            + "".join(f"<category>{escape(c)}</category>\n" for c in it["cats"])
            + f"<pubDate>{stamp}</pubDate>\n<arxiv:announce_type>{it['type']}</arxiv:announce_type>\n"
            "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
            + extra
            + f"<dc:creator>{creator}</dc:creator>\n</item>\n"
        )
        atom.append(
            f"<entry>\n<id>oai:arXiv.org:{full}</id>\n<title>{escape(it['title'])}</title>\n"
            f"<updated>{midnight.isoformat()}</updated>\n"
            f'<link href="https://arxiv.org/abs/{it["id"]}" rel="alternate" type="text/html"/>\n'
            f"<summary>{escape(desc)}</summary>\n"
            + "".join(
                f'<category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>\n' for c in it["cats"]
            )
            + f"<published>{midnight.isoformat()}</published>\n<arxiv:announce_type>{it['type']}</arxiv:announce_type>\n"
            "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
            + extra
            + f"<dc:creator>{creator}</dc:creator>\n</entry>\n"
        )
    rss.append("</channel>\n</rss>\n")
    atom.append("</feed>\n")
    name = "_".join(FEED_CATS)
    (out / f"rss-{name}.xml").write_text("".join(rss))
    (out / f"atom-{name}.xml").write_text("".join(atom))
    # A day without an announcement (weekend / holiday): the channel and no items.
    (out / "rss-empty-day.xml").write_text(
        "".join(rss[:1]).replace(stamp, "Sat, 04 Jul 2026 00:00:00 -0400") + "</channel>\n</rss>\n"
    )


def copy_hub(shared: Path) -> None:
    out = OUT / "hub"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(shared / "hf-daily-papers" / "raw" / "newsletter-chinese-all-versions.tar.gz") as tar:
        members = sorted(m.name for m in tar.getmembers() if m.isfile())
        for day in HUB_DAYS:
            # The last capture of the day (the upvotes grow during the day).
            name = [m for m in members if Path(m).name.startswith(day + "@")][-1]
            (out / f"{day}.json").write_bytes(tar.extractfile(name).read())  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    copy_api(args.shared)
    copy_abs(args.shared)
    build_oai()
    build_rss()
    copy_hub(args.shared)
    for sub in sorted(OUT.iterdir()):
        print(f"{sub.relative_to(ROOT)}: {len(list(sub.iterdir()))} files")


if __name__ == "__main__":
    main()
