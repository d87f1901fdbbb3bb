"""arXiv OAI-PMH: bulk harvesting of a whole archive (`ListRecords`, `metadataPrefix=arXiv`).

A run asks for the records of one set (`cs`, `math`, `physics:hep-th`) whose datestamp lies in
[from, until], then follows `resumptionToken`s until the list is complete. The token is stored in
the checkpoint with each page, so a killed harvest resumes at the page it was on. When a stored
token has expired (`badResumptionToken`) the run starts its window again; records are idempotent.
Each complete run remembers its `until`, and the next one starts there (OAI datestamps are days:
the boundary day is read again).

`metadataPrefix=arXiv` carries no version numbers, only the first (`created`) and last
(`updated`) submission dates; the merge policy treats a later `updated` date as a newer version.
Deleted records (`<header status="deleted">`) have no metadata and are skipped. The harvest
features nothing by itself: it fills and refreshes metadata (featuring.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.records import RecordError, make_record, read_arxiv_id, read_categories, read_doi
from dailypapers.ingest.sources.base import (
    NO_FEATURES,
    FeedError,
    Page,
    Request,
    Source,
    parse_xml,
    plausible,
    text_of,
)

NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/"}
KIND = "arxiv-oai"


def parse_oai_page(body: bytes) -> Page:
    """The <record> elements of a ListRecords response and its resumption token.

    `info`: token (None when the list is complete), complete_size, cursor, response_date.
    `noRecordsMatch` is an empty, complete page; every other OAI error is a FeedError.
    """
    root = parse_xml(body, "OAI-PMH")
    if root.tag != f"{{{NS['oai']}}}OAI-PMH":
        raise FeedError(f"not an OAI-PMH response (root element {root.tag[:80]!r})", retryable=True)
    info: dict[str, Any] = {
        "token": None,
        "complete_size": None,
        "cursor": None,
        "response_date": text_of(root, "oai:responseDate", NS),
    }
    error = root.find("oai:error", NS)
    if error is not None:
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return Page(entries=[], info=info)
        message = " ".join((error.text or "").split())
        raise FeedError(f"OAI-PMH error {code}: {message}".strip(), retryable=False) from None
    listing = root.find("oai:ListRecords", NS)
    if listing is None:
        raise FeedError("OAI-PMH response without ListRecords", retryable=True)
    token = listing.find("oai:resumptionToken", NS)
    if token is not None:
        info["token"] = (token.text or "").strip() or None
        for key, attr in (("complete_size", "completeListSize"), ("cursor", "cursor")):
            value = token.get(attr)
            info[key] = (
                int(value) if value and value.isascii() and value.isdigit() and len(value) <= 12 else None
            )
    return Page(entries=listing.findall("oai:record", NS), info=info)


def _oai_day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.combine(date.fromisoformat(value[:10]), time(0, 0), tzinfo=UTC)
    except ValueError:
        raise RecordError(f"{name} {value[:40]!r} is not a YYYY-MM-DD date") from None
    if not plausible(day):
        raise RecordError(f"{name} {value[:40]!r} is out of range")
    return day


def parse_oai_record(record: Any) -> PaperRecord | None:
    """One <record> as a PaperRecord; None for a deleted record (no metadata to keep)."""
    header = record.find("oai:header", NS)
    if header is None:
        raise RecordError("record without <header>")
    if header.get("status") == "deleted":
        return None
    meta = record.find("oai:metadata/arxiv:arXiv", NS)
    if meta is None:
        raise RecordError("record without arXiv metadata")
    raw_id = text_of(meta, "arxiv:id", NS) or text_of(header, "oai:identifier", NS) or ""
    arxiv_id, version = read_arxiv_id(raw_id.removeprefix("oai:arXiv.org:"))
    authors = []
    for author in meta.findall("arxiv:authors/arxiv:author", NS):
        parts = [text_of(author, f"arxiv:{p}", NS) for p in ("forenames", "keyname", "suffix")]
        name = " ".join(" ".join(p.split()) for p in parts if p)
        if name:
            authors.append(name)
    categories = read_categories(text_of(meta, "arxiv:categories", NS) or "")
    doi = read_doi(text_of(meta, "arxiv:doi", NS))
    return make_record(
        arxiv_id=arxiv_id,
        version=version,
        title=text_of(meta, "arxiv:title", NS),
        abstract=text_of(meta, "arxiv:abstract", NS),
        authors=authors,
        categories=list(dict.fromkeys(categories)),
        comment=text_of(meta, "arxiv:comments", NS),
        journal_ref=text_of(meta, "arxiv:journal-ref", NS),
        doi=doi,
        published_at=_oai_day(text_of(meta, "arxiv:created", NS), "created"),
        updated_at=_oai_day(text_of(meta, "arxiv:updated", NS), "updated"),
        source=KIND,
    )


class ArxivOAISource(Source):
    """ListRecords of one set, from a day to today, following resumption tokens."""

    kind = KIND
    features = NO_FEATURES

    def __init__(self, base_url: str, set_spec: str, *, start_days: int = 7):
        self.base_url = base_url
        self.set_spec = set_spec
        self.start_days = start_days

    @property
    def name(self) -> str:
        return f"{KIND}:{self.set_spec}"

    def begin(self, checkpoint: dict[str, Any] | None, since: date | None, today: date) -> dict[str, Any]:
        cp = checkpoint or {}
        if "from" in cp and (since is None or cp["from"] == since.isoformat()):
            return cp  # an interrupted harvest (or the same --since again): resume at its token
        if since is not None:
            start = since
        elif "harvested_until" in cp:
            start = date.fromisoformat(cp["harvested_until"])
        else:
            start = today - timedelta(days=self.start_days)
        return {"from": start.isoformat(), "until": today.isoformat(), "token": None, "pages": 0}

    def next_request(self, state: dict[str, Any]) -> Request | None:
        if "from" not in state or state.get("complete"):
            return None
        if state.get("token"):
            params = {"verb": "ListRecords", "resumptionToken": state["token"]}
        else:
            params = {
                "verb": "ListRecords",
                "metadataPrefix": "arXiv",
                "set": self.set_spec,
                "from": state["from"],
                "until": state["until"],
            }
        return Request(
            self.base_url,
            params,
            label=f"{self.set_spec} {state['from']}…{state['until']} page {state['pages'] + 1}",
        )

    def parse(self, body: bytes, request: Request) -> Page:
        try:
            return parse_oai_page(body)
        except FeedError as exc:
            if "badResumptionToken" in str(exc) and "resumptionToken" in request.params:
                # The token expired (a long outage): start the window again.
                return Page(entries=[], info={"restart": True})
            raise

    def normalize(self, entry: Any, page: Page) -> PaperRecord | None:  # type: ignore[override]
        return parse_oai_record(entry)

    def advance(
        self, state: dict[str, Any], request: Request, page: Page, headers: dict[str, str]
    ) -> dict[str, Any]:
        if page.info.get("restart"):
            return {**state, "token": None, "pages": 0}
        token = page.info.get("token")
        return {**state, "token": token, "pages": state["pages"] + 1, "complete": token is None}

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"harvested_until": state["until"]}
