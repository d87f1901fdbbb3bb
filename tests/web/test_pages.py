"""The feed and paper pages on the demo corpus: HTML and JSON, navigation, sorting, errors."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def corpus(corpus_path) -> list[dict]:
    with gzip.open(corpus_path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_home_is_the_latest_feed_day(client: TestClient, corpus: list[dict]) -> None:
    latest = max(d for r in corpus for d in r["listing_dates"])
    home = client.get("/", headers={"accept": "application/json"}).json()
    assert home["kind"] == "date" and home["key"] == latest
    expected = sum(1 for r in corpus if latest in r["listing_dates"])
    assert home["total"] == expected
    html = client.get("/")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert f"{expected:,} papers" in html.text


def test_json_suffix_and_accept_header_give_the_same_answer(client: TestClient) -> None:
    by_suffix = client.get("/papers/date/2026-06-30.json").json()
    by_header = client.get("/papers/date/2026-06-30", headers={"accept": "application/json"}).json()
    assert by_suffix == by_header
    assert by_suffix["label"] == "Tue, Jun 30, 2026"


def test_day_feed_lists_each_paper_of_the_day_once(client: TestClient, corpus: list[dict]) -> None:
    expected = {r["id"] for r in corpus if "2026-06-30" in r["listing_dates"]}
    seen: list[str] = []
    page = 1
    while True:
        body = client.get(f"/papers/date/2026-06-30.json?page={page}").json()
        seen += [p["arxiv_id"] for p in body["papers"]]
        if page >= body["pages"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected


@pytest.mark.parametrize("sort", ["trending", "upvotes", "newest"])
def test_sort_orders(client: TestClient, sort: str) -> None:
    papers = client.get(f"/papers/week/2026-W26.json?sort={sort}").json()["papers"]
    assert papers
    if sort == "upvotes":
        votes = [p["upvotes"] for p in papers]
        assert votes == sorted(votes, reverse=True)
    elif sort == "trending":
        scores = [p["trending_score"] for p in papers]
        assert scores == sorted(scores, reverse=True)
    else:
        times = [p["first_featured_at"] for p in papers]
        assert times == sorted(times, reverse=True)


def test_trending_puts_upvoted_papers_first_on_a_day(client: TestClient, corpus: list[dict]) -> None:
    day = "2026-06-30"
    top = client.get(f"/papers/date/{day}.json").json()["papers"][0]
    best = max((r.get("upvotes", 0), r["id"]) for r in corpus if day in r["listing_dates"] and
               min(r["listing_dates"]) == day)  # fmt: skip
    assert top["upvotes"] >= best[0] > 0


def test_previous_and_next_skip_days_without_papers(client: TestClient) -> None:
    monday = client.get("/papers/date/2026-06-29.json").json()
    # 2026-06-27/28 is a weekend: the previous feed day is Friday.
    assert monday["previous"]["key"] == "2026-06-26"
    assert monday["next"]["key"] == "2026-06-30"
    html = client.get("/papers/date/2026-06-29").text
    assert 'href="/papers/date/2026-06-26"' in html and 'href="/papers/date/2026-06-30"' in html


def test_week_and_month_views(client: TestClient) -> None:
    week = client.get("/papers/week/2026-W26.json").json()
    assert (week["start"], week["end"]) == ("2026-06-22", "2026-06-28")
    assert week["previous"]["key"] == "2026-W25" and week["next"]["key"] == "2026-W27"
    month = client.get("/papers/month/2026-06.json").json()
    assert month["total"] > week["total"] and month["next"]["key"] == "2026-07"
    assert month["views"]["date"]["key"] == "2026-06-30"


def test_card_shows_title_authors_votes_categories_excerpt_and_code(client: TestClient) -> None:
    body = client.get("/papers/month/2026-06.json?sort=upvotes").json()
    with_code = next(p for p in body["papers"] if p["code_url"])
    html = client.get("/papers/month/2026-06?sort=upvotes").text
    assert with_code["title"].split(":")[0] in html
    assert f'href="{with_code["code_url"]}"' in html
    card = body["papers"][0]
    assert card["authors_short"] and card["categories"] and card["excerpt"]
    assert f"<strong>{card['upvotes']}</strong>" in html


def test_paper_page_has_everything(client: TestClient, corpus: list[dict]) -> None:
    rec = next(r for r in corpus if "$" in r["summary"] and len(r["authors"]) > 5)
    page = client.get(f"/papers/{rec['id']}")
    assert page.status_code == 200
    for author in rec["authors"]:
        assert author.replace("'", "&#39;") in page.text
    assert "<math" in page.text  # LaTeX rendered as MathML on the server
    assert f'href="https://arxiv.org/abs/{rec["id"]}"' in page.text
    assert f'href="https://arxiv.org/pdf/{rec["id"]}"' in page.text
    data = client.get(f"/papers/{rec['id']}.json").json()
    assert data["authors"] == rec["authors"] and data["categories"][0] == rec["categories"][0]
    assert data["feed_days"] == sorted(rec["listing_dates"])


def test_paper_page_accepts_versions_and_urls_as_ids(client: TestClient, corpus: list[dict]) -> None:
    arxiv_id = corpus[0]["id"]
    assert client.get(f"/papers/{arxiv_id}v2.json").json()["arxiv_id"] == arxiv_id


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/papers/date/2026-13-01", 400, "month must be in 1..12"),
        ("/papers/date/20260630", 400, "expected YYYY-MM-DD"),
        ("/papers/week/2026-W60", 400, "invalid week"),
        ("/papers/month/2026-6", 400, "expected YYYY-MM"),
        ("/papers/date/2026-06-30?sort=best", 400, "invalid sort"),
        ("/papers/date/2026-06-30?page=0", 400, "invalid page"),
        ("/papers/date/2026-06-30?page=-1", 400, "invalid page"),
        ("/papers/date/2026-06-30?page=99999", 404, "does not exist"),
        ("/papers/date/2026-06-27", 404, "no papers were featured"),
        ("/papers/date/1999-01-01", 404, "no papers were featured"),
        ("/papers/9912.99999", 404, "not in this feed"),
        ("/papers/not-an-id", 400, "not an arXiv id"),
        ("/papers/%3Cscript%3E", 400, "not an arXiv id"),
        ("/papers/hep-th/9901001", 404, "not in this feed"),
        ("/no/such/page", 404, "no page at this address"),
    ],
)
def test_bad_input_gets_a_clear_error_never_a_500(client: TestClient, url: str, status: int, needle: str) -> None:
    page = client.get(url)
    assert page.status_code == status
    assert needle in page.text
    assert "<script>" not in page.text
    as_json = client.get(url, headers={"accept": "application/json"})
    assert as_json.status_code == status
    assert needle in as_json.json()["error"]["message"]


def test_pages_escape_paper_text(client: TestClient) -> None:
    # Titles and abstracts are rendered through autoescaping and nh3; no raw tag from data survives.
    html = client.get("/papers/month/2026-06?sort=newest").text
    assert not re.search(r"<(script|iframe|object)\b", html)


def test_dates_in_json_are_iso(client: TestClient) -> None:
    body = client.get("/papers/date/2026-06-30.json").json()
    assert date.fromisoformat(body["start"]) == date(2026, 6, 30)
