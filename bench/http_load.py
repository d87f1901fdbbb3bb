"""HTTP load as users make it: `dailypapers serve` over the demo database, many clients at once (wrk).

Prints, per page kind, requests per second, latency p50 / p99 and the count of non-2xx answers and
socket errors. Needs Debian's `wrk`. Usage:

    .venv/bin/python bench/http_load.py [--connections 16] [--seconds 10] [--database-url URL] [--only 'feed day,paper']

Without --database-url the demo database is built in a temporary folder (SQLite).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dailypapers.testing.server import free_port, wait_until_serving

TARGETS = {
    "feed day": "/papers/date/2026-06-30",
    "feed month": "/papers/month/2026-06",
    "paper": "/papers/2606.31315",
    "search keyword": "/search?q=contrastive+learning&mode=keyword",
    "search hybrid": "/search?q=contrastive+learning",
    "search vector": "/search?q=contrastive+learning&mode=vector",
    "hub daily": "/api/daily_papers?date=2026-06-30&limit=50",
    "hub paper": "/api/papers/2606.31315",
    "v1 feed day": "/api/v1/feeds/date/2026-06-30?limit=50",
    "v1 paper": "/api/v1/papers/2606.31315",
    "atom daily": "/feed.atom",
    "atom search": "/search.atom?q=contrastive+learning",
    "bibtex day": "/papers/date/2026-06-30.bib",
}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, connections: int, seconds: int) -> dict[str, float]:
    """One wrk run; its throughput, latency percentiles and error counts."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "30s",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", help="serve this database instead of a fresh demo SQLite file")
    parser.add_argument("--only", help="comma-separated page names to load (default: all)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian package wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url
        if url is None:
            from dailypapers.demo import build_demo_db
            from dailypapers.store.db import Database

            url = f"sqlite:///{Path(tmp) / 'demo.db'}"
            build_demo_db(Database(url))
        port = free_port()
        # One address makes every request: the per-address API limit would answer most of them 429.
        env = {
            **os.environ,
            "DAILYPAPERS_DATABASE_URL": url,
            "DAILYPAPERS_API_RATE_LIMIT_ADDRESS": "100000000/minute",
        }
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dailypapers.cli", "serve", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until_serving(base, proc, log_path)
                for path in TARGETS.values():  # warm: model, indexes, caches
                    run_wrk(base + path, 1, 1)
                print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, one `dailypapers serve` process")
                print(f"{'page':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'sock err':>8}")
                chosen = args.only.split(",") if args.only else list(TARGETS)
                for name, path in TARGETS.items():
                    if name not in chosen:
                        continue
                    r = run_wrk(base + path, args.connections, args.seconds)
                    print(
                        f"{name:<16} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                        f"{int(r['non2xx']):>8} {int(r['socket_errors']):>8}"
                    )
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:  # a server stuck in a deadlock ignores SIGTERM
                    proc.kill()


if __name__ == "__main__":
    main()
