"""Keyword search, one interface over two backends: SQLite FTS5 and PostgreSQL full text.

- SQLite: the FTS5 table `papers_fts` (title, abstract, authors; porter stemming, diacritics folded),
  kept in step with `papers` by triggers (migration 0003), ranked by BM25 with the title weighted
  TITLE_WEIGHT times the abstract.
- PostgreSQL: the weighted tsvector PG_DOCUMENT (title A, abstract B, authors C), stored in the
  generated column papers.search_vector (migration 0005; ranking reads it instead of parsing every
  matching abstract again) with a GIN index, ranked by ts_rank (A 1.0, B 0.4, C 0.2).

Both take a ParsedQuery (search.query): required words and phrases, prefixes, exclusions, field
restrictions, category and date filters. A query with filters but no words lists the matching papers
by trending score. Scores are "higher is better" on each backend but not comparable across them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from dailypapers.search.query import ParsedQuery, Term
from dailypapers.store.tables import papers

TITLE_WEIGHT, ABSTRACT_WEIGHT, AUTHORS_WEIGHT = 2.0, 1.0, 1.0
# Keep in step with migrations 0003 and 0005 (the generated column papers.search_vector is exactly this).
PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, abstract), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, authors, '[\"string\"]'::jsonb), 'C')"
)
_PG_FIELDS = {
    "title": ("english", "papers.title_vector"),  # a stored generated column (migration 0006)
    "abstract": ("english", "to_tsvector('english'::regconfig, papers.abstract)"),
    "authors": ("simple", "jsonb_to_tsvector('simple'::regconfig, papers.authors, '[\"string\"]'::jsonb)"),
}


@dataclass(frozen=True)
class Hit:
    """A matching paper and its backend score (higher is better)."""

    arxiv_id: str
    score: float


@dataclass
class KeywordResult:
    hits: list[Hit]
    total: int
    total_capped: bool = False  # more than `total` papers match (the count stopped there)
    ranked_partly: bool = False  # too many matches to rank them all: title matches ranked, then trending


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _filters(query: ParsedQuery, dialect: str) -> list[Any]:
    """Category and date conditions on `papers`, for either backend (and for vector results)."""
    conditions: list[Any] = []
    if query.categories:
        if dialect == "postgresql":
            conditions.append(
                sa.or_(*[papers.c.categories.cast(JSONB).contains([c]) for c in query.categories])
            )
        else:
            each = sa.func.json_each(papers.c.categories).table_valued("value")
            conditions.append(
                sa.exists(sa.select(1).select_from(each).where(each.c.value.in_(query.categories)))
            )
    if query.excluded_categories:
        if dialect == "postgresql":
            conditions += [
                sa.not_(papers.c.categories.cast(JSONB).contains([c])) for c in query.excluded_categories
            ]
        else:
            each = sa.func.json_each(papers.c.categories).table_valued("value")
            conditions.append(
                sa.not_(
                    sa.exists(
                        sa.select(1).select_from(each).where(each.c.value.in_(query.excluded_categories))
                    )
                )
            )
    when = sa.func.coalesce(papers.c.published_at, papers.c.first_featured_at, papers.c.created_at)
    if query.after:
        conditions.append(when >= _day_start(query.after))
    if query.before:
        # `before:2024-12-31` includes that day (the parser keeps dates within 1900-2200).
        conditions.append(when < _day_start(query.before) + timedelta(days=1))
    return conditions


def term_conditions(conn: Connection, query: ParsedQuery, few: bool = False) -> list[Any]:
    """SQL conditions on `papers` true exactly for the papers that have every required term of
    `query` (in its field), none of its excluded ones, and pass its category/date filters: how vector
    results are held to the query's constraints. `few`: the conditions will be tried on a few given
    papers (SQLite then looks each one up in the keyword index instead of listing every match)."""
    dialect = conn.dialect.name
    conditions = _filters(query, dialect)
    positive = [t for t in query.terms if not t.negated]
    negative = [t for t in query.terms if t.negated]
    if dialect == "postgresql":
        for n, term in enumerate(query.terms):
            params: dict[str, Any] = {}
            # Parameter names unique within the statement the conditions join (w1000, w1001, ...).
            conditions.append(sa.text(_pg_term_match(term, 1000 + n, params)).bindparams(**params))
        return conditions
    for terms, name, keep in ((positive, "match_required", True), (negative, "match_excluded", False)):
        if not terms:
            continue
        expression = (" AND " if keep else " OR ").join(_fts_term(t) for t in terms)
        fts = sa.table("papers_fts", sa.column("rowid"))
        matching = sa.select(fts.c.rowid).where(
            sa.text(f"papers_fts MATCH :{name}").bindparams(**{name: expression})
        )
        rowid: sa.ColumnClause[Any] = sa.literal_column("papers.rowid")
        # FTS5 answers "MATCH and rowid = x" by seeking x in each posting list: cheap for a few papers;
        # for many, one pass over the matches (IN) is cheaper.
        condition = sa.exists(matching.where(fts.c.rowid == rowid)) if few else rowid.in_(matching)
        conditions.append(condition if keep else sa.not_(condition))
    return conditions


def matching_ids(conn: Connection, query: ParsedQuery, ids: list[str]) -> set[str]:
    """Those of `ids` that match every term and filter of `query` (see term_conditions)."""
    if not ids:
        return set()
    conditions = term_conditions(conn, query, few=True)
    if not conditions:
        return set(ids)
    return set(
        conn.execute(sa.select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(ids), *conditions)).scalars()
    )


# --- SQLite FTS5 ----------------------------------------------------------------------------------


def _fts_term(term: Term) -> str:
    # Words come from search.query's word pattern (letters, digits, inner . ' -): no double quote
    # can reach the expression, and everything is quoted, so FTS5 operators in text are plain words.
    expr = '"' + " ".join(term.words) + '"'
    if term.prefix:
        expr += " *"
    if term.field:
        expr = f"{term.field} : {expr}"
    return expr


def fts5_expression(query: ParsedQuery, match_any: bool = False) -> str:
    """The MATCH expression of the query's words (empty when it has none); `match_any`: any of the
    plain words instead of all of them (fielded words and quoted phrases stay required)."""
    plain = query.plain
    required = [t for t in query.positive if not t.is_plain]  # fields and quoted phrases stay required
    if match_any and len(plain) > 1:
        any_plain = "(" + " OR ".join(_fts_term(t) for t in plain) + ")"
        positive = " AND ".join([any_plain, *(_fts_term(t) for t in required)])
    else:
        positive = " AND ".join(_fts_term(t) for t in query.positive)
    if not positive:
        return ""
    negative = [t for t in query.terms if t.negated]
    if negative:
        positive = f"({positive}) NOT ({' OR '.join(_fts_term(t) for t in negative)})"
    return positive


def _sqlite_search(
    conn: Connection,
    query: ParsedQuery,
    limit: int,
    offset: int,
    match_any: bool,
    count: bool | int,
    table: str = "papers_fts",
    by_trending: bool = False,
) -> KeywordResult:
    match = fts5_expression(query, match_any)
    conditions = _filters(query, "sqlite")
    if not match:
        return _by_trending(conn, conditions, limit, offset, count=count)
    fts = sa.table(table, sa.column("rowid"))
    if table == "papers_fts":
        score = -sa.func.bm25(sa.literal_column(table), TITLE_WEIGHT, ABSTRACT_WEIGHT, AUTHORS_WEIGHT)
    else:
        score = -sa.func.bm25(sa.literal_column(table))
    where = [sa.text(f"{table} MATCH :match").bindparams(match=match), *conditions]
    joined = fts.join(papers, sa.literal_column("papers.rowid") == fts.c.rowid)
    if by_trending:  # the matches' row ids first, then papers walked in trending order
        matching = sa.select(fts.c.rowid).where(sa.text(f"{table} MATCH :match").bindparams(match=match))
        q = (
            sa.select(papers.c.arxiv_id, papers.c.trending_score.label("score"))
            .where(sa.literal_column("papers.rowid").in_(matching), *conditions)
            .order_by(papers.c.trending_score.desc(), papers.c.arxiv_id)
        )
    else:
        q = (
            sa.select(papers.c.arxiv_id, score.label("score"))
            .select_from(joined)
            .where(*where)
            .order_by(sa.desc("score"), papers.c.arxiv_id)
        )
    rows = conn.execute(q.limit(limit).offset(offset)).all() if limit > 0 else []
    hits = [Hit(r.arxiv_id, float(r.score)) for r in rows]
    if not count:
        return KeywordResult(hits, -1)
    # Without filters the FTS table alone knows the matches: no lookup of each one in papers.
    matching = (
        sa.select(1).select_from(joined).where(*where)
        if conditions
        else sa.select(1).select_from(fts).where(*where)
    )
    return _counted(hits, conn, matching, count)


# --- PostgreSQL full text ---------------------------------------------------------------------------


def _pg_tsquery(term: Term, config: str, n: int, params: dict[str, Any]) -> str:
    key = f"w{n}"
    # PostgreSQL tokenizes the words as typed, the way it tokenized the documents ("Spin-1/2").
    params[key] = term.raw or term.text
    if term.prefix:
        params[key] = term.text
        return f"to_tsquery('{config}'::regconfig, quote_literal(:{key}) || ':*')"
    english = f"phraseto_tsquery('{config}'::regconfig, :{key})"
    if len(term.words) > 1:
        # PostgreSQL indexes "Learning-Based" as learning-bas, learn, base at three positions, so the
        # phrase "reinforcement learning" misses "Reinforcement Learning-Based" (and an excluded
        # phrase would let it through): the phrase's last word may also begin a hyphenated word.
        params[f"{key}h"], params[f"{key}t"] = " ".join(term.words[:-1]), term.words[-1].lower()
        head = f"phraseto_tsquery('{config}'::regconfig, :{key}h)"
        compound = f"tsquery_phrase({head}, to_tsquery('simple'::regconfig, quote_literal(:{key}t) || ':*'))"
        english = f"(CASE WHEN numnode({head}) = 0 THEN {english} ELSE {english} || {compound} END)"
    if config == "english" and term.field is None:
        # Names are indexed unstemmed ('simple'): a plain word matches either form. A stop word
        # ("of") stays empty, as it is absent from the english vectors.
        return (
            f"(CASE WHEN numnode({english}) = 0 THEN {english} "
            f"ELSE {english} || phraseto_tsquery('simple'::regconfig, :{key}) END)"
        )
    return english


def _pg_term_match(term: Term, n: int, params: dict[str, Any]) -> str:
    """`document @@ tsquery` for one term, on its field's document (NOT … for an excluded term); the
    values go into `params` under names numbered from `n`."""
    config, vector = _PG_FIELDS[term.field] if term.field else ("english", "papers.search_vector")
    matches = f"({vector} @@ {_pg_tsquery(term, config, n, params)})"
    return f"NOT {matches}" if term.negated else matches


def _pg_search(
    conn: Connection,
    query: ParsedQuery,
    limit: int,
    offset: int,
    match_any: bool,
    count: bool | int,
    titles_only: bool = False,
    by_trending: bool = False,
) -> KeywordResult:
    document = _PG_FIELDS["title"][1] if titles_only else "papers.search_vector"
    params: dict[str, Any] = {}
    free = [t for t in query.terms if t.field is None]
    parts = [(_pg_tsquery(t, "english", n, params), t) for n, t in enumerate(free)]
    positive = [q for q, t in parts if not t.negated]
    if match_any:  # any of the plain words; quoted phrases stay required
        plain = [q for q, t in parts if t.is_plain]
        phrases = [q for q, t in parts if not t.negated and not t.is_plain]
        positive = ([f"({' || '.join(plain)})"] if plain else []) + phrases
    conditions = list(_filters(query, "postgresql"))
    for n, term in enumerate(t for t in query.terms if t.field is not None):
        conditions.append(sa.text(_pg_term_match(term, 100 + n, params)))
    if not positive:  # only filters, or only fielded words: filter, then order by trending
        return _by_trending(conn, conditions, limit, offset, params, count)
    tsquery = " && ".join(positive)
    negative = [q for q, t in parts if t.negated]
    if negative:
        tsquery = f"({tsquery}) && !!({' || '.join(negative)})"
    match = sa.text(f"{document} @@ ({tsquery})")
    # text(), not literal_column(): the query's :w parameters must be bound inside the rank too.
    score = (
        papers.c.trending_score
        if by_trending
        else sa.func.ts_rank(sa.text(document), sa.text(f"({tsquery})"), 1)
    )
    q = (
        sa.select(papers.c.arxiv_id, score.label("score"))
        .where(match, *conditions)
        .order_by(sa.desc("score"), papers.c.arxiv_id)
        .limit(limit)
        .offset(offset)
    )
    rows = conn.execute(q, params).all() if limit > 0 else []
    hits = [Hit(r.arxiv_id, float(r.score)) for r in rows]
    if not count:
        return KeywordResult(hits, -1)
    return _counted(hits, conn, sa.select(1).select_from(papers).where(match, *conditions), count, params)


def _counted(
    hits: list[Hit], conn: Connection, matching: Any, count: bool | int, params: dict[str, Any] | None = None
) -> KeywordResult:
    """The result with its count: exact, or (count given as a number) at most that many, then
    marked capped — counting 100,000 matches costs seconds on a million papers, and no page past
    the cap can be reached anyway."""
    if count is True:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(matching.subquery()), params or {}
        ).scalar_one()
        return KeywordResult(hits, total)
    cap = int(count)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(matching.limit(cap + 1).subquery()), params or {}
    ).scalar_one()
    return KeywordResult(hits, min(total, cap), total > cap)


def _by_trending(
    conn: Connection,
    conditions: list[Any],
    limit: int,
    offset: int,
    params: dict[str, Any] | None = None,
    count: bool | int = True,
) -> KeywordResult:
    rows = conn.execute(
        sa.select(papers.c.arxiv_id, papers.c.trending_score)
        .where(*conditions)
        .order_by(papers.c.trending_score.desc(), papers.c.arxiv_id)
        .limit(limit)
        .offset(offset),
        params or {},
    ).all()
    hits = [Hit(r.arxiv_id, float(r.trending_score)) for r in rows]
    if not count:
        return KeywordResult(hits, -1)
    return _counted(hits, conn, sa.select(1).select_from(papers).where(*conditions), count, params)


# The keyword page ranks every paper that has all the words. When more papers than this have them
# (a query of common words only, on a big corpus: ranking 80,000 matches takes 0.3-5 s at 1M papers),
# it lists those with all the words in their title first, ranked, then the others by trending score.
# PostgreSQL's ranking costs more per match (see PG_COMMON_SHARE).
RANK_CAP, PG_RANK_CAP = 20_000, 3_000


def _backend(
    conn: Connection,
    query: ParsedQuery,
    limit: int,
    offset: int,
    match_any: bool,
    count: bool | int,
    titles_only: bool = False,
    by_trending: bool = False,
) -> KeywordResult:
    if conn.dialect.name == "postgresql":
        return _pg_search(conn, query, limit, offset, match_any, count, titles_only, by_trending)
    table = "papers_title_fts" if titles_only else "papers_fts"
    return _sqlite_search(conn, query, limit, offset, match_any, count, table, by_trending)


def _too_many_to_rank(
    conn: Connection, query: ParsedQuery, limit: int, offset: int, count: bool | int
) -> KeywordResult | None:
    """The page of an every-word query that more than the rank cap of papers match (else None):
    title matches ranked (when they are few enough to rank), then the rest by trending score."""
    cap = PG_RANK_CAP if conn.dialect.name == "postgresql" else RANK_CAP
    if not _backend(conn, query, 0, 0, False, cap).total_capped:
        return None
    depth = offset + limit
    first: list[Hit] = []
    if (
        all(t.field in (None, "title") for t in query.terms)
        and not _backend(conn, query, 0, 0, False, cap, True).total_capped
    ):
        first = _backend(conn, query, depth, 0, False, False, titles_only=True).hits
    seen = {h.arxiv_id for h in first}
    rest = _backend(conn, query, depth + len(first), 0, False, False, by_trending=True).hits
    hits = (first + [h for h in rest if h.arxiv_id not in seen])[offset:depth]
    if count is False:
        return KeywordResult(hits, -1, ranked_partly=True)
    if count is not True and int(count) <= cap:  # more than the cap match, so more than `count` do
        return KeywordResult(hits, int(count), True, ranked_partly=True)
    total = _backend(conn, query, 0, 0, False, count)
    return KeywordResult(hits, total.total, total.total_capped, ranked_partly=True)


def keyword_search(
    conn: Connection,
    query: ParsedQuery,
    limit: int = 100,
    offset: int = 0,
    match_any: bool = False,
    count: bool | int = True,
    titles_only: bool = False,
) -> KeywordResult:
    """The papers matching `query`, best first, and how many match in all. By default every word
    is required; `match_any` ranks papers with any of the plain words (BM25 favours those with more
    of them; fields, quoted phrases and exclusions still hold): what natural-language queries and hybrid fusion need. `count=False` skips counting
    every match (total is then -1): hybrid search only needs the top of the list; a number counts
    up to that many (total_capped says there are more). An every-word query with a count (the
    keyword page) that more than RANK_CAP papers match is answered by _too_many_to_rank
    (ranked_partly says so)."""
    if count is not False and not match_any and not titles_only and query.positive:
        page = _too_many_to_rank(conn, query, limit, offset, count)
        if page is not None:
            return page
    return _backend(conn, query, limit, offset, match_any, count, titles_only)


def rebuild_index(conn: Connection) -> None:
    """Rebuild the SQLite FTS indexes from papers (after a VACUUM, which may renumber rowids)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        conn.exec_driver_sql("INSERT INTO papers_title_fts(papers_title_fts) VALUES ('rebuild')")


# --- the keyword list of hybrid search -----------------------------------------------------------------

# Lucene's English stop words (what BEIR's BM25 drops), and a few more that carry no topic in titles:
# an any-word query of "on" or "the" would rank most of the corpus.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with via using from towards toward based".split()
)
# The all-words list is used alone when it is at least this long (or the depth asked, if smaller).
ENOUGH = 30
# Words in more than this share of papers (and more than COMMON_MIN papers) do not select
# candidates for the any-word list; on a million papers, ranking every paper that has "model" or
# "learning" costs hundreds of milliseconds and changes little in the top 100. PostgreSQL ranks a
# matching paper in about 17 µs (it reads the paper's stored tsvector from the heap, ~9 buffers),
# many times FTS5's cost per posting, so there a word is common from a fifth of that share.
COMMON_SHARE, PG_COMMON_SHARE, COMMON_MIN = 0.01, 0.002, 2000


def common_cap(dialect: str, total: int) -> float:
    """How many papers a word may be in and still select candidates for hybrid search's keyword list."""
    return max(COMMON_MIN, (PG_COMMON_SHARE if dialect == "postgresql" else COMMON_SHARE) * total)


def without_stop_words(query: ParsedQuery) -> ParsedQuery:
    """The query without free single stop words (kept when nothing else is left) and without
    repeated terms ("class aware sampling to mitigate class")."""
    terms = list(dict.fromkeys(query.terms))
    kept = [t for t in terms if not t.is_plain or len(t.words) != 1 or t.words[0].lower() not in STOP_WORDS]
    if not any(not t.negated for t in kept):
        return replace(query, terms=terms)
    return replace(query, terms=kept)


class CommonStems:
    """SQLite: the stems of the FTS5 index in more than the common share of papers, with their
    paper counts. Counting papers per term in FTS5 reads the term's whole posting list (4 ms for one
    common word at 1M papers), so the common ones are listed once by a scan of `papers_fts_vocab`
    (4 s at 1M papers) and kept per database for COMMON_TTL seconds, refreshed in the background."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.known: dict[str, tuple[float, dict[str, int], int]] = {}
        self.refreshing: set[str] = set()

    def get(self, conn: Connection) -> tuple[dict[str, int], int]:
        key = str(conn.engine.url)
        with self.lock:
            entry = self.known.get(key)
        if entry is None:
            return self._compute(conn, key)
        if monotonic() - entry[0] > COMMON_TTL:
            with self.lock:  # one refresh at a time per database, however many searches see it stale
                stale = key not in self.refreshing
                self.refreshing.add(key)
            if stale:
                threading.Thread(target=self._refresh, args=(conn.engine, key), daemon=True).start()
        return entry[1], entry[2]

    def _refresh(self, engine: sa.Engine, key: str) -> None:
        try:
            with engine.connect() as conn:
                self._compute(conn, key)
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            with self.lock:
                self.refreshing.discard(key)

    def _compute(self, conn: Connection, key: str) -> tuple[dict[str, int], int]:
        total = int(conn.exec_driver_sql("SELECT max(rowid) FROM papers").scalar() or 0)
        common: dict[str, int] = dict(
            conn.exec_driver_sql(
                "SELECT term, doc FROM papers_fts_vocab WHERE doc > ?", (common_cap("sqlite", total),)
            ).all()
        )
        with self.lock:
            self.known[key] = (monotonic(), common, total)
        return common, total


common_stems = CommonStems()
COMMON_TTL = 3600.0


def _document_frequencies(conn: Connection, query: ParsedQuery) -> tuple[dict[Term, int], int] | None:
    """How many papers have each free positive term of the query (a phrase: its rarest word), as far
    as "is it common" goes, and how many papers there are; None when unknown. SQLite: the word is
    stemmed by a temporary FTS5 table with the index's tokenizer and looked up among the common stems
    (a rare one counts 0); PostgreSQL: the share of papers ANALYZE found for its lexemes."""
    words = [t for t in query.plain if not t.prefix]
    if not words:
        return None
    if conn.dialect.name == "postgresql":
        return _pg_frequencies(conn, words)
    try:
        common, total = common_stems.get(conn)
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_tokens USING fts5("
            "x, tokenize='porter unicode61 remove_diacritics 2')"
        )
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_tokens_vocab USING fts5vocab(temp, query_tokens, 'row')"
        )
        df: dict[Term, int] = {}
        for term in words:
            conn.exec_driver_sql("DELETE FROM temp.query_tokens")
            conn.exec_driver_sql("INSERT INTO temp.query_tokens(x) VALUES (?)", (" ".join(term.words),))
            stems = [r[0] for r in conn.exec_driver_sql("SELECT term FROM temp.query_tokens_vocab")]
            if stems:
                df[term] = min(common.get(stem, 0) for stem in stems)
        conn.exec_driver_sql("DELETE FROM temp.query_tokens")
    except sa.exc.OperationalError:  # an older SQLite without fts5vocab: no pruning
        return None
    return (df, total) if df else None


class _PgCommonLexemes:
    """PostgreSQL: the most common lexemes of papers.search_vector with their share of papers, as
    ANALYZE last sampled them (pg_stats.most_common_elems; migration 0006 makes the list reach below
    PG_COMMON_SHARE), and the number of papers. Each call asks when the table was last analysed (a
    lookup in the server's statistics); the list (10,000 lexemes) is read again only after a new
    ANALYZE. A lexeme not in the list is in fewer papers than the least common one in it."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[Any, dict[str, float], int]] = {}

    def get(self, conn: Connection) -> tuple[dict[str, float], int] | None:
        key = str(conn.engine.url)
        stamp = tuple(
            conn.exec_driver_sql(
                "SELECT c.reltuples, pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid) "
                "FROM pg_class c WHERE c.oid = 'papers'::regclass"
            ).one()
        )
        entry = self.known.get(key)
        if entry is None or entry[0] != stamp:
            row = conn.exec_driver_sql(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = 'papers' AND attname = 'search_vector'"
            ).first()
            lexemes, freqs = row if row is not None else (None, None)
            # The frequencies end with three more numbers (min, max, null share): zip stops before them.
            entry = (stamp, dict(zip(lexemes or [], freqs or [], strict=False)), int(max(stamp[0] or 0, 0)))
            self.known[key] = entry
        if entry[2] <= 0 or not entry[1]:  # never analysed
            return None
        return entry[1], entry[2]


_pg_common = _PgCommonLexemes()


def _pg_frequencies(conn: Connection, words: list[Term]) -> tuple[dict[Term, int], int] | None:
    """Papers per term from the column's statistics: the term's words are turned into lexemes as
    the documents were (one round trip for all of them); a phrase or a hyphenated word ("open-source"
    is open-sourc, open and sourc) counts as its rarest lexeme, which bounds what the index returns."""
    stats = _pg_common.get(conn)
    if stats is None:
        return None
    shares, total = stats
    params = {f"w{n}": term.raw or term.text for n, term in enumerate(words)}
    columns = ", ".join(
        f"tsvector_to_array(to_tsvector('english'::regconfig, :w{n}))" for n in range(len(words))
    )
    lexemes = conn.execute(sa.text(f"SELECT {columns}"), params).one()
    df: dict[Term, int] = {}
    for term, found in zip(words, lexemes, strict=True):
        if found:
            df[term] = int(min(shares.get(lexeme, 0.0) for lexeme in found) * total)
    return (df, total) if df else None


def _without_excluded(conn: Connection, query: ParsedQuery, hits: list[Hit]) -> list[Hit]:
    """The hits of a titles-only search that have no excluded word anywhere (the titles' index only
    saw the titles)."""
    negative = [t for t in query.terms if t.negated]
    if not negative or not hits:
        return hits
    keep = matching_ids(
        conn,
        replace(query, terms=negative, categories=[], excluded_categories=[], after=None, before=None),
        [h.arxiv_id for h in hits],
    )
    return [h for h in hits if h.arxiv_id in keep]


def fusion_list(conn: Connection, query: ParsedQuery, limit: int) -> list[Hit]:
    """The keyword list hybrid search fuses, at a cost that stays bounded on a million papers.

    BM25 has to read the whole posting list of every word in the expression, and on a million papers
    "learning" or "model" are in hundreds of thousands of abstracts (tens of ms each, on SQLite as
    on PostgreSQL). So: stop words are dropped, and a word is *common* when more than COMMON_SHARE
    of the papers have it (PostgreSQL, where ranking a paper costs more: PG_COMMON_SHARE).
    - Some words are rare: papers with all the rare words, ranked by BM25 on them; when fewer than
      ENOUGH, then papers with any rare word. Common words then count only through the vector list.
    - Every word is common: the titles' own index (short posting lists): papers with all the words
      in their title, then relaxed by dropping the most common word at a time.
    - Frequencies unknown (no statistics yet): all the words, then any of them.
    """
    query = without_stop_words(query)
    free = query.plain  # only plain words are dropped or relaxed: constraints always hold
    known = _document_frequencies(conn, query)
    common: list[Term] = []
    if known is not None:
        df, total = known
        cap = common_cap(conn.dialect.name, total)
        common = sorted((t for t, n in df.items() if n > cap), key=lambda t: -df[t])
    enough = min(limit, ENOUGH)
    if common and len(common) < len(free):
        query = replace(query, terms=[t for t in query.terms if t not in common])
    all_common = bool(free) and len(common) == len(free)
    titles_only = all_common and all(t.field in (None, "title") for t in query.terms)
    every = keyword_search(conn, query, limit=limit, count=False, titles_only=titles_only).hits
    if titles_only:
        every = _without_excluded(conn, query, every)
    if len(every) >= enough or len(query.positive) < 2:
        return every
    seen = {h.arxiv_id for h in every}
    if all_common:
        relaxed = query
        for term in common[:-1]:
            relaxed = replace(relaxed, terms=[t for t in relaxed.terms if t != term])
            more = _without_excluded(
                conn,
                query,
                keyword_search(conn, relaxed, limit=limit, count=False, titles_only=titles_only).hits,
            )
            every += [h for h in more if h.arxiv_id not in seen]
            seen.update(h.arxiv_id for h in more)
            if len(every) >= enough:
                break
        return every[:limit]
    anyword = keyword_search(conn, query, limit=limit, match_any=True, count=False).hits
    return (every + [h for h in anyword if h.arxiv_id not in seen])[:limit]
