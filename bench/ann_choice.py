"""Which approximate index: faiss HNSW against usearch HNSW (and exact numpy), on the same vectors.

    .venv/bin/python bench/ann_choice.py --papers 100000

Vectors: perturbed copies of the demo's real embeddings (bench/search_speed.py's bench_vectors: they
have the shape of real MiniLM vectors, not their meaning); queries: --queries further such vectors,
not in the index. For each library and efSearch (usearch: expansion_search), prints the build time,
recall@10 against exact search, and p50/p99 latency of one query at a time (k = 10 and k = 100, the
depth hybrid search fuses). hnswlib is not compared: it has no wheel for this Python (a C++
compiler would be needed at install time).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_speed import bench_vectors  # noqa: E402


def timed(fn, queries):  # type: ignore[no-untyped-def]
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        times.append(time.perf_counter() - t)
    return out, np.percentile(times, 50) * 1000, np.percentile(times, 99) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef", default="32,64,96,128,256")
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--libraries", default="faiss,usearch", help="which to build: faiss, usearch or both")
    args = ap.parse_args()
    import faiss
    import usearch
    from usearch.index import Index

    x = bench_vectors([str(i) for i in range(args.papers + args.queries)], seed=7, noise=args.noise)
    x, queries = x[: args.papers], x[args.papers :]
    print(
        f"{args.papers:,} vectors of 384 dims, {args.queries} queries; M={args.m}, efConstruction={args.ef_construction}"
    )
    print(
        f"machine: {faiss.omp_get_max_threads()} threads, Python {platform.python_version()}, "
        f"faiss {faiss.__version__}, usearch {usearch.__version__}"
    )
    exact, p50, p99 = timed(lambda q: np.argsort(-(x @ q))[:10], queries)
    truth = [set(t) for t in exact]
    print("| index | build s | efSearch | recall@10 | p50 ms k=10 | p99 ms k=10 | p50 ms k=100 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| exact numpy | — | — | 1.000 | {p50:.2f} | {p99:.2f} | — |")

    t = time.perf_counter()
    f = faiss.IndexHNSWFlat(x.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    f.hnsw.efConstruction = args.ef_construction
    f.add(x)
    fb = time.perf_counter() - t
    use_usearch = "usearch" in args.libraries
    if use_usearch:
        t = time.perf_counter()
        u = Index(
            ndim=x.shape[1], metric="ip", dtype="f32", connectivity=args.m, expansion_add=args.ef_construction
        )
        u.add(np.arange(len(x)), x, threads=faiss.omp_get_max_threads())
        ub = time.perf_counter() - t
    for ef in [int(e) for e in args.ef.split(",")]:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        res, p50, p99 = timed(lambda q, params=params: f.search(q[None], 10, params=params)[1][0], queries)
        recall = np.mean([len(truth[i] & set(r)) / 10 for i, r in enumerate(res)])
        params100 = faiss.SearchParametersHNSW(efSearch=max(ef, 100))
        _, p50k, _ = timed(
            lambda q, params100=params100: f.search(q[None], 100, params=params100)[1][0], queries
        )
        print(f"| faiss HNSWFlat | {fb:.1f} | {ef} | {recall:.3f} | {p50:.2f} | {p99:.2f} | {p50k:.2f} |")
        if not use_usearch:
            continue
        u.expansion_search = ef
        res, p50, p99 = timed(lambda q: u.search(q, 10).keys, queries)
        recall = np.mean([len(truth[i] & set(r)) / 10 for i, r in enumerate(res)])
        u.expansion_search = max(ef, 100)
        _, p50k, _ = timed(lambda q: u.search(q, 100).keys, queries)
        print(f"| usearch | {ub:.1f} | {ef} | {recall:.3f} | {p50:.2f} | {p99:.2f} | {p50k:.2f} |")


if __name__ == "__main__":
    main()
