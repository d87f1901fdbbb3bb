"""The Hugging Face Hub's daily papers (`/api/daily_papers`): mirror a community feed.

Each run fetches every period from where the last run ended (minus `refresh_days`, because
upvotes keep changing for a few days) to today, by `date=YYYY-MM-DD` (or `week=YYYY-Www`,
`month=YYYY-MM`), `limit` papers a page and `p` pages until a short page. Each item becomes a
paper with its Hub upvotes and a feed entry on the day the Hub featured it. Conditional requests
use the ETag of each period's last answer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.formats import parse_hub_item
from dailypapers.ingest.sources.base import COMMUNITY, FeedError, Page, Request, Source

KIND = "hf-daily"
PAGE_LIMIT = 100
# The Hub's daily papers start in May 2023: an earlier --since would only ask for empty days.
HUB_FIRST_DAY = date(2023, 5, 1)
GRANULARITIES = ("date", "week", "month")


def parse_hub_page(body: bytes) -> Page:
    """The items of one /api/daily_papers answer (a JSON list, or an object with `data`)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedError(f"Hub answer is not JSON: {exc}", retryable=True) from None
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]
    if isinstance(doc, dict) and "error" in doc:
        raise FeedError(f"Hub API error: {str(doc['error'])[:200]}")
    if not isinstance(doc, list):
        raise FeedError(f"Hub answer is a JSON {type(doc).__name__}, expected a list")
    return Page(entries=doc)


def _periods(first: date, last: date, granularity: str) -> list[str]:
    keys: list[str] = []
    day = first
    while day <= last:
        if granularity == "date":
            key = day.isoformat()
        elif granularity == "week":
            year, week, _ = day.isocalendar()
            key = f"{year}-W{week:02d}"
        else:
            key = f"{day.year}-{day.month:02d}"
        if key not in keys:
            keys.append(key)
        day += timedelta(days=1)
    return keys


class HubDailySource(Source):
    """The Hub's daily papers, period by period."""

    kind = KIND
    features = COMMUNITY

    def __init__(
        self, base_url: str, *, granularity: str = "date", refresh_days: int = 3, start_days: int = 7
    ):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
        self.base_url = base_url.rstrip("/")
        self.granularity = granularity
        self.refresh_days = refresh_days
        self.start_days = start_days

    @property
    def name(self) -> str:
        return KIND if self.granularity == "date" else f"{KIND}:{self.granularity}"

    def begin(self, checkpoint: dict[str, Any] | None, since: date | None, today: date) -> dict[str, Any]:
        cp = checkpoint or {}
        etags = cp.get("etags", {})
        if cp.get("periods") and (since is None or cp.get("first") == max(since, HUB_FIRST_DAY).isoformat()):
            return cp  # an interrupted run (or the same --since again)
        if since is not None:
            first = max(since, HUB_FIRST_DAY)
        elif "last_date" in cp:
            first = date.fromisoformat(cp["last_date"]) - timedelta(days=self.refresh_days)
        else:
            first = today - timedelta(days=self.start_days)
        periods = _periods(first, today, self.granularity)
        return {
            "periods": periods,
            "index": 0,
            "page": 0,
            "first": first.isoformat(),
            "until": today.isoformat(),
            "etags": {k: v for k, v in etags.items() if k.split("#")[0] in periods},
        }

    def next_request(self, state: dict[str, Any]) -> Request | None:
        periods = state.get("periods") or []
        if state.get("index", 0) >= len(periods):
            return None
        key = periods[state["index"]]
        params = {self.granularity: key, "limit": str(PAGE_LIMIT), "p": str(state["page"])}
        headers = {}
        etag = state["etags"].get(f"{key}#{state['page']}")
        if etag:
            headers["If-None-Match"] = etag
        return Request(
            f"{self.base_url}/daily_papers", params, headers, label=f"{key} page {state['page'] + 1}"
        )

    def parse(self, body: bytes, request: Request) -> Page:
        page = parse_hub_page(body)
        if self.granularity == "date":
            page.info["day"] = request.params["date"]
        return page

    def normalize(self, entry: Any, page: Page) -> PaperRecord:
        day = date.fromisoformat(page.info["day"]) if page.info.get("day") else None
        return parse_hub_item(entry, day)

    def advance(
        self, state: dict[str, Any], request: Request, page: Page, headers: dict[str, str]
    ) -> dict[str, Any]:
        key = f"{request.params[self.granularity]}#{request.params['p']}"
        etags = dict(state["etags"])
        if headers.get("etag"):
            etags[key] = headers["etag"]
        # A full page may have a next one; a 304 means the page (and so its length) is unchanged.
        full = len(page.entries) >= PAGE_LIMIT and not page.not_modified
        if full:
            return {**state, "page": state["page"] + 1, "etags": etags}
        return {**state, "index": state["index"] + 1, "page": 0, "etags": etags}

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        # Only the periods the next run fetches again need their ETags.
        again = set(state["periods"][-(self.refresh_days + 1) :])
        etags = {k: v for k, v in state.get("etags", {}).items() if k.split("#")[0] in again}
        return {"last_date": state["until"], "etags": etags}
