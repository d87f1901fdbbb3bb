"""The remote sources of papers, one module each, behind the Source interface of base.py."""

from __future__ import annotations

from urllib.parse import urlsplit

from dailypapers.core.settings import Settings
from dailypapers.ingest.http import PoliteClient
from dailypapers.ingest.sources.arxiv_api import ArxivAPISource
from dailypapers.ingest.sources.arxiv_oai import ArxivOAISource
from dailypapers.ingest.sources.arxiv_rss import ArxivRSSSource
from dailypapers.ingest.sources.base import Source
from dailypapers.ingest.sources.hub import HubDailySource

SOURCE_KINDS = ("arxiv-rss", "arxiv-api", "arxiv-oai", "hf-daily")


def build_source(
    kind: str,
    settings: Settings,
    *,
    categories: list[str] | None = None,
    ids: list[str] | None = None,
    oai_set: str | None = None,
    granularity: str = "date",
) -> Source:
    """The source `kind` configured from settings (and the command line's overrides)."""
    cats = categories or settings.category_list()
    if kind == "arxiv-rss":
        return ArxivRSSSource(settings.arxiv_rss_url, cats)
    if kind == "arxiv-api":
        return ArxivAPISource(settings.arxiv_api_url, cats, ids=ids, start_days=settings.ingest_start_days)
    if kind == "arxiv-oai":
        return ArxivOAISource(
            settings.arxiv_oai_url, oai_set or settings.arxiv_oai_set, start_days=settings.ingest_start_days
        )
    if kind == "hf-daily":
        return HubDailySource(
            settings.hub_api_url,
            granularity=granularity,
            refresh_days=settings.hub_refresh_days,
            start_days=settings.ingest_start_days,
        )
    raise ValueError(f"unknown source {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")


def build_client(settings: Settings) -> PoliteClient:
    """The HTTP client of a run: arXiv hosts get arxiv_request_interval, the Hub hub_request_interval."""
    intervals = {}
    for url in (settings.arxiv_api_url, settings.arxiv_oai_url, settings.arxiv_rss_url):
        intervals[urlsplit(url).netloc] = settings.arxiv_request_interval
    intervals[urlsplit(settings.hub_api_url).netloc] = settings.hub_request_interval
    return PoliteClient(
        contact=settings.contact_email,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        max_wait=settings.http_max_wait,
        backoff_base=settings.http_backoff,
        intervals=intervals,
        default_interval=settings.arxiv_request_interval,
    )
