"""Search quality on SciFact (BEIR test split): nDCG@10 and Recall@100 for keyword, vector and hybrid."""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import math
import os
import platform
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runnable from a checkout without installing

from dailypapers.search.embed import get_embedder, paper_text  # noqa: E402

DATA = ROOT / "bench" / "data" / "scifact"
CACHE = Path(tempfile.gettempdir()) / "dailypapers-bench"

EPILOG = """
Methods (each ranks the 5,183 abstracts for each of the 300 test claims):
  vector         the embedder (--model), exact cosine search (numpy), query = the claim as written
  bm25           BM25 through SQLite FTS5 inside this script: title + abstract, porter stemming, the
                 claim's words OR-ed (English stop words dropped), ranked by bm25()
  keyword        dailypapers.search.keyword.fusion_list (the list the app's hybrid search fuses) on a
                 real SQLite database of the project's schema, the claim parsed by
                 dailypapers.search.query: papers with all the words when there are enough, else
                 any-word BM25 with the very common words left out of the candidates (as the app's
                 hybrid search does)
  hybrid(x)      reciprocal-rank fusion of x and vector: score = Σ w_i / (k + rank_i) over the top
                 --depth of each list (w: --keyword-weight, --vector-weight; k: --rrf-k)
Metrics as BEIR computes them (pytrec_eval): nDCG@10 with the graded judgments of qrels (log2 discount,
ideal = the judged documents sorted by grade), Recall@100 = judged-relevant found in the top 100 ÷
judged-relevant. Reference: BM25 (Elasticsearch) scores nDCG@10 = 0.665 in the BEIR paper.
Corpus vectors are cached in $TMPDIR/dailypapers-bench keyed by model and texts; --no-cache re-embeds.
"""

# Lucene's English stop words (what BEIR's BM25 analyzer drops): an OR query of every "the" and "of"
# would rank by them.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)


def load_scifact(folder: Path) -> tuple[list[dict], list[str], list[str], dict[str, dict[str, int]]]:
    """Corpus rows, test query ids and texts (ordered by id), and qrels {query: {doc: grade}}."""
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    with gzip.open(folder / "queries.jsonl.gz", "rt", encoding="utf-8") as f:
        queries = {q["_id"]: q["text"] for q in map(json.loads, f)}
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels-test.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    qids = sorted(qrels, key=int)
    return corpus, qids, [queries[q] for q in qids], qrels


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    judged = {d for d, g in relevant.items() if g > 0}
    return len(judged.intersection(ranked[:k])) / len(judged) if judged else 0.0


def score(runs: list[list[str]], qids: list[str], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    """Mean nDCG@10 and Recall@100 over the queries."""
    nd = [ndcg_at(r, qrels[q]) for r, q in zip(runs, qids, strict=True)]
    rc = [recall_at(r, qrels[q]) for r, q in zip(runs, qids, strict=True)]
    return float(np.mean(nd)), float(np.mean(rc))


def rrf(lists: Sequence[Sequence[str]], weights: Sequence[float], k: float) -> list[str]:
    """Reciprocal-rank fusion (ranks from 1), best first; ties keep first appearance."""
    scores: dict[str, float] = {}
    for ids, w in zip(lists, weights, strict=True):
        for rank, doc in enumerate(ids, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return sorted(scores, key=lambda d: -scores[d])


# --- vector -------------------------------------------------------------------------------------------


def corpus_vectors(model: str, texts: list[str], use_cache: bool) -> tuple[np.ndarray, float | None]:
    """Vectors of the corpus (cached per model and texts) and docs/s when they were computed now."""
    key = hashlib.sha256((model + "\0" + "\0".join(texts)).encode()).hexdigest()[:16]
    path = CACHE / f"scifact-{re.sub(r'[^A-Za-z0-9._-]+', '_', model)[-60:]}-{key}.npy"
    if use_cache and path.exists():
        return np.load(path), None
    embedder = get_embedder(model)
    embedder.embed(texts[:8])  # load the model outside the timing
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, rate


def vector_runs(
    model: str, doc_ids: list[str], doc_vectors: np.ndarray, queries: list[str], depth: int
) -> tuple[list[list[str]], float]:
    """Top `depth` ids per query by exact cosine, and the mean ms per query (embed + search)."""
    embedder = get_embedder(model)
    embedder.embed_query("warm up")
    runs, started = [], time.perf_counter()
    for text in queries:
        sims = doc_vectors @ embedder.embed_query(text)
        top = np.argpartition(-sims, depth)[:depth]
        runs.append([doc_ids[i] for i in top[np.argsort(-sims[top], kind="stable")]])
    return runs, (time.perf_counter() - started) / len(queries) * 1000


# --- keyword ------------------------------------------------------------------------------------------


def bm25_runs(
    corpus: list[dict], queries: list[str], depth: int, title_weight: float
) -> tuple[list[list[str]], float]:
    """BM25 through an in-memory SQLite FTS5 table (OR of the claim's words), and ms per query."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(doc_id UNINDEXED, title, body, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(d["_id"], d["title"], d["text"]) for d in corpus])
    runs, started = [], time.perf_counter()
    for text in queries:
        words = [w for w in re.findall(r"\w+", text.lower()) if w not in STOP_WORDS]
        if not words:
            runs.append([])
            continue
        expression = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
        rows = db.execute(
            "SELECT doc_id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, ?, 1.0) LIMIT ?",
            (expression, title_weight, depth),
        ).fetchall()
        runs.append([r[0] for r in rows])
    return runs, (time.perf_counter() - started) / len(queries) * 1000


def project_keyword_runs(
    corpus: list[dict], queries: list[str], depth: int, workdir: Path
) -> tuple[list[list[str]], float]:
    """dailypapers' own keyword search on a migrated SQLite database holding the corpus."""
    from dailypapers.core.models import PaperRecord
    from dailypapers.search.keyword import fusion_list
    from dailypapers.search.query import parse_query
    from dailypapers.store.db import Database
    from dailypapers.store.papers import upsert_batch

    # SciFact ids are not arXiv ids: each document gets a made-up one, mapped back for scoring.
    fake = {f"2001.{i:05d}": d["_id"] for i, d in enumerate(corpus)}
    db = Database(f"sqlite:///{workdir / 'scifact.db'}")
    db.migrate()
    published = datetime(2020, 1, 1, tzinfo=UTC)
    records = [
        PaperRecord(arxiv_id=a, title=corpus[i]["title"], abstract=corpus[i]["text"], published_at=published)
        for i, a in enumerate(fake)
    ]
    with db.write() as conn:
        upsert_batch(conn, records, published)
    runs, started = [], time.perf_counter()
    with db.read() as conn:
        for text in queries:
            # As the app's hybrid search does: any of the words, ranked by BM25.
            hits = fusion_list(conn, parse_query(text), depth)
            runs.append([fake[h.arxiv_id] for h in hits])
    elapsed = (time.perf_counter() - started) / len(queries) * 1000
    db.dispose()
    return runs, elapsed


# --- report -------------------------------------------------------------------------------------------


def print_row(method: str, metrics: tuple[float, float], timing: str) -> None:
    print(f"| {method:<38} | {metrics[0]:7.3f} | {metrics[1]:10.3f} | {timing:<44} |")


def timed(
    label: str, fn: Callable[[], tuple[list[list[str]], float]]
) -> tuple[list[list[str]], float] | None:
    try:
        return fn()
    except Exception as exc:  # the benchmark still prints the other methods
        print(f"({label} skipped: {type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=DATA, help="folder with corpus/queries .jsonl.gz and qrels-test.tsv"
    )
    ap.add_argument("--model", default="default", help="embedding model setting value (default: %(default)s)")
    ap.add_argument("--rrf-k", type=float, default=60.0, help="RRF constant k (default: %(default)s)")
    ap.add_argument("--keyword-weight", type=float, default=1.0, help="RRF weight of the keyword list")
    ap.add_argument("--vector-weight", type=float, default=1.0, help="RRF weight of the vector list")
    ap.add_argument(
        "--depth", type=int, default=100, help="results taken from each list (default: %(default)s)"
    )
    ap.add_argument("--title-weight", type=float, default=1.0, help="FTS5 bm25 weight of the title column")
    ap.add_argument("--no-cache", action="store_true", help="embed the corpus again even if cached")
    ap.add_argument("--no-project-keyword", action="store_true", help="skip dailypapers' own keyword search")
    ap.add_argument(
        "--sweep", action="store_true", help="also print hybrid(bm25) over a grid of k and weights"
    )
    args = ap.parse_args()

    corpus, qids, queries, qrels = load_scifact(args.data)
    doc_ids = [d["_id"] for d in corpus]
    texts = [paper_text(d["title"], d["text"]) for d in corpus]
    import onnxruntime

    print(
        f"SciFact test: {len(corpus):,} abstracts, {len(queries)} queries, "
        f"{sum(len(v) for v in qrels.values())} judgments"
    )
    print(
        f"machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, onnxruntime {onnxruntime.__version__}"
    )
    print(
        f"model: {args.model} ({get_embedder(args.model).name}); RRF k={args.rrf_k:g}, "
        f"weights keyword {args.keyword_weight:g} / vector {args.vector_weight:g}, depth {args.depth}\n"
    )

    doc_vectors, rate = corpus_vectors(args.model, texts, not args.no_cache)
    vector, vector_ms = vector_runs(args.model, doc_ids, doc_vectors, queries, args.depth)
    embedded = f"corpus {rate:.1f} texts/s" if rate else "corpus vectors from cache"
    weights = [args.keyword_weight, args.vector_weight]

    print(f"| {'method':<38} | nDCG@10 | Recall@100 | {'time':<44} |")
    print(f"|{'-' * 40}|--------:|-----------:|{'-' * 46}|")
    print_row("vector", score(vector, qids, qrels), f"{embedded}; query {vector_ms:.1f} ms")
    keyword_lists: list[tuple[str, list[list[str]]]] = []
    bm25 = timed("bm25", lambda: bm25_runs(corpus, queries, args.depth, args.title_weight))
    if bm25:
        print_row("bm25 (FTS5 OR, in this script)", score(bm25[0], qids, qrels), f"query {bm25[1]:.1f} ms")
        keyword_lists.append(("bm25", bm25[0]))
    if not args.no_project_keyword:
        with tempfile.TemporaryDirectory() as workdir:
            project = timed(
                "keyword", lambda: project_keyword_runs(corpus, queries, args.depth, Path(workdir))
            )
        if project:
            found = sum(1 for r in project[0] if r)
            print_row(
                "keyword (dailypapers, fusion list)",
                score(project[0], qids, qrels),
                f"query {project[1]:.1f} ms; {found}/{len(queries)} queries match",
            )
            keyword_lists.append(("keyword", project[0]))
    for name, runs in keyword_lists:
        fused = [rrf([k, v], weights, args.rrf_k)[:100] for k, v in zip(runs, vector, strict=True)]
        print_row(f"hybrid({name}) = RRF({name}, vector)", score(fused, qids, qrels), "sum of both")

    if args.sweep and bm25:
        print("\nhybrid(bm25) by RRF k and vector weight (keyword weight 1); tuned on the test set itself,")
        print("so read it as sensitivity, not as a better setting:\n")
        ws = (0.5, 0.75, 1.0, 1.5, 2.0)
        print("| k \\ vector weight | " + " | ".join(f"{w:g}" for w in ws) + " |")
        print("|---|" + "---:|" * len(ws))
        for k in (10, 30, 60, 100):
            cells = []
            for w in ws:
                fused = [rrf([a, b], [1.0, w], k)[:100] for a, b in zip(bm25[0], vector, strict=True)]
                cells.append(f"{score(fused, qids, qrels)[0]:.3f}")
            print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
