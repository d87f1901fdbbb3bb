"""Digest delivery: how fast digests are composed and sent, and how often a sender killed with
SIGKILL at a random moment makes a reader get a digest twice.

A SQLite database (or PostgreSQL: --db postgresql, a throwaway cluster) gets the bundled demo corpus
(5,601 real papers over 20 feed days) and --subscribers active subscribers whose daily hour has just
passed, with varied categories, minimum upvotes and a saved search each; a loopback SMTP server
(dailypapers.testing.smtp) receives the mails.

1. Clean run: `dailypapers digest send --due` once; prints digests composed and mails sent per second
   (one process, one SMTP connection) and the sender's peak RSS.
2. Kill run (a fresh database): the sender is started again and again and killed with SIGKILL after
   a uniformly random delay in [--kill-min, --kill-max] seconds, until a run finishes by itself;
   then counts the readers who got a digest twice (the window: the SMTP server accepted the mail,
   the sender died before its `sent` mark committed) and checks that every reader got one.

    .venv/bin/python bench/digest_delivery.py --subscribers 1000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CATEGORIES = [[], ["cs.CV"], ["cs.CL"], ["cs.AI"], ["cs.CL", "cs.AI"], ["cs.LG"]]
SEARCHES = [
    ("diffusion", "video"),
    ("language model", "medical"),
    ("reinforcement learning", ""),
    ("benchmark", ""),
]


def prepare(url: str, subscribers: int, seed: int) -> None:
    from dailypapers.demo import build_demo_db
    from dailypapers.store.db import Database
    from dailypapers.store.tables import saved_searches
    from dailypapers.store.tables import subscribers as table

    db = Database(url)
    build_demo_db(db)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            table.insert(),
            [
                {
                    "email": f"reader{n:05d}@example.org",
                    "status": "active",
                    "categories": rng.choice(CATEGORIES),
                    "min_upvotes": rng.choice([0, 0, 0, 1, 5]),
                    "timezone": "UTC",
                    "send_hour": (now.hour - 1) % 24,
                    "max_papers": rng.choice([5, 10, 20]),
                    "created_at": now - timedelta(days=3),
                    "confirmed_at": now - timedelta(days=2),
                    "updated_at": now,
                }
                for n in range(subscribers)
            ],
        )
        ids = [r[0] for r in conn.execute(table.select().with_only_columns(table.c.id))]
        conn.execute(
            saved_searches.insert(),
            [
                {"subscriber_id": i, "include": inc, "exclude": exc, "position": 0}
                for i, (inc, exc) in ((i, rng.choice(SEARCHES)) for i in ids)
            ],
        )
    db.dispose()


def sender(url: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_SMTP_HOST": "127.0.0.1",
        "DAILYPAPERS_SMTP_PORT": str(smtp_port),
        "DAILYPAPERS_SITE_URL": "https://papers.example.org",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dailypapers.cli", "digest", "send", "--due"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def counts(url: str) -> tuple[int, int, int]:
    import sqlalchemy as sa

    from dailypapers.store.db import Database
    from dailypapers.store.tables import outbox

    db = Database(url)
    with db.read() as conn:
        rows = Counter(
            r[0] for r in conn.execute(sa.select(outbox.c.status).where(outbox.c.kind == "digest"))
        )
    db.dispose()
    return rows["sent"], rows["empty"], sum(rows.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--kill-min", type=float, default=0.3)
    ap.add_argument("--kill-max", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from dailypapers.testing.smtp import LoopbackSMTP

    rng = random.Random(args.seed)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digest-bench-")))
        if args.db == "postgresql":
            import sqlalchemy as sa

            from dailypapers.store.db import normalize_url
            from dailypapers.testing.postgres import throwaway_cluster

            server = stack.enter_context(throwaway_cluster())
            admin = sa.create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql("CREATE DATABASE clean")
                conn.exec_driver_sql("CREATE DATABASE killed")
            urls = [server.rsplit("/", 1)[0] + "/clean", server.rsplit("/", 1)[0] + "/killed"]
        else:
            urls = [f"sqlite:///{work / 'clean.db'}", f"sqlite:///{work / 'killed.db'}"]
        for url in urls:
            prepare(url, args.subscribers, args.seed)
        print(f"{args.db}: {args.subscribers:,} subscribers, demo corpus (5,601 papers, 20 feed days)")

        smtp = stack.enter_context(LoopbackSMTP())
        started = time.perf_counter()
        proc = sender(urls[0], smtp.port)
        out, _ = proc.communicate(timeout=3600)
        wall = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        sent, empty, total = counts(urls[0])
        print(f"clean run: {out.decode().strip()}")
        print(
            f"  {wall:.1f} s for {total:,} digests ({sent:,} sent, {empty:,} empty): {total / wall:,.0f} digests/s "
            f"composed and delivered, process start included; sender peak RSS {rss:,.0f} MiB"
        )

        killed = stack.enter_context(LoopbackSMTP())
        kills, runs = 0, 0
        while True:
            runs += 1
            proc = sender(urls[1], killed.port)
            try:
                proc.wait(timeout=rng.uniform(args.kill_min, args.kill_max))
                break  # finished by itself
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            if runs > 2000:
                raise SystemExit("the sender never finished")
        sent, empty, total = counts(urls[1])
        received = Counter(m.rcpt_tos[0] for m in killed.messages)
        twice = sum(1 for n in received.values() if n > 1)
        assert total == args.subscribers and sent == len(received), (total, sent, len(received))
        print(
            f"kill run: {kills} SIGKILLs at random moments (uniform {args.kill_min}–{args.kill_max} s after start), "
            f"{runs} starts; {total:,} digests, {sent:,} sent, every reader got theirs; "
            f"{twice} reader(s) got one twice ({sum(received.values()) - len(received)} extra mails)"
        )


if __name__ == "__main__":
    main()
