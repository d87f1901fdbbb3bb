"""search_papers: what the search page, /api/v1/search and `dailypapers search` call."""

from __future__ import annotations

import math
import re

import sqlalchemy as sa
from markupsafe import Markup, escape

from dailypapers.schemas import PaperCard, SearchPage
from dailypapers.search.keyword import keyword_search
from dailypapers.search.query import ParsedQuery, parse_query
from dailypapers.store import feed as feed_q
from dailypapers.store.db import Database
from dailypapers.store.tables import papers

MAX_PAGES = 100
MODES = ("keyword",)


def _exact_title_ids(conn: sa.Connection, query: ParsedQuery) -> list[str]:
    """Papers whose title is the query itself (case-insensitive): shown first."""
    text = query.raw.strip().strip('"').strip()
    if len(text) < 8 or not query.has_text:
        return []
    rows = conn.execute(sa.select(papers.c.arxiv_id).where(sa.func.lower(papers.c.title) == text.lower()).limit(5))
    return [r.arxiv_id for r in rows]


def search_papers(db: Database, raw: str, page: int = 1, page_size: int = 30, mode: str = "keyword") -> SearchPage:
    """Search: an arXiv id goes straight to that paper; otherwise keyword results, exact titles first."""
    query = parse_query(raw)
    page = min(max(page, 1), MAX_PAGES)
    ids: list[str]
    with db.read() as conn:
        if query.arxiv_id:
            ids = [query.arxiv_id] if conn.execute(
                sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id == query.arxiv_id)
            ).first() else []  # fmt: skip
            if not ids:
                query.notes.append(f"arXiv {query.arxiv_id} is not in this feed")
            total = len(ids)
        elif not query.has_text and not query.categories and not query.after and not query.before:
            ids, total = [], 0
        else:
            first = _exact_title_ids(conn, query) if page == 1 else []
            result = keyword_search(conn, query, limit=page_size, offset=(page - 1) * page_size)
            ids = first + [h.arxiv_id for h in result.hits if h.arxiv_id not in first]
            ids = ids[:page_size]
            total = result.total
        rows = {r["arxiv_id"]: r for r in feed_q.paper_cards(conn, ids)} if ids else {}
    return SearchPage(
        query=query.raw,
        mode=mode,
        notes=query.notes,
        matched_terms=query.highlight_words(),
        categories=query.categories,
        after=query.after,
        before=query.before,
        total=total,
        page=page,
        page_size=page_size,
        pages=max(1, min(MAX_PAGES, math.ceil(total / page_size))),
        papers=[PaperCard.from_row(rows[i]) for i in ids if i in rows],
    )


def highlight(text: str, words: list[str]) -> Markup:
    """`text` escaped, with words that start like a query word wrapped in <mark>."""
    if not words:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
