"""Citation exports (.bib and .ris) of a paper, a feed period, a search and a member's public upvotes, on
SQLite and PostgreSQL: content (parsed back by bibtexparser and rispy), media types, inline
Content-Disposition, 304, the spellings of an id, 400 and 404 problems, and that the pages keep their
addresses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import bibtexparser
import pytest
import rispy
from fastapi.testclient import TestClient

from dailypapers.core.citations import latex_value, plain_line
from dailypapers.core.models import PaperRecord
from dailypapers.core.settings import Settings
from dailypapers.services import accounts
from dailypapers.services import votes as vote_service
from dailypapers.services.search import MAX_QUERY_CHARS
from dailypapers.store.db import Database
from dailypapers.store.papers import write_batch
from dailypapers.web.app import create_app

NOW = datetime(2030, 1, 8, 12, tzinfo=UTC)
DAY = date(2030, 1, 7)  # a Monday: week 2030-W02, after the demo corpus
PASSWORD = "correct horse battery staple 42"
BIBTEX = "application/x-bibtex; charset=utf-8"
RIS = "application/x-research-info-systems; charset=utf-8"
OLD = "hep-th/9901001"
FIRST, SECOND = "2912.00001", "2912.00002"
HOSTILE_TITLE = "String theory at 50% {coupling"
HOSTILE_ABSTRACT = "Line one\nER  - fake\n\n  Para two with $x_{i}$ and @misc{evil, } \\"


@dataclass
class Site:
    client: TestClient
    db: Database
    frank: int  # the member id of frank, whose upvotes are private


@pytest.fixture(scope="module")
def site(demo_db: Database) -> Iterator[Site]:
    """The demo corpus plus three papers featured on DAY (an old-style id with a journal reference and
    hostile text, two whose keys collide) and two members who upvoted some, erin in public."""
    settings = Settings(database_url=demo_db.url, page_size=30)
    featured = [(DAY, datetime(2030, 1, 7, tzinfo=UTC))]
    write_batch(
        demo_db,
        [
            PaperRecord(
                arxiv_id=OLD,
                version=2,
                title=HOSTILE_TITLE,
                abstract=HOSTILE_ABSTRACT,
                authors=["Edward Witten", "Łukasz Müller"],
                categories=["hep-th", "math-ph"],
                journal_ref="Nucl.Phys.B 500 (1999) 3-42",
                doi="10.1016/S0550-3213(99)00001-1",
                comment="40 pages",
                published_at=datetime(1999, 1, 5, tzinfo=UTC),
                feed_entries=featured,
            ),
            PaperRecord(
                arxiv_id=FIRST,
                title="Attention {again}",
                authors=["Ashish Vaswani"],
                categories=["cs.CL"],
                upvotes=5,
                feed_entries=featured,
            ),
            PaperRecord(
                arxiv_id=SECOND, title="Attention again", authors=["Ashish Vaswani"], feed_entries=featured
            ),
        ],
        NOW,
    )
    erin = accounts.create_user(demo_db, settings, "erin", "erin@example.org", PASSWORD, "member", NOW)
    frank = accounts.create_user(demo_db, settings, "frank", "frank@example.org", PASSWORD, "member", NOW)
    vote_service.vote(demo_db, settings, erin, SECOND, True, NOW)
    vote_service.vote(demo_db, settings, erin, OLD, True, NOW + timedelta(hours=1))
    vote_service.vote(demo_db, settings, frank, FIRST, True, NOW)
    accounts.set_preferences(demo_db, erin.id, public_votes=True, notify_mentions=True, now=NOW)
    app = create_app(settings, demo_db)
    app.state.clock = lambda: NOW
    with TestClient(app) as client:
        yield Site(client, demo_db, frank.id)


def bib_entries(text: str) -> list[bibtexparser.model.Entry]:
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    return library.entries


def eprints(text: str) -> list[str]:
    return [e.fields_dict["eprint"].value for e in bib_entries(text)]


def assert_problem(answer, status: int, detail: str) -> None:
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_a_paper_as_bibtex(site: Site) -> None:
    answer = site.client.get(f"/papers/{OLD}.bib")
    assert answer.status_code == 200 and answer.headers["content-type"] == BIBTEX
    assert answer.headers["content-disposition"] == 'inline; filename="hep-th_9901001.bib"'
    assert answer.headers["cache-control"] == "public, max-age=60"
    [entry] = bib_entries(answer.text)
    fields = {f.key: f.value for f in entry.fields}
    assert entry.entry_type == "article" and entry.key == "witten1999string"
    assert fields == {
        "title": r"String theory at 50\% \{\vphantom{\}}coupling",
        "author": "Edward Witten and Łukasz Müller",
        "year": "1999",
        "month": "jan",
        "eprint": OLD,
        "archivePrefix": "arXiv",
        "primaryClass": "hep-th",
        "url": f"https://arxiv.org/abs/{OLD}",
        "journal": "Nucl.Phys.B 500 (1999) 3-42",
        "doi": "10.1016/S0550-3213(99)00001-1",
        "keywords": "hep-th, math-ph",
        "abstract": latex_value(HOSTILE_ABSTRACT),
        "comment": "40 pages",
    }


def test_a_paper_as_ris(site: Site) -> None:
    answer = site.client.get(f"/papers/{OLD}.ris")
    assert answer.status_code == 200 and answer.headers["content-type"] == RIS
    assert answer.headers["content-disposition"] == 'inline; filename="hep-th_9901001.ris"'
    [record] = rispy.loads(answer.text)
    assert record == {
        "type_of_reference": "JOUR",
        "id": "witten1999string",
        "title": HOSTILE_TITLE,
        "authors": ["Edward Witten", "Łukasz Müller"],
        "year": "1999",
        "date": "1999/01/05",
        "secondary_title": "Nucl.Phys.B 500 (1999) 3-42",
        "abstract": plain_line(HOSTILE_ABSTRACT),
        "doi": "10.1016/S0550-3213(99)00001-1",
        "urls": [f"https://arxiv.org/abs/{OLD}"],
        "file_attachments1": f"https://arxiv.org/pdf/{OLD}v2",
        "name_of_database": "arXiv",
        "accession_number": f"arXiv:{OLD}",
        "database_provider": "arXiv.org",
        "keywords": ["hep-th", "math-ph"],
        "notes": ["40 pages"],
    }


def test_every_spelling_of_an_id_gives_the_same_file(site: Site) -> None:
    paper = site.client.get("/papers/2512.10359.bib")
    assert eprints(paper.text) == ["2512.10359"]
    for spelling in ("2512.10359v1", "arXiv:2512.10359", "arxiv:2512.10359v1"):
        same = site.client.get(f"/papers/{spelling}.bib")
        assert same.status_code == 200 and same.content == paper.content
        assert same.headers["content-disposition"] == 'inline; filename="2512.10359.bib"'
    versioned = site.client.get(f"/papers/{OLD}v2.ris")
    assert versioned.status_code == 200 and versioned.content == site.client.get(f"/papers/{OLD}.ris").content


def test_missing_papers_are_404_problems(site: Site) -> None:
    assert_problem(site.client.get("/papers/2512.10359v2.bib"), 404, "version 2 of paper 2512.10359")
    assert_problem(site.client.get(f"/papers/{OLD}v3.ris"), 404, "version 3 of paper hep-th/9901001")
    assert_problem(site.client.get("/papers/2401.99999.ris"), 404, "paper 2401.99999 is not in this feed")
    assert_problem(site.client.get("/papers/nonsense.bib"), 404, "that is not an arXiv id")
    assert_problem(site.client.get("/papers/astro-ph/0000001.bib"), 404, "not in this feed")
    assert_problem(site.client.get(f"/papers/{'9' * 65}.bib"), 400, "arxiv_id")


def test_conditional_get(site: Site) -> None:
    first = site.client.get("/papers/2512.10359.bib")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.client.get("/papers/2512.10359.bib", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (
        site.client.get("/papers/2512.10359.bib", headers={"If-Modified-Since": modified}).status_code == 304
    )
    earlier = format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)
    assert (
        site.client.get("/papers/2512.10359.bib", headers={"If-Modified-Since": earlier}).status_code == 200
    )
    # A RIS file is another body with its own tag; lists have a tag and no time.
    ris = site.client.get("/papers/2512.10359.ris")
    assert ris.headers["etag"] != etag
    day = site.client.get("/papers/date/2030-01-07.ris")
    assert "last-modified" not in day.headers
    assert (
        site.client.get(
            "/papers/date/2030-01-07.ris", headers={"If-None-Match": day.headers["etag"]}
        ).status_code
        == 304
    )
    head = site.client.head("/papers/date/2030-01-07.ris")
    assert head.status_code == 200 and head.headers["etag"] == day.headers["etag"] and head.content == b""


def test_a_feed_day_holds_its_papers(site: Site) -> None:
    answer = site.client.get("/papers/date/2030-01-07.bib?sort=upvotes")
    assert answer.headers["content-type"] == BIBTEX
    assert answer.headers["content-disposition"] == 'inline; filename="papers-2030-01-07.bib"'
    entries = bib_entries(answer.text)
    # Most upvotes first (FIRST: 5 imported + 1); the colliding keys by arXiv id whatever the order.
    assert [e.fields_dict["eprint"].value for e in entries][0] == FIRST
    keys = {e.fields_dict["eprint"].value: e.key for e in entries}
    assert keys == {OLD: "witten1999string", FIRST: "vaswani2029attention", SECOND: "vaswani2029attentiona"}
    records = rispy.loads(site.client.get("/papers/date/2030-01-07.ris?sort=upvotes").text)
    assert [r["accession_number"] for r in records] == [
        f"arXiv:{e.fields_dict['eprint'].value}" for e in entries
    ]
    assert [r["id"] for r in records] == [e.key for e in entries]


@pytest.mark.parametrize(
    ("kind", "key"), [("date", "2026-06-30"), ("week", "2026-W26"), ("month", "2026-06")]
)
def test_periods_hold_what_their_feed_pages_hold(site: Site, kind: str, key: str) -> None:
    feed = site.client.get(f"/papers/{kind}/{key}.json?sort=newest").json()
    answer = site.client.get(f"/papers/{kind}/{key}.bib?sort=newest")
    assert answer.headers["content-disposition"] == f'inline; filename="papers-{key}.bib"'
    ids = eprints(answer.text)
    assert len(ids) == min(feed["total"], 2000) and len(set(ids)) == len(ids)
    assert ids[: len(feed["papers"])] == [p["arxiv_id"] for p in feed["papers"]]
    records = rispy.loads(site.client.get(f"/papers/{kind}/{key}.ris?sort=newest").text)
    assert [r["accession_number"] for r in records] == [f"arXiv:{i}" for i in ids]


def test_period_errors(site: Site) -> None:
    # A key that names no period is an address with nothing to export.
    assert_problem(site.client.get("/papers/date/2026-13-01.bib"), 404, "month must be in 1..12")
    assert_problem(site.client.get("/papers/week/2026-W99.ris"), 404, "2026-W99")
    assert_problem(site.client.get("/papers/date/2026-06-30.bib?sort=best"), 400, "sort")
    assert_problem(site.client.get("/papers/date/2026-06-30.bib?sort="), 400, "sort")
    assert_problem(site.client.get("/papers/date/2031-01-01.ris"), 404, "no papers were featured")


def test_a_search(site: Site) -> None:
    page = site.client.get("/search.json?q=contrastive+learning&mode=keyword").json()
    answer = site.client.get("/search.bib?q=contrastive+learning&mode=keyword")
    assert answer.status_code == 200 and answer.headers["content-type"] == BIBTEX
    assert answer.headers["content-disposition"] == 'inline; filename="search-contrastive-learning.bib"'
    ids = eprints(answer.text)
    assert len(ids) == min(page["total"], 200) and ids[:30] == [p["arxiv_id"] for p in page["papers"]]
    ris = site.client.get("/search.ris?q=contrastive+learning&mode=keyword")
    assert ris.headers["content-disposition"] == 'inline; filename="search-contrastive-learning.ris"'
    assert [r["accession_number"] for r in rispy.loads(ris.text)] == [f"arXiv:{i}" for i in ids]
    # An id as the query is that paper; a query nothing matches is an empty file.
    assert eprints(site.client.get(f"/search.bib?q={OLD}").text) == [OLD]
    nothing = site.client.get("/search.ris?q=zzqqxxnothing&mode=keyword")
    assert nothing.status_code == 200 and nothing.text == ""
    odd = site.client.get("/search.bib", params={"q": 'Ünïcode «quotes» "x"', "mode": "keyword"})
    assert odd.headers["content-disposition"] == 'inline; filename="search-unicode-quotes-x.bib"'


def test_search_errors(site: Site) -> None:
    assert_problem(site.client.get("/search.bib?q="), 400, "q: String should have at least 1 character")
    assert_problem(site.client.get("/search.ris?q=%20%20"), 400, "q: String should match pattern")
    assert_problem(site.client.get("/search.ris"), 400, "q: Field required")
    assert_problem(site.client.get("/search.bib?q=x&mode=magic"), 400, "mode")
    assert_problem(site.client.get("/search.bib?q=x&mode="), 400, "mode")
    assert_problem(site.client.get("/search.bib", params={"q": "x" * (MAX_QUERY_CHARS + 1)}), 400, "q")


def test_public_upvotes(site: Site) -> None:
    answer = site.client.get("/users/erin/upvotes.bib")
    assert answer.status_code == 200 and answer.headers["content-type"] == BIBTEX
    assert answer.headers["content-disposition"] == 'inline; filename="erin-upvotes.bib"'
    assert eprints(answer.text) == [OLD, SECOND]  # newest vote first
    ris = site.client.get("/users/ERIN/upvotes.ris")
    assert ris.headers["content-disposition"] == 'inline; filename="erin-upvotes.ris"'
    assert [r["accession_number"] for r in rispy.loads(ris.text)] == [f"arXiv:{OLD}", f"arXiv:{SECOND}"]


def test_private_upvotes_and_unknown_members_are_404(site: Site) -> None:
    for suffix in ("bib", "ris"):
        assert_problem(
            site.client.get(f"/users/frank/upvotes.{suffix}"), 404, "this member's upvotes are not public"
        )
        assert_problem(site.client.get(f"/users/nobody/upvotes.{suffix}"), 404, "no member called 'nobody'")
    assert_problem(site.client.get("/users/%3Cscript%3E/upvotes.bib"), 404, "no member called")
    # Made public, frank's list is there; made private again, it is gone.
    accounts.set_preferences(site.db, site.frank, public_votes=True, notify_mentions=True, now=NOW)
    assert eprints(site.client.get("/users/frank/upvotes.bib").text) == [FIRST]
    accounts.set_preferences(site.db, site.frank, public_votes=False, notify_mentions=True, now=NOW)
    assert site.client.get("/users/frank/upvotes.bib").status_code == 404


def test_the_pages_keep_their_addresses(site: Site) -> None:
    page = site.client.get("/papers/2512.10359")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert site.client.get("/papers/2512.10359.json").json()["arxiv_id"] == "2512.10359"
    assert site.client.get("/papers/date/2026-06-30.json").json()["kind"] == "date"
    assert site.client.get(f"/papers/{OLD}").status_code == 200


def test_the_schema_describes_every_export(site: Site) -> None:
    paths = site.client.get("/openapi.json").json()["paths"]
    for suffix, media_type in (
        ("bib", "application/x-bibtex"),
        ("ris", "application/x-research-info-systems"),
    ):
        for path in (
            f"/papers/{{arxiv_id}}.{suffix}",
            f"/papers/{{kind}}/{{key}}.{suffix}",
            f"/search.{suffix}",
            f"/users/{{username}}/upvotes.{suffix}",
        ):
            operation = paths[path]["get"]
            assert operation["tags"] == ["Export"] and operation["summary"]
            assert list(operation["responses"]["200"]["content"]) == [media_type]
            assert "304" in operation["responses"] and "400" in operation["responses"]
