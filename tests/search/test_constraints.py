"""Search keeps its promises in every mode: author:, title:/abstract:, "phrases", -excluded words, cat:
and dates hold in keyword, vector and hybrid search; only plain words are softened by meaning (and the
page says so); a query no paper matches by words shows only papers above the similarity floor. On the
demo corpus's real vectors and the real default embedder, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from dailypapers.core.settings import Settings
from dailypapers.search.embed import get_embedder
from dailypapers.search.vectors import IndexConfig
from dailypapers.services.search import SearchOptions, search_papers, similar_papers
from dailypapers.store.db import Database
from dailypapers.store.tables import papers

MODES = ("keyword", "vector", "hybrid")


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return get_embedder("default")


def _options(embedder: Any, mode: str, **extra: Any) -> SearchOptions:
    return SearchOptions(mode, embedder, **extra)  # the automatic index: pgvector where the server has it


def _rows(db: Database, ids: list[str]) -> list[dict[str, Any]]:
    """The papers' text, authors, categories and date, read straight from the table."""
    when = sa.func.coalesce(papers.c.published_at, papers.c.first_featured_at, papers.c.created_at).label(
        "day"
    )
    with db.read() as conn:
        rows = {
            r.arxiv_id: r._asdict()
            for r in conn.execute(
                sa.select(
                    papers.c.arxiv_id,
                    papers.c.title,
                    papers.c.abstract,
                    papers.c.authors,
                    papers.c.categories,
                    when,
                ).where(papers.c.arxiv_id.in_(ids))
            )
        }
    return [rows[i] for i in ids]


def _tokens(text: str) -> str:
    """Lower-case words separated by single spaces: what a phrase check needs (FTS ignores punctuation)."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def _has(text: str, pattern: str) -> bool:
    return re.search(pattern, _tokens(text)) is not None


def _everything(row: dict[str, Any]) -> str:
    return f"{row['title']} {row['abstract']} {' '.join(row['authors'])}"


def _search(db: Database, raw: str, options: SearchOptions, page_size: int = 30) -> Any:
    result = search_papers(db, raw, page_size=page_size, options=options)
    assert result.total >= len(result.papers)
    return result


# Each constraint: a query, and what every result must satisfy (a necessary condition, checked on the
# table's own text: stemming may match more forms, never fewer).
CONSTRAINTS: list[tuple[str, Any]] = [
    ('learning author:"Hao Zhang"', lambda r: _has(" ".join(r["authors"]), r" hao zhang ")),
    ("video title:diffusion", lambda r: _has(r["title"], r" diffus")),
    ("model abstract:benchmark", lambda r: _has(r["abstract"], r" benchmark")),
    ('"language model" reasoning', lambda r: _has(f"{r['title']} {r['abstract']}", r" languag\w* model")),
    ("diffusion -image", lambda r: not _has(_everything(r), r" images? ")),
    ('learning -"reinforcement learning"', lambda r: not _has(_everything(r), r" reinforcement learning ")),
    ("speech cat:cs.CL", lambda r: "cs.CL" in r["categories"]),
    ("detection -cat:cs.CV", lambda r: "cs.CV" not in r["categories"]),
    (
        "language models after:2026-06-15 before:2026-06-20",
        lambda r: date(2026, 6, 15) <= date.fromisoformat(str(r["day"])[:10]) <= date(2026, 6, 20),
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("raw", "holds"), CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_every_constraint_holds_in_every_mode(
    demo_db: Database, embedder, mode: str, raw: str, holds: Any
) -> None:  # type: ignore[no-untyped-def]
    result = _search(demo_db, raw, _options(embedder, mode), page_size=100)
    assert result.papers, f"{raw!r} should find papers in {mode} mode"
    broken = [r["title"] for r in _rows(demo_db, [p.arxiv_id for p in result.papers]) if not holds(r)]
    assert broken == [], f"{raw!r} ({mode}): {len(broken)} of {len(result.papers)} results break it"


def test_an_author_query_lists_only_that_authors_papers(demo_db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: author:"Hao Zhang" gave 117 results in hybrid mode, 15 of page 1 his."""
    keyword = _search(demo_db, 'author:"Hao Zhang"', _options(embedder, "keyword"), page_size=100)
    assert 5 <= keyword.total <= 100
    for mode in ("vector", "hybrid"):
        result = _search(demo_db, 'author:"Hao Zhang"', _options(embedder, mode), page_size=100)
        assert result.total == keyword.total
        assert {p.arxiv_id for p in result.papers} == {p.arxiv_id for p in keyword.papers}


def test_phrases_stay_required_when_no_paper_has_every_word(demo_db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    """Keyword search falls back to any of the words when no paper has them all: only the plain ones;
    quoted phrases and fields stay required."""
    raw = '"language model" protein xyzzyplughqwerty'
    result = _search(demo_db, raw, _options(embedder, "keyword"), page_size=100)
    assert "no paper has all the words: papers with any of them" in result.notes
    assert result.papers
    for row in _rows(demo_db, [p.arxiv_id for p in result.papers]):
        assert _has(f"{row['title']} {row['abstract']}", r" languag\w* model"), row["title"]
    # Not one paper beyond those with the phrase (before: 1,764, the phrase OR protein OR xyzzy...).
    assert result.total <= _search(demo_db, '"language model"', _options(embedder, "keyword")).total


def test_hybrid_says_when_it_softens_plain_words(demo_db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    raw = "contrastive learning"
    keyword = _search(demo_db, raw, _options(embedder, "keyword"))
    rows = _rows(demo_db, [p.arxiv_id for p in keyword.papers])
    assert keyword.papers and all(
        _has(_everything(r), r" contrast") and _has(_everything(r), r" learn") for r in rows
    )
    hybrid = _search(demo_db, raw, _options(embedder, "hybrid"), page_size=100)
    lacking = [
        r["title"]
        for r in _rows(demo_db, [p.arxiv_id for p in hybrid.papers])
        if not (_has(_everything(r), r" contrast") and _has(_everything(r), r" learn"))
    ]
    softened = [n for n in hybrid.notes if n.startswith("some results lack some of the words")]
    assert lacking and softened, (lacking, hybrid.notes)
    # Those found by the vector list carry their similarity.
    assert hybrid.similarity and set(hybrid.similarity) <= {p.arxiv_id for p in hybrid.papers}
    assert all(-1.0 <= s <= 1.0 for s in hybrid.similarity.values())
    # A page on which every paper has every word says nothing of the kind.
    narrow = _search(demo_db, '"contrastive learning" title:contrastive', _options(embedder, "hybrid"))
    assert narrow.papers and not [n for n in narrow.notes if n.startswith("some results lack")]


@pytest.mark.parametrize("mode", MODES)
def test_a_word_no_paper_has_finds_nothing(demo_db: Database, embedder, mode: str) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: xyzzyplughqwerty gave "100 papers" in hybrid mode (keyword mode: 0)."""
    result = _search(demo_db, "xyzzyplughqwerty", _options(embedder, mode))
    assert (result.total, result.papers) == (0, [])
    if mode != "keyword":
        assert "no paper has these words, and none is close in meaning" in result.notes


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_without_word_matches_only_papers_above_the_floor_are_shown(
    demo_db: Database, embedder, mode: str
) -> None:  # type: ignore[no-untyped-def]
    options = _options(embedder, mode)
    everything = _search(demo_db, "xyzzyplughqwerty", replace(options, similarity_floor=-1.0))
    assert everything.total == 100 and len(everything.papers) == 30
    assert "no paper has these words: papers close in meaning (similarity ≥ -1)" in everything.notes
    scores = [everything.similarity[p.arxiv_id] for p in everything.papers]
    assert scores == sorted(scores, reverse=True)
    # A floor between two of those scores keeps exactly the papers above it.
    floor = (scores[9] + scores[10]) / 2
    some = _search(demo_db, "xyzzyplughqwerty", replace(options, similarity_floor=floor))
    assert [p.arxiv_id for p in some.papers] == [p.arxiv_id for p in everything.papers[:10]]
    assert some.total == 10 and all(s >= floor for s in some.similarity.values())
    # Constraints still hold among them.
    filtered = _search(demo_db, "xyzzyplughqwerty cat:cs.CL", replace(options, similarity_floor=-1.0))
    assert filtered.papers and all("cs.CL" in p.categories for p in filtered.papers)


def test_the_default_floor_is_the_setting(embedder) -> None:  # type: ignore[no-untyped-def]
    from dailypapers.services.search import search_options

    settings = Settings(database_url="sqlite://", search_similarity_floor=0.42)
    assert search_options(settings, "vector").similarity_floor == 0.42
    assert SearchOptions().similarity_floor == Settings.model_fields["search_similarity_floor"].default


# --- connections: never wait for a second one while holding one ---------------------------------------


def test_search_and_similar_need_one_connection_at_a_time(demo_db: Database, embedder) -> None:  # type: ignore[no-untyped-def]
    """With a pool of one connection, hybrid search (whose vector list runs in another thread) and
    similar papers still answer: no code path holds a connection while it waits for another. Before,
    hybrid search held one while its vector thread waited for a second: a pool timeout here, a
    deadlock under load."""
    small = Database(demo_db.url, pool_size=1, pool_overflow=0, pool_timeout=5.0)
    try:
        for mode in MODES:
            for raw in (
                "contrastive learning",
                "diffusion -image cat:cs.CV",
                'author:"Hao Zhang"',
                "xyzzyplughqwerty",
            ):
                assert search_papers(small, raw, options=_options(embedder, mode)).mode in MODES
        with small.read() as conn:
            some = conn.execute(
                sa.select(papers.c.arxiv_id).order_by(papers.c.arxiv_id).limit(1)
            ).scalar_one()
        for kind in ("exact", "auto"):  # auto: pgvector where the server has it
            assert len(similar_papers(small, some, embedder, config=IndexConfig(kind=kind))) == 10
    finally:
        small.dispose()
