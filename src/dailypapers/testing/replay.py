"""A local HTTP server that plays arXiv and the Hub from recorded data, and misbehaves on demand.

It answers the four source protocols from fixture files, with no network:

- `/api/query`: arXiv API. `id_list` queries replay recorded exchanges exactly; window queries
  (`cat:… AND submittedDate:[…]`) are answered from the pool of recorded <entry> elements,
  filtered and paged as the real API does (opensearch totals, `start`, `max_results`).
- `/oai`: OAI-PMH ListRecords over a list of arXiv-format <record>s, filtered by datestamp,
  in pages with resumption tokens (and `badResumptionToken` for a token it did not issue).
- `/rss/{cats}` and `/atom/{cats}`: announcement feed files, with ETag and 304.
- `/api/daily_papers?date=…`: Hub captures by day ([] for a day without one), with ETag and 304.

Faults are injected before the normal answer: `inject(Reply(...))` queues exact replies (429 with
Retry-After, 503, a delay longer than the client's timeout, a body cut short, malformed XML), and
`fault_rate` makes a seeded share of requests fail at random. `log` records every request.

Run it by hand: `python -m dailypapers.testing.replay tests/data/harvest --port 8765`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET


@dataclass
class Reply:
    """One answer. `truncate`: send only this many body bytes after announcing the full length;
    `delay`: seconds to wait before answering (a timeout when longer than the client's)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None


@dataclass
class Logged:
    """A request the server saw."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


def conditional(body: bytes, headers: dict[str, str], content_type: str) -> Reply:
    """A 200 with an ETag, or a 304 when the client already has this body."""
    tag = _etag(body)
    if headers.get("if-none-match") == tag:
        return Reply(304, b"", {"ETag": tag})
    return Reply(200, body, {"ETag": tag, "Content-Type": content_type})


# --- arXiv API ---------------------------------------------------------------------------------

_ATOM = "http://www.w3.org/2005/Atom"
_ARXIV = "http://arxiv.org/schemas/atom"
_ENTRY_RE = re.compile(rb"<entry>.*?</entry>", re.DOTALL)
_WINDOW_RE = re.compile(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]")
_CAT_RE = re.compile(r"cat:([\w.\-]+)")


class ArxivAPIApp:
    """Recorded exchanges for id lists; the pool of recorded entries for window queries."""

    def __init__(self, exchanges: list[dict]):
        self.exact: dict[tuple, dict] = {}
        self.pool: dict[str, tuple[bytes, str, list[str]]] = {}  # id → (entry xml, published, cats)
        for ex in exchanges:
            query = dict(parse_qsl(urlsplit(ex["url"]).query, keep_blank_values=True))
            if query.get("id_list"):
                self.exact[("id_list", query["id_list"])] = ex
            for raw in _ENTRY_RE.findall(_body_bytes(ex["body"])):
                element = SafeET.fromstring(
                    raw.replace(b"<entry>", f'<entry xmlns="{_ATOM}" xmlns:arxiv="{_ARXIV}">'.encode(), 1)
                )
                entry_id = element.findtext(f"{{{_ATOM}}}id") or ""
                if "/api/errors" in entry_id:
                    continue
                published = element.findtext(f"{{{_ATOM}}}published") or ""
                cats = [c.get("term", "") for c in element.findall(f"{{{_ATOM}}}category")]
                self.pool[entry_id.rsplit("v", 1)[0]] = (raw, published, cats)

    def __call__(self, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if query.get("id_list"):
            ex = self.exact.get(("id_list", query["id_list"]))
            if ex is None:
                return Reply(200, _feed([], 0, 0, 0))
            return Reply(ex["status_code"], _body_bytes(ex["body"]), {"Content-Type": "application/atom+xml"})
        search = query.get("search_query", "")
        window = _WINDOW_RE.search(search)
        cats = set(_CAT_RE.findall(search))
        if not window or not cats:
            return Reply(400, _error_feed("unsupported query in the replay server: " + search))
        first, last = window.group(1), window.group(2)
        hits = sorted(
            (published, raw)
            for raw, published, entry_cats in self.pool.values()
            if first <= published[:10].replace("-", "") <= last and cats.intersection(entry_cats)
        )
        start, size = int(query.get("start", "0")), int(query.get("max_results", "10"))
        page = [raw for _, raw in hits[start : start + size]]
        return Reply(200, _feed(page, len(hits), start, size), {"Content-Type": "application/atom+xml"})


def _body_bytes(text: str) -> bytes:
    """The recorded body's bytes: the recorder (arxiv.py's fixtures) stored them decoded as Latin-1."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _feed(entries: list[bytes], total: int, start: int, per_page: int) -> bytes:
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{_ATOM}" '
        f'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="{_ARXIV}">\n'
        f"<id>https://arxiv.org/api/replay</id><title>arXiv Query</title>"
        f"<opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>\n"
    ).encode()
    return head + b"\n".join(entries) + b"\n</feed>\n"


def _error_feed(message: str) -> bytes:
    entry = (
        f"<entry><id>https://arxiv.org/api/errors#replay</id><title>Error</title>"
        f"<summary>{escape(message)}</summary></entry>"
    ).encode()
    return _feed([entry], 1, 0, 1)


# --- OAI-PMH -----------------------------------------------------------------------------------

_OAI = "http://www.openarchives.org/OAI/2.0/"
_DATESTAMP_RE = re.compile(rb"<datestamp>(\d{4}-\d{2}-\d{2})</datestamp>")
_RECORD_RE = re.compile(rb"<record>.*?</record>", re.DOTALL)


class OAIApp:
    """ListRecords over recorded arXiv-format records, `page_size` a page, with resumption tokens."""

    def __init__(self, records: list[bytes], page_size: int = 50):
        self.records = sorted(records, key=lambda r: (_DATESTAMP_RE.search(r).group(1), r))  # type: ignore[union-attr]
        self.page_size = page_size

    def __call__(self, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if query.get("verb") != "ListRecords":
            return Reply(200, self._error("badVerb", "only ListRecords is replayed"))
        if "resumptionToken" in query:
            try:
                first, last, offset = query["resumptionToken"].split("|")
                offset_n = int(offset)
            except ValueError:
                return Reply(
                    200,
                    self._error(
                        "badResumptionToken",
                        "The value of the resumptionToken argument is invalid or expired.",
                    ),
                )
        else:
            if query.get("metadataPrefix") != "arXiv":
                return Reply(200, self._error("cannotDisseminateFormat", "only arXiv metadata is replayed"))
            first, last, offset_n = query.get("from", "0000-00-00"), query.get("until", "9999-99-99"), 0
        chosen = [r for r in self.records if first <= _DATESTAMP_RE.search(r).group(1).decode() <= last]  # type: ignore[union-attr]
        if not chosen:
            return Reply(200, self._error("noRecordsMatch", "No records match"))
        page = chosen[offset_n : offset_n + self.page_size]
        after = offset_n + len(page)
        token = f"{first}|{last}|{after}" if after < len(chosen) else ""
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="{_OAI}">'
            f"<responseDate>{datetime.now().strftime('%Y-%m-%dT%H:%M:%SZ')}</responseDate>"
            f'<request verb="ListRecords">http://replay/oai</request><ListRecords>\n'
        ).encode()
        body += b"\n".join(page)
        body += f'\n<resumptionToken cursor="{offset_n}" completeListSize="{len(chosen)}">{token}</resumptionToken>'.encode()
        body += b"</ListRecords></OAI-PMH>\n"
        return Reply(200, body, {"Content-Type": "text/xml"})

    @staticmethod
    def _error(code: str, message: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="{_OAI}"><responseDate>'
            f"{datetime.now().strftime('%Y-%m-%dT%H:%M:%SZ')}</responseDate><request>http://replay/oai</request>"
            f'<error code="{code}">{escape(message)}</error></OAI-PMH>\n'
        ).encode()


# --- the server --------------------------------------------------------------------------------

App = Callable[[dict[str, str], dict[str, str]], Reply]


class ReplayServer:
    """A threaded HTTP server on 127.0.0.1 that routes by path prefix to apps."""

    def __init__(
        self,
        routes: dict[str, Callable[[str, dict[str, str], dict[str, str]], Reply]],
        *,
        port: int = 0,
        fault_rate: float = 0.0,
        seed: int = 0,
        fault_delay: float = 3.0,
        retry_after: str = "1",
    ):
        self.routes = routes
        self.faults: deque[Reply] = deque()
        self.fault_rate = fault_rate
        self.fault_delay = fault_delay
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one segment (else Nagle meets delayed ACKs: ~40 ms a request).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, before the normal answers."""
        with self._lock:
            self.faults.extend(replies)

    def _random_fault(self) -> Reply | None:
        if self.fault_rate <= 0 or self.rng.random() >= self.fault_rate:
            return None
        kind = self.rng.choice(["429", "503", "slow", "truncated", "reset"])
        if kind == "429":
            return Reply(429, b"Too Many Requests", {"Retry-After": self.retry_after})
        if kind == "503":
            return Reply(503, b"Service Unavailable", {"Retry-After": self.retry_after})
        if kind == "slow":  # the real answer, late: a timeout for a client less patient than fault_delay
            return Reply(0, b"", delay=self.fault_delay)
        return Reply(200, b"", truncate=-1)  # the real body, cut in half

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            fault = self.faults.popleft() if self.faults else self._random_fault()
        reply = None
        for prefix, app in self.routes.items():
            if parts.path.startswith(prefix):
                reply = app(parts.path[len(prefix) :], query, headers)
                break
        if reply is None:
            reply = Reply(404, b"not found")
        if fault is not None:
            if fault.truncate == -1:  # cut the real answer in half
                fault = Reply(reply.status, reply.body, reply.headers, fault.delay, len(reply.body) // 2)
            elif fault.status == 0:  # the real answer after a delay
                fault = Reply(reply.status, reply.body, reply.headers, fault.delay)
            reply = fault
        with self._lock:
            self.log.append(Logged(parts.path, query, headers, time.monotonic(), reply.status))
        if reply.delay:
            time.sleep(reply.delay)
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            if reply.truncate is not None:
                handler.send_header("Connection", "close")
            handler.end_headers()
            body = reply.body if reply.truncate is None else reply.body[: reply.truncate]
            handler.wfile.write(body)
            handler.wfile.flush()
            if reply.truncate is not None:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client gave up (its timeout) while we were slow


class _QuietServer(ThreadingHTTPServer):
    """A client that gives up (its timeout, a kill -9) is normal here: no traceback for it."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _prefixless(app: App) -> Callable[[str, dict[str, str], dict[str, str]], Reply]:
    return lambda rest, query, headers: app(query, headers)


def feeds_app(directory: Path) -> Callable[[str, dict[str, str], dict[str, str]], Reply]:
    """/rss/{cats} and /atom/{cats}: the file `{format}-{cats}.xml` of `directory`."""

    def app(rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        fmt, _, cats = rest.strip("/").partition("/")
        path = directory / f"{fmt}-{cats.replace('+', '_')}.xml"
        if not cats or not path.is_file():
            return Reply(404, b"Feed not found")
        kind = "application/rss+xml" if fmt == "rss" else "application/atom+xml"
        return conditional(path.read_bytes(), headers, kind)

    return app


def _hub_days(query: dict[str, str]) -> list[date]:
    """The days a daily_papers query covers: date=YYYY-MM-DD, week=YYYY-Www or month=YYYY-MM."""
    from datetime import timedelta

    if "date" in query:
        return [date.fromisoformat(query["date"])]
    if "week" in query:
        year, _, week = query["week"].partition("-W")
        first = date.fromisocalendar(int(year), int(week), 1)
        return [first + timedelta(days=i) for i in range(7)]
    if "month" in query:
        first = date.fromisoformat(query["month"] + "-01")
        days = []
        while first.month == int(query["month"][5:7]):
            days.append(first)
            first += timedelta(days=1)
        return days
    raise ValueError("one of date, week or month is required")


def hub_app(directory: Path) -> Callable[[str, dict[str, str], dict[str, str]], Reply]:
    """/api/daily_papers?date=D (or week=, month=)&limit=N&p=P: the captures `D.json` of
    `directory` for those days, paged; [] for days without one."""

    def app(rest: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if rest.strip("/") != "daily_papers":
            return Reply(404, b'{"error":"not found"}')
        try:
            days = _hub_days(query)
        except ValueError as exc:
            return Reply(400, json.dumps({"error": str(exc)}).encode())
        items = []
        for day in days:
            path = directory / f"{day.isoformat()}.json"
            if path.is_file():
                items += json.loads(path.read_bytes())
        limit, page = int(query.get("limit", "50")), int(query.get("p", "0"))
        body = json.dumps(items[page * limit : (page + 1) * limit]).encode()
        return conditional(body, headers, "application/json")

    return app


def harvest_routes(
    data: Path, *, oai_page_size: int = 50
) -> dict[str, Callable[[str, dict[str, str], dict[str, str]], Reply]]:
    """The routes for a fixture directory laid out like tests/data/harvest."""
    exchanges = [json.loads(p.read_text()) for p in sorted((data / "arxiv-api").glob("*.json"))]
    records: list[bytes] = []
    for page in sorted((data / "oai").glob("*.xml")):
        records += _RECORD_RE.findall(page.read_bytes())
    return {
        "/api/query": _prefixless(ArxivAPIApp(exchanges)),
        "/oai": _prefixless(OAIApp(records, oai_page_size)),
        "/api/": hub_app(data / "hub"),
        "/": feeds_app(data / "rss"),
    }


def main() -> None:
    """Serve a fixture directory until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="fixture directory (like tests/data/harvest)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of requests answered with a fault"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = ReplayServer(
        harvest_routes(args.data), port=args.port, fault_rate=args.fault_rate, seed=args.seed
    )
    print(f"Replaying {args.data} on {server.url}  (Ctrl-C to stop)")
    print(f"  DAILYPAPERS_ARXIV_API_URL={server.url}/api/query")
    print(f"  DAILYPAPERS_ARXIV_OAI_URL={server.url}/oai")
    print(f"  DAILYPAPERS_ARXIV_RSS_URL={server.url}/rss")
    print(f"  DAILYPAPERS_HUB_API_URL={server.url}/api")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
