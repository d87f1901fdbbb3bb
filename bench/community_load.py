"""Community load: concurrent members voting and commenting against `dailypapers serve`, on SQLite
and PostgreSQL, with the final counts checked exactly.

The demo corpus is loaded into a fresh database (SQLite in a temporary folder; PostgreSQL: a
throwaway cluster with fsync on, or --database-url), --members confirmed members are made and signed
in (services.accounts), and `dailypapers serve` (one uvicorn process) is started on it with
DAILYPAPERS_COMMENT_RATE_LIMIT raised so the per-member comment limit does not refuse the load. Each
member is one httpx client with its own keep-alive connection, its session cookie and the CSRF token
of its /account page, and works through its own list: an upvote on each of --papers papers (the
same papers for every member of a phase: hot rows), removing some of them again afterwards, and
--comments comments (half of them replies to its previous one), all POSTs with Accept:
application/json.

Two phases for each count in --members, each on fresh papers: back to back (every member sends its
next request as soon as its last one is answered: the server's saturated throughput, and the latency
of that queue) and paced (requests arrive as one Poisson process offering --rate votes/s, plus the
comments in proportion, each the next request of a member drawn at random: the latency at that
rate). Per phase and operation it prints count, ops/s, p50/p95/p99 latency (ms) and errors by
status, and the CPU each party used (this load generator, which shares the machine's cores; the
server process; PostgreSQL; the rest of the machine) with the server's CPU per request. Afterwards it checks that each paper's votes rows are exactly the members whose
last action on it was an upvote, that papers.vote_count and /papers/<id>.json `upvotes_local` agree,
and that papers.comment_count, the thread and the comment rows hold exactly the comments posted;
exits 1 when a count is wrong or any request failed.

    .venv/bin/python bench/community_load.py                       # both databases, 50 and 100 members
    .venv/bin/python bench/community_load.py --db sqlite --members 100 --rate 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

COMMENT_RATE_LIMIT = 1_000_000
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
KINDS = ("upvote", "remove vote", "comment", "reply")


@dataclass
class Account:
    """A member as the load generator knows it: who, its session token, its papers' expected state."""

    username: str
    password: str
    user_id: int = 0
    token: str = ""
    voted: dict[str, bool] = field(default_factory=dict)  # arxiv_id -> its last successful action


@dataclass
class Op:
    kind: str  # one of KINDS
    arxiv_id: str
    reply: bool = False


@dataclass
class Tally:
    """What a phase measured: latencies (s) and errors per operation kind, comments posted per paper."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    comments: Counter[str] = field(default_factory=Counter)
    wrong_answers: list[str] = field(default_factory=list)


# --- the database and its members ---------------------------------------------------------------


def prepare(url: str, members: int) -> tuple[list[Account], list[str]]:
    """Load the demo corpus into `url`, make and sign in `members` members; the accounts, and the
    paper ids the phases vote on (the newest feed days' papers first)."""
    import sqlalchemy as sa

    from dailypapers.core.settings import Settings
    from dailypapers.demo import build_demo_db
    from dailypapers.services import accounts
    from dailypapers.store.db import Database
    from dailypapers.store.tables import papers

    settings = Settings(database_url=url)
    db = Database(url)
    build_demo_db(db, settings)
    now = datetime.now(UTC)
    people = [Account(f"bench{n:04d}", secrets.token_urlsafe(12)) for n in range(members)]

    def make(account: Account) -> None:  # argon2id hashing releases the GIL: two at a time
        member = accounts.create_user(
            db, settings, account.username, f"{account.username}@example.org", account.password, "member", now
        )
        account.user_id = member.id
        account.token = accounts.sign_in(db, settings, account.username, account.password, "127.0.0.1", now)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(make, people))
    with db.read() as conn:
        ids = [
            r[0]
            for r in conn.execute(sa.select(papers.c.arxiv_id).order_by(papers.c.arxiv_id.desc()).limit(2000))
        ]
    db.dispose()
    return people, ids


@contextmanager
def serving(url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """`dailypapers serve` on `url`; yields its base URL and process id."""
    from dailypapers.testing.server import free_port, wait_until_serving

    port = free_port()
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_COMMENT_RATE_LIMIT": str(COMMENT_RATE_LIMIT),
    }
    log_path = workdir / "server.log"
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
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            errors = [line for line in log_path.read_text().splitlines() if "Traceback" in line]
            if errors:
                print(f"  the server logged {len(errors)} traceback(s): {log_path}")


# --- CPU accounting -------------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def _postgres_pids(port: int | None) -> list[int]:
    """The PostgreSQL server listening on `port` and its backends (by command line and parent)."""
    if port is None:
        return []
    parents: dict[int, int] = {}
    postmaster = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents[int(entry.name)] = ppid
        if cmdline and cmdline[0].endswith(b"postgres") and str(port).encode() in cmdline:
            postmaster = int(entry.name)
    if postmaster is None:
        return []
    return [postmaster, *(pid for pid, ppid in parents.items() if ppid == postmaster)]


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICK, sum(values[:8]) / CLOCK_TICK


@dataclass
class CpuSnapshot:
    client: float
    server: float
    postgres: dict[int, float]
    busy: float
    total: float

    @classmethod
    def take(cls, server_pid: int, pg_port: int | None) -> CpuSnapshot:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = _machine_cpu()
        return cls(
            usage.ru_utime + usage.ru_stime,
            _proc_cpu(server_pid),
            {pid: _proc_cpu(pid) for pid in _postgres_pids(pg_port)},
            busy,
            total,
        )

    def line(self, before: CpuSnapshot, wall: float, requests: int) -> str:
        client, server = self.client - before.client, self.server - before.server
        pg = sum(v - before.postgres.get(pid, 0.0) for pid, v in self.postgres.items())
        busy = self.busy - before.busy
        cores = (self.total - before.total) / wall
        other = max(0.0, busy - client - server - pg)
        share = " ".join(
            f"{name} {sec / wall:.2f}"
            for name, sec in (
                ("load generator", client),
                ("server", server),
                ("postgres", pg),
                ("rest", other),
            )
            if name != "postgres" or self.postgres
        )
        return (
            f"  CPU, cores busy on average (of {cores:.0f}): {share}; idle {(cores - busy / wall):.2f}; "
            f"server {1000 * server / max(1, requests):.1f} ms CPU per request"
        )


# --- the load -------------------------------------------------------------------------------------


def plan(rng: random.Random, papers: list[str], comments: int, remove_share: float) -> list[Op]:
    """One member's requests in order: an upvote on each paper, some removed after their upvote,
    and comments (after the first, half of them replies to the member's previous comment)."""
    ops = [Op("upvote", p) for p in rng.sample(papers, len(papers))]
    for paper in rng.sample(papers, round(len(papers) * remove_share)):
        after = next(i for i, op in enumerate(ops) if op.arxiv_id == paper and op.kind == "upvote")
        ops.insert(rng.randint(after + 1, len(ops)), Op("remove vote", paper))
    for n in range(comments):
        reply = n > 0 and rng.random() < 0.5
        ops.insert(rng.randint(0, len(ops)), Op("reply" if reply else "comment", rng.choice(papers), reply))
    # A reply goes under the member's previous comment, so it names that comment's paper.
    last: str | None = None
    for op in ops:
        if op.kind == "reply":
            if last is None:
                op.kind, op.reply = "comment", False
            else:
                op.arxiv_id = last
        if op.kind in ("comment", "reply"):
            last = op.arxiv_id
    return ops


async def open_member(base: str, account: Account) -> Session:
    """A client with the member's session cookie, one keep-alive connection, and its CSRF token
    (from its /account page, which also sets the dp_csrf cookie)."""
    client = httpx.AsyncClient(
        base_url=base,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=60.0,
    )
    client.cookies.set("dp_session", account.token)
    page = await client.get("/account")
    found = CSRF_FIELD.search(page.text)
    if page.status_code != 200 or found is None or "dp_csrf" not in client.cookies:
        raise SystemExit(f"{account.username}: /account answered {page.status_code} without a CSRF token")
    return Session(account, client, found.group(1))


@dataclass
class Session:
    """A member's open client: its connection, CSRF token, and its latest comment (a reply's parent)."""

    account: Account
    client: httpx.AsyncClient
    csrf: str
    last_comment: int | None = None


async def send(session: Session, op: Op, tally: Tally, rng: random.Random) -> None:
    """One request of a member, timed from sending to the whole answer; what it changed is noted
    (the member's vote state, the comment count) so the counts can be checked afterwards."""
    account, page = session.account, f"/papers/{op.arxiv_id}"
    up = op.kind == "upvote"
    data = {"csrf_token": session.csrf, "next": page}
    if op.kind in ("upvote", "remove vote"):
        path, ok = f"{page}/vote", 200
        data["value"] = "1" if up else "0"
    else:
        path, ok = f"{page}/comments", 201
        data["body"] = f"{account.username} on $x^2$ #{rng.randrange(10**6)}"
        if op.reply and session.last_comment is not None:
            data["parent_id"] = str(session.last_comment)
    started = time.perf_counter()
    try:
        response = await session.client.post(path, data=data, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        tally.errors[op.kind][type(exc).__name__] += 1
        return
    tally.latencies[op.kind].append(time.perf_counter() - started)
    if response.status_code != ok:
        tally.errors[op.kind][str(response.status_code)] += 1
        return
    answer = response.json()
    if path.endswith("/vote"):
        account.voted[op.arxiv_id] = up
        right = answer.get("voted") is up and answer.get("arxiv_id") == op.arxiv_id
    else:
        session.last_comment = answer.get("id")
        tally.comments[op.arxiv_id] += 1
        right = isinstance(session.last_comment, int)
    if not right:
        tally.wrong_answers.append(f"{account.username} {op.kind} {op.arxiv_id}: {answer}")


async def closed_loop(
    sessions: list[Session], plans: list[list[Op]], tally: Tally, rng: random.Random
) -> None:
    """Every member sends its next request as soon as its last one is answered."""

    async def member(session: Session, ops: list[Op], rng: random.Random) -> None:
        for op in ops:
            await send(session, op, tally, rng)

    await asyncio.gather(
        *(member(s, ops, random.Random(rng.random())) for s, ops in zip(sessions, plans, strict=True))
    )


async def paced(
    sessions: list[Session], plans: list[list[Op]], tally: Tally, rng: random.Random, rate: float
) -> None:
    """Requests arrive as a Poisson process of `rate` per second, in all; each arrival is the next
    request of a member drawn at random (every member's requests spread over the whole phase, in
    order); a member still waiting for its previous answer sends when that one comes."""
    order = [n for n, ops in enumerate(plans) for _ in ops]
    rng.shuffle(order)
    pending = [iter(ops) for ops in plans]
    previous: list[asyncio.Task[None] | None] = [None] * len(sessions)

    async def after(before: asyncio.Task[None] | None, session: Session, op: Op) -> None:
        if before is not None:
            await before
        await send(session, op, tally, rng)

    due = time.perf_counter()
    for n in order:
        due += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        previous[n] = asyncio.create_task(after(previous[n], sessions[n], next(pending[n])))
    await asyncio.gather(*(t for t in previous if t is not None))


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of `values`, in ms."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def report(tally: Tally, wall: float) -> None:
    print(
        f"    {'operation':<12} {'count':>6} {'ops/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  errors"
    )
    groups = {"votes": ("upvote", "remove vote"), "comments": ("comment", "reply")}
    rows = [(kind, (kind,)) for kind in KINDS] + list(groups.items())
    for name, kinds in rows:
        lat = [v for k in kinds for v in tally.latencies[k]]
        errors = sum((tally.errors[k] for k in kinds), Counter())
        count = len(lat) + sum(1 for k in kinds for e in tally.errors[k] if not e.isdigit())
        if not count:
            continue
        err = ", ".join(f"{n}× {s}" for s, n in sorted(errors.items())) or "none"
        stats = (
            f"{percentile(lat, 50):>7.1f} {percentile(lat, 95):>7.1f} {percentile(lat, 99):>7.1f}"
            if lat
            else f"{'-':>7} {'-':>7} {'-':>7}"
        )
        print(f"    {name:<12} {count:>6} {len(lat) / wall:>7.1f} {stats}  {err}")


async def phase(
    base: str,
    people: list[Account],
    papers: list[str],
    args: argparse.Namespace,
    paced_rate: float,
    seed: int,
    cpu: Callable[[], CpuSnapshot],
) -> tuple[Tally, float, str]:
    """One phase: every member's plan, back to back (`paced_rate` 0) or paced; the tally, the wall
    time of the load and its CPU line."""
    rng = random.Random(seed)
    plans = [plan(random.Random(rng.random()), papers, args.comments, args.remove_share) for _ in people]
    ops = sum(len(p) for p in plans)
    votes = sum(1 for p in plans for op in p if op.kind in ("upvote", "remove vote"))
    sessions = await asyncio.gather(*(open_member(base, a) for a in people))
    tally = Tally()
    try:
        before, started = cpu(), time.perf_counter()
        if paced_rate:  # --rate votes/s, the comments in proportion
            await paced(sessions, plans, tally, rng, paced_rate * ops / votes)
        else:
            await closed_loop(sessions, plans, tally, rng)
        wall = time.perf_counter() - started
        used = cpu().line(before, wall, sum(len(v) for v in tally.latencies.values()))
    finally:
        await asyncio.gather(*(s.client.aclose() for s in sessions))
    return tally, wall, used


# --- checking the counts --------------------------------------------------------------------------


def check_counts(
    url: str, base: str, people: list[Account], comments: Counter[str], touched: set[str]
) -> list[str]:
    """Every way the database and the server disagree with what the members did (empty: exact)."""
    import sqlalchemy as sa

    from dailypapers.core.settings import Settings
    from dailypapers.services.comments import thread
    from dailypapers.store.db import Database
    from dailypapers.store.tables import comments as comments_table
    from dailypapers.store.tables import papers, votes

    expected: dict[str, set[int]] = {p: set() for p in touched}
    for account in people:
        for paper, voted in account.voted.items():
            if voted:
                expected[paper].add(account.user_id)
    settings = Settings(database_url=url)
    db = Database(url)
    problems: list[str] = []
    ids = sorted(touched)
    with db.read() as conn:
        rows: dict[str, set[int]] = defaultdict(set)
        for user_id, paper in conn.execute(
            sa.select(votes.c.user_id, votes.c.arxiv_id).where(votes.c.arxiv_id.in_(ids))
        ):
            rows[paper].add(user_id)
        counts = {
            r.arxiv_id: (r.vote_count, r.comment_count)
            for r in conn.execute(
                sa.select(papers.c.arxiv_id, papers.c.vote_count, papers.c.comment_count).where(
                    papers.c.arxiv_id.in_(ids)
                )
            )
        }
        stored_comments = Counter(
            r[0]
            for r in conn.execute(
                sa.select(comments_table.c.arxiv_id).where(
                    comments_table.c.arxiv_id.in_(ids), comments_table.c.deleted_at.is_(None)
                )
            )
        )
    now = datetime.now(UTC)
    with httpx.Client(base_url=base, timeout=30.0) as client:
        for paper in ids:
            want, want_comments = len(expected[paper]), comments[paper]
            if rows[paper] != expected[paper]:
                problems.append(
                    f"{paper}: votes rows ({len(rows[paper])}) are not the {want} members whose last action was an upvote"
                )
            if counts[paper][0] != want:
                problems.append(f"{paper}: papers.vote_count {counts[paper][0]} ≠ {want}")
            shown = client.get(f"/papers/{paper}.json").json()
            if shown.get("upvotes_local") != want:
                problems.append(
                    f"{paper}: /papers/{paper}.json upvotes_local {shown.get('upvotes_local')} ≠ {want}"
                )
            if counts[paper][1] != want_comments or stored_comments[paper] != want_comments:
                problems.append(
                    f"{paper}: comment_count {counts[paper][1]}, rows {stored_comments[paper]} ≠ {want_comments} posted"
                )
            view = thread(db, settings, paper, None, now)
            if view.count != want_comments or _tree_size(view.comments) != want_comments:
                problems.append(f"{paper}: thread count {view.count} ≠ {want_comments} posted")
    db.dispose()
    return problems


def _tree_size(nodes: list[Any]) -> int:
    """Comments in a thread's tree (replies included)."""
    return sum(1 + _tree_size(n.replies) for n in nodes)


# --- one database ---------------------------------------------------------------------------------


def run_database(kind: str, url: str | None, args: argparse.Namespace, stack: ExitStack) -> bool:
    """Every phase on one database; True when no request failed and every count is exact."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="community-bench-")))
    pg_port = None
    if url is None and kind == "postgresql":
        from dailypapers.testing.postgres import throwaway_cluster

        url = stack.enter_context(throwaway_cluster(fsync=True))
    elif url is None:
        url = f"sqlite:///{work / 'bench.db'}"
    if url.startswith("postgresql"):
        found = re.search(r":(\d+)/", url)
        pg_port = int(found.group(1)) if found else None
    started = time.perf_counter()
    people, ids = prepare(url, max(args.members))
    print(
        f"{kind}: demo corpus, {len(people)} members made and signed in ({time.perf_counter() - started:.1f} s); "
        f"`dailypapers serve` (one uvicorn process) with DAILYPAPERS_COMMENT_RATE_LIMIT={COMMENT_RATE_LIMIT}"
    )
    ok = True
    touched: set[str] = set()
    comments: Counter[str] = Counter()
    with serving(url, work) as (base, server_pid):
        for n, (count, rate) in enumerate((c, r) for c in args.members for r in (0.0, args.rate)):
            papers = ids[n * args.papers : (n + 1) * args.papers]  # fresh papers each phase
            touched.update(papers)
            cpu = partial(CpuSnapshot.take, server_pid, pg_port)
            tally, wall, used = asyncio.run(
                phase(base, people[:count], papers, args, rate, args.seed + n, cpu)
            )
            offered = f"Poisson arrivals offering {rate:g} votes/s" if rate else "back to back"
            print(f"  {count} members, {args.papers} papers, {offered}: {wall:.1f} s")
            report(tally, wall)
            print(used)
            comments.update(tally.comments)
            failed = sum(sum(e.values()) for e in tally.errors.values())
            for wrong in tally.wrong_answers[:5]:
                print(f"  wrong answer: {wrong}")
            ok = ok and not failed and not tally.wrong_answers
        problems = check_counts(url, base, people, comments, touched)
    for problem in problems[:20]:
        print(f"  COUNT WRONG {problem}")
    print(
        f"  counts: {len(touched)} papers checked (votes rows, papers.vote_count, upvotes_local, "
        f"comment_count, thread): {'exact' if not problems else f'{len(problems)} wrong'}"
    )
    return ok and not problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", "--database", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--database-url", help="a PostgreSQL database to fill instead of a throwaway cluster")
    ap.add_argument(
        "--members", type=lambda s: [int(v) for v in s.split(",")], default=[50, 100], help="e.g. 50,100"
    )
    ap.add_argument("--papers", type=int, default=20, help="papers each member votes on, per phase")
    ap.add_argument("--comments", type=int, default=3, help="comments each member posts, per phase")
    ap.add_argument("--remove-share", type=float, default=0.3, help="share of upvotes removed again")
    ap.add_argument("--rate", type=float, default=200.0, help="votes/s offered in the paced phases")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"load generator: this process (asyncio + httpx, one connection per member) on {os.cpu_count()} cores"
    )
    ok = True
    for kind in kinds:
        with ExitStack() as stack:
            url = args.database_url if kind == "postgresql" else None
            ok = run_database(kind, url, args, stack) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
