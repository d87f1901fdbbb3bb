"""Search speed at 100K and 1M papers, on SQLite and PostgreSQL: index build times, p50/p99 latency of
keyword, vector and hybrid queries, recall@10 of the approximate vector index against exact search,
and peak memory.

    .venv/bin/python bench/search_speed.py --papers 100000 --workdir /var/tmp/search-bench
    .venv/bin/python bench/search_speed.py --papers 1000000 --workdir /var/tmp/search-bench

Corpus (text). The real papers of the two arXiv listing corpora (--listings; by default the cs and cl
files of ../shared/data, 90,000+ distinct papers) come first, unchanged. Papers beyond them are
VARIED copies of real ones: a new id, the title of a real paper with two of its words swapped for
words of another real title, an abstract whose first half is the sentences of one real abstract and
second half those of another, the authors and categories of the first, and a listing day spread over
2015-2026. Term statistics therefore stay those of real abstracts, scaled up.

Vectors. Embedding a million abstracts on 2 cores takes about seven hours, so the scaled-up vectors
are PERTURBED COPIES OF REAL EMBEDDINGS: the 5,601 real all-MiniLM-L6-v2 vectors that ship with the
demo, each paper getting normalize(a·u + (1-a)·v + σ·g) for two seeded-random real vectors u, v, a in
[0.5, 1) and Gaussian g (σ = --noise per dimension). They do not encode the paper's text; they give
the vector index the shape of real embeddings (random vectors would make every ANN index's recall
meaningless). Queries are embedded by the real model at query time, as the app does.

Queries: --queries short queries made of 3-6 words of real titles (what people type), the same set
for every mode. Latency is wall time per call of the function the app calls (keyword_search for
keyword (the page's call: the first 30, counted up to 3,000), the vector index's search for vector,
search_papers for hybrid: query parsing, embedding
the query, both lists, fusion and the page's cards), one call at a time, after --warmup calls.

Each database runs in a child process; "peak RSS" is that process's getrusage maximum (the
PostgreSQL server's own memory is not counted; its pgvector index lives in the server).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runnable from a checkout without installing

SHARED = ROOT.parent / "shared/data"
DEFAULT_LISTINGS = [
    SHARED / "arxiv-listings-cs/daily_arxiv_listings_unique.jsonl.gz",
    SHARED / "arxiv-listings-cl/daily_arxiv_listings.jsonl.gz",
]
DEMO_VECTORS = ROOT / "src/dailypapers/demo/vectors.npz"
BENCH_DATABASE = "dailypapers_bench_search"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z$])")
WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
STOP = frozenset(
    "with from that this their using based towards via into over under through for and the".split()
)


# --- the corpus -------------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def real_papers(paths: list[Path]) -> list[dict[str, Any]]:
    """The distinct papers of the listing files (first occurrence of an id wins)."""
    seen: dict[str, dict[str, Any]] = {}
    for path in paths:
        with _open(path) as f:
            for line in f:
                obj = json.loads(line)
                pid = str(obj.get("id", "")).split("v")[0]
                if pid and pid not in seen and obj.get("title") and obj.get("summary"):
                    seen[pid] = obj
    return list(seen.values())


def _varied_id(n: int) -> str:
    # Old-style ids cannot collide with the real (new-style) ones: bench/0000001 ... bench/1000000.
    return f"bench/{n:07d}"


def varied_papers(real: list[dict[str, Any]], count: int, seed: int) -> Iterator[dict[str, Any]]:
    """`count` listing records: the real ones first, then varied copies (see the module docstring)."""
    rng = random.Random(seed)
    first_day, span = date(2015, 1, 1), (date(2026, 6, 30) - date(2015, 1, 1)).days
    for n in range(count):
        if n < len(real):
            obj = dict(real[n])
            obj.setdefault("listing_dates", [(first_day + timedelta(days=rng.randrange(span))).isoformat()])
            yield obj
            continue
        a, b, c = rng.choice(real), rng.choice(real), rng.choice(real)
        words = a["title"].split()
        donors = [w for w in WORD.findall(c["title"]) if w.lower() not in STOP] or ["Study"]
        for _ in range(min(2, len(words))):
            words[rng.randrange(len(words))] = rng.choice(donors)
        left, right = (
            SENTENCE.split(" ".join(a["summary"].split())),
            SENTENCE.split(" ".join(b["summary"].split())),
        )
        abstract = " ".join(left[: max(1, len(left) // 2)] + right[len(right) // 2 :])
        yield {
            "id": _varied_id(n),
            "title": " ".join(words),
            "summary": abstract,
            "authors": a.get("authors") or [],
            "categories": a.get("categories") or ["cs.LG"],
            "comment": None,
            "listing_dates": [(first_day + timedelta(days=rng.randrange(span))).isoformat()],
        }


def corpus_file(workdir: Path, listings: list[Path], count: int, seed: int) -> tuple[Path, int]:
    """The generated corpus (reused when present) and how many of its papers are real."""
    path = workdir / f"corpus-{count}-seed{seed}.jsonl"
    meta = path.with_suffix(".meta.json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())["real"]
    real = real_papers(listings)
    random.Random(seed).shuffle(real)
    real = real[:count]
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as f:
        for obj in varied_papers(real, count, seed):
            f.write(json.dumps(obj) + "\n")
    tmp.rename(path)
    meta.write_text(json.dumps({"real": len(real), "count": count}))
    return path, len(real)


def bench_vectors(ids: list[str], seed: int, noise: float) -> np.ndarray:
    """Perturbed copies of the demo's real embeddings, one per id (float32, unit length)."""
    base = np.load(DEMO_VECTORS)["vectors"].astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((len(ids), base.shape[1]), np.float32)
    for start in range(0, len(ids), 100_000):
        n = min(100_000, len(ids) - start)
        u, v = base[rng.integers(0, len(base), n)], base[rng.integers(0, len(base), n)]
        a = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
        x = a * u + (1 - a) * v + rng.normal(0.0, noise, (n, base.shape[1])).astype(np.float32)
        out[start : start + n] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


# --- building a database ----------------------------------------------------------------------------


def queries_from(corpus: Path, count: int, seed: int) -> list[str]:
    """Short queries: 3-6 consecutive words (no stop words at the ends) of seeded-random real titles."""
    rng = random.Random(seed + 1)
    titles = []
    with open(corpus, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n >= 90_000:
                break
            titles.append(json.loads(line)["title"])
    out: list[str] = []
    while len(out) < count:
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]+", rng.choice(titles))]
        if len(words) < 3:
            continue
        size = rng.randint(3, min(6, len(words)))
        start = rng.randrange(len(words) - size + 1)
        chosen = words[start : start + size]
        while chosen and chosen[-1].lower() in STOP | {"of", "in", "on", "a", "an", "to", "by"}:
            chosen.pop()
        if len(chosen) >= 2:
            out.append(" ".join(chosen).lower())
    return out


def build(url: str, corpus: Path, args: argparse.Namespace, model: str) -> dict[str, Any]:
    """Import the corpus, write the vectors, build the indexes; the seconds of each step."""
    import sqlalchemy as sa

    from dailypapers.ingest.importer import import_paths
    from dailypapers.search.vectors import IndexConfig, refresh_index
    from dailypapers.store.db import Database
    from dailypapers.store.embeddings import ensure_index, store_vectors
    from dailypapers.store.tables import papers

    db = Database(url)
    db.migrate()
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    summary = import_paths(db, [corpus], batch_size=2000)
    figures["import_s"] = time.perf_counter() - started
    figures["rejected"] = len(summary.rejections) if hasattr(summary, "rejections") else 0
    started = time.perf_counter()
    with db.write() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        else:
            conn.exec_driver_sql("REINDEX INDEX ix_papers_search_vector")
    figures["keyword_index_s"] = time.perf_counter() - started
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(sa.select(papers.c.arxiv_id).order_by(papers.c.arxiv_id))]
    figures["papers"] = len(ids)
    started = time.perf_counter()
    for start in range(0, len(ids), 20_000):
        chunk = ids[start : start + 20_000]
        vectors = bench_vectors(chunk, args.seed + start, args.noise)
        with db.write() as conn:
            store_vectors(conn, model, [(i, "bench", v) for i, v in zip(chunk, vectors, strict=True)])
    figures["vectors_write_s"] = time.perf_counter() - started
    if not db.is_sqlite:
        # What autovacuum would do after the import: hybrid search learns common words from these
        # statistics (migration 0006 samples 300,000 rows for them).
        started = time.perf_counter()
        with db.write() as conn:
            conn.exec_driver_sql("ANALYZE papers")
        figures["analyze_s"] = time.perf_counter() - started
        with db.write() as conn:  # pgvector builds its HNSW graph in maintenance_work_mem
            conn.exec_driver_sql("SET maintenance_work_mem = '4GB'")
            conn.exec_driver_sql("SET max_parallel_maintenance_workers = 1")
            started = time.perf_counter()
            config = IndexConfig()
            ensure_index(conn, model, 384, config.hnsw_m, config.hnsw_ef_construction)
        figures["vector_index_s"] = time.perf_counter() - started
        figures["vector_index"] = (
            f"pgvector HNSW (m={config.hnsw_m}, ef_construction={config.hnsw_ef_construction})"
        )
    else:
        config = IndexConfig(kind="hnsw", exact_max=args.exact_max)
        started = time.perf_counter()
        line = refresh_index(db, model, config, rebuild=True)
        figures["vector_index_s"] = time.perf_counter() - started
        figures["vector_index"] = (
            f"faiss HNSW (M={config.hnsw_m}, efConstruction={config.hnsw_ef_construction}); {line}"
        )
    db.dispose()
    return figures


# --- measuring ----------------------------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pct(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 99) * 1000)


def measure(url: str, queries: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Latencies and recall on a built database, in this (fresh) process."""
    from dailypapers.search.embed import get_embedder
    from dailypapers.search.keyword import fusion_list, keyword_search
    from dailypapers.search.query import parse_query
    from dailypapers.search.vectors import ExactIndex, IndexConfig, get_index
    from dailypapers.services.search import SearchOptions, search_papers
    from dailypapers.store.db import Database

    db = Database(url)
    embedder = get_embedder("default")
    out: dict[str, Any] = {}
    kind = "pgvector" if not db.is_sqlite else "hnsw"
    efs = [int(e) for e in args.ef.split(",")]
    hybrid_ef = args.hybrid_ef or efs[-1]
    config = IndexConfig(kind=kind, hnsw_ef_search=hybrid_ef, exact_max=args.exact_max)
    started = time.perf_counter()
    with db.read() as conn:  # loads the saved HNSW index (or finds pgvector's)
        index = get_index(db, embedder.name, config, conn)
    out["index_load_s"] = time.perf_counter() - started
    out["index_kind"] = index.kind
    embedder.embed_query("load the model")
    out["rss_app_mib"] = _rss_mib()  # what an app process holds: the index, the embedder, a connection
    with db.read() as conn:
        exact = ExactIndex.load(conn, embedder.name)
    embedder.embed_query("warm up")
    vectors, embed_times = [], []
    for q in queries:
        started = time.perf_counter()
        vectors.append(embedder.embed_query(q))
        embed_times.append(time.perf_counter() - started)
    out["embed_query_ms"] = _pct(embed_times)
    truth, exact_times = [], []
    for v in vectors:
        started = time.perf_counter()
        truth.append({i for i, _ in exact.search(v, 10)})
        exact_times.append(time.perf_counter() - started)
    out["exact_ms"] = _pct(exact_times)
    del exact
    out["vector"] = []
    for ef in efs:
        index.ef_search = ef
        for v in vectors[: args.warmup]:
            index.search(v, 10)
        times, recall = [], []
        for v, t in zip(vectors, truth, strict=True):
            started = time.perf_counter()
            hits = index.search(v, 10)
            times.append(time.perf_counter() - started)
            recall.append(len({i for i, _ in hits} & t) / 10)
        out["vector"].append({"ef": ef, "ms": _pct(times), "recall": float(np.mean(recall))})
    index.ef_search = hybrid_ef
    # Keyword (every word, with the count, as the keyword page does) and the list hybrid search fuses.
    # The keyword page: every word, its first 30, counted up to the last reachable page (100 × 30).
    for name, run in (
        ("keyword", lambda conn, parsed: keyword_search(conn, parsed, limit=30, count=3000)),
        ("keyword_fusion", lambda conn, parsed: fusion_list(conn, parsed, 100)),
    ):
        times = []
        with db.read() as conn:
            for q in queries[: args.warmup]:
                run(conn, parse_query(q))
            for q in queries:
                parsed = parse_query(q)
                started = time.perf_counter()
                run(conn, parsed)
                times.append(time.perf_counter() - started)
        out[name + "_ms"] = _pct(times)
    options = SearchOptions("hybrid", embedder, index=config)
    out["hybrid_ef"] = hybrid_ef
    for label, suffix in (("hybrid", ""), ("hybrid_filtered", " cat:cs.CL")):
        for q in queries[-args.warmup :]:
            search_papers(db, "warm " + q + suffix, options=options)
        times = []
        for q in queries:
            started = time.perf_counter()
            search_papers(db, q + suffix, options=options)
            times.append(time.perf_counter() - started)
        out[label + "_ms"] = _pct(times)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db.dispose()
    return out


def child(mode: str, url: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--child-url", url, *extra]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = result.get("peak_rss_mib") or 0
    return result


def run_database(
    name: str,
    url: str,
    corpus: Path,
    queries_path: Path,
    args: argparse.Namespace,
    passthrough: list[str],
    marker: Path | None = None,
) -> dict[str, Any]:
    if marker is None and url.startswith("sqlite"):
        marker = Path(str(url).replace("sqlite:///", "") + ".built")
    if marker is not None and marker.exists():
        built = json.loads(marker.read_text())
        built["reused"] = True
    else:
        if marker is not None and url.startswith("sqlite"):  # a half-built file from an interrupted run
            for leftover in marker.parent.glob(marker.name.removesuffix(".built") + "*"):
                if leftover.is_dir():
                    import shutil

                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
        built = child("build", url, args, [*passthrough, "--corpus", str(corpus)])
        if marker is not None:
            marker.write_text(json.dumps(built))
    measured = child("measure", url, args, [*passthrough, "--queries-file", str(queries_path)])
    return {"name": name, "build": built, "measure": measured}


def report(result: dict[str, Any], papers: int) -> None:
    b, m = result["build"], result["measure"]
    print(
        f"\n### {result['name']}: {b['papers']:,} papers"
        + (" (database reused from an earlier run)" if b.get("reused") else "")
    )
    print(
        f"- import (dailypapers import, FTS kept by triggers): {b['import_s']:.0f} s; keyword index rebuilt "
        f"alone: {b['keyword_index_s']:.1f} s; vectors written: {b['vectors_write_s']:.0f} s; "
        f"vector index: {b['vector_index_s']:.0f} s — {b['vector_index']}"
        + (f"; ANALYZE papers: {b['analyze_s']:.0f} s" if "analyze_s" in b else "")
    )
    print(
        f"- memory: {m['rss_app_mib']:,.0f} MiB RSS once the {m['index_kind']} index (loaded in {m['index_load_s']:.1f} s) "
        f"and the embedder are in (what an app process holds); peak {m['peak_rss_mib']:,.0f} MiB with the "
        "exact copy of the vectors this script loads for recall"
    )
    print(
        f"- embedding a query (MiniLM int8, CPU): p50 {m['embed_query_ms'][0]:.1f} ms, p99 {m['embed_query_ms'][1]:.1f} ms;"
        f" exact search (numpy, for recall): p50 {m['exact_ms'][0]:.1f} ms"
    )
    print("\n| query | p50 ms | p99 ms | recall@10 |")
    print("|---|---:|---:|---:|")
    print(
        f"| keyword page (all words, count up to 3,000) | {m['keyword_ms'][0]:.1f} | {m['keyword_ms'][1]:.1f} | |"
    )
    print(
        f"| keyword list of hybrid (fusion_list, top 100) | {m['keyword_fusion_ms'][0]:.1f} | {m['keyword_fusion_ms'][1]:.1f} | |"
    )
    for v in m["vector"]:
        print(
            f"| vector k=10, ef_search {v['ef']} (query vector given) | {v['ms'][0]:.2f} | {v['ms'][1]:.2f} | {v['recall']:.3f} |"
        )
    print(
        f"| **hybrid** (search_papers: parse, embed, both lists, fusion, cards; ef {m['hybrid_ef']}) | "
        f"**{m['hybrid_ms'][0]:.1f}** | **{m['hybrid_ms'][1]:.1f}** | |"
    )
    print(
        f"| hybrid + `cat:cs.CL` filter | {m['hybrid_filtered_ms'][0]:.1f} | {m['hybrid_filtered_ms'][1]:.1f} | |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/dailypapers-search-bench"))
    ap.add_argument("--listings", type=Path, nargs="+", default=DEFAULT_LISTINGS)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument(
        "--postgres-url",
        help="a server to use (a database is created and dropped) instead of a throwaway cluster",
    )
    ap.add_argument(
        "--keep-database",
        action="store_true",
        help="with --postgres-url: keep the built database (named after --papers and --seed) and reuse "
        "it on the next run, as the SQLite file is reused",
    )
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--noise", type=float, default=0.03, help="σ of the per-dimension perturbation of real vectors"
    )
    ap.add_argument("--ef", default="64,128,256,512", help="HNSW ef_search values measured for vector search")
    ap.add_argument(
        "--hybrid-ef",
        type=int,
        default=256,
        help="ef_search for the hybrid rows (the setting hnsw_ef_search)",
    )
    ap.add_argument("--exact-max", type=int, default=100_000)
    ap.add_argument("--child", choices=["build", "measure"], help=argparse.SUPPRESS)
    ap.add_argument("--child-url", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "build":
        from dailypapers.search.embed import MINILM_NAME

        print(json.dumps(build(args.child_url, args.corpus, args, MINILM_NAME)))
        return
    if args.child == "measure":
        queries = json.loads(args.queries_file.read_text())
        print(json.dumps(measure(args.child_url, queries, args)))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    corpus, real = corpus_file(args.workdir, args.listings, args.papers, args.seed)
    print(
        f"corpus: {args.papers:,} papers ({real:,} real, {args.papers - real:,} varied copies) in {corpus} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(
        f"vectors: PERTURBED COPIES of the demo's 5,601 real all-MiniLM-L6-v2 embeddings (σ = {args.noise}), "
        "not embeddings of these texts; queries are embedded by the real model"
    )
    queries = queries_from(corpus, args.queries, args.seed)
    queries_path = args.workdir / f"queries-{args.seed}.json"
    queries_path.write_text(json.dumps(queries))
    print(f"queries: {len(queries)} like {queries[:3]}")
    import faiss
    import onnxruntime

    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, faiss {faiss.__version__}, onnxruntime {onnxruntime.__version__}"
    )
    passthrough = [
        "--seed",
        str(args.seed),
        "--noise",
        str(args.noise),
        "--ef",
        args.ef,
        "--warmup",
        str(args.warmup),
        "--exact-max",
        str(args.exact_max),
    ] + (["--hybrid-ef", str(args.hybrid_ef)] if args.hybrid_ef else [])
    if args.db in ("sqlite", "both"):
        path = args.workdir / f"search-{args.papers}-seed{args.seed}.db"
        report(
            run_database("SQLite", f"sqlite:///{path}", corpus, queries_path, args, passthrough), args.papers
        )
    if args.db in ("postgresql", "both"):
        from contextlib import ExitStack

        with ExitStack() as stack:
            server = args.postgres_url
            if not server:
                from dailypapers.testing.postgres import throwaway_cluster

                server = stack.enter_context(throwaway_cluster())
            import sqlalchemy as sa

            from dailypapers.store.db import normalize_url

            keep = args.keep_database and bool(args.postgres_url)
            database = f"{BENCH_DATABASE}_{args.papers}_s{args.seed}" if keep else BENCH_DATABASE
            marker = args.workdir / f"{database}.built" if keep else None
            admin = sa.create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                exists = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_database WHERE datname = %(d)s", {"d": database}
                ).first()
                if marker is not None and marker.exists() and not exists:
                    marker.unlink()  # the server lost it: build again
                if marker is None or not marker.exists():
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                    conn.exec_driver_sql(f"CREATE DATABASE {database}")
            url = (
                sa.engine.make_url(normalize_url(server))
                .set(database=database)
                .render_as_string(hide_password=False)
            )
            try:
                report(
                    run_database("PostgreSQL", url, corpus, queries_path, args, passthrough, marker),
                    args.papers,
                )
            finally:
                if not keep:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                admin.dispose()


if __name__ == "__main__":
    main()
