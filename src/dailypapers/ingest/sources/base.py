"""The Source interface: fetch → parse → normalize → upsert, each stage separately testable.

A source is a small state machine over its checkpoint (a JSON-able dict stored in the database):

- `begin(checkpoint, since, today)` decides what this run covers: resume an interrupted run,
  continue after the last complete one, or start over from `--since`;
- `next_request(state)` names the next HTTP request (None when the run is complete);
- `parse(body, request)` turns a response body into raw entries plus paging information and
  raises FeedError for a body that is not the expected document (malformed XML, an error feed);
- `normalize(entry, page)` turns one raw entry into a PaperRecord, or raises RecordError;
- `advance(state, request, page)` is the checkpoint after this page's papers are stored.

The harvester (ingest.harvest) drives these stages and writes each page's papers together with the
advanced checkpoint in one transaction, which is what makes a killed run resumable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from dailypapers.core.models import PaperRecord

# What a source's feed entries mean to the featuring policy (ingest.featuring).
ANNOUNCEMENT = "announcement"  # arXiv says the paper is new today
COMMUNITY = "community"  # a community feed (the Hub's) featured the paper that day
NO_FEATURES = "none"  # bulk metadata only


class FeedError(ValueError):
    """A response body that is not the document the source expects (or the service's error)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Request:
    """One GET a source wants: a configured base URL, parameters, optional conditional headers."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""  # a short description for logs ("cs set, from 2026-11-20, page 3")


@dataclass
class Page:
    """What parse() found in one response: raw entries and the paging details advance() needs."""

    entries: list[Any]
    info: dict[str, Any] = field(default_factory=dict)
    not_modified: bool = False


class Source(ABC):
    """One remote source of papers; see the module docstring for the stages."""

    kind: ClassVar[str]
    features: ClassVar[str] = NO_FEATURES

    @property
    @abstractmethod
    def name(self) -> str:
        """The checkpoint key: the kind plus what distinguishes two configurations of it."""

    @abstractmethod
    def begin(self, checkpoint: dict[str, Any] | None, since: date | None, today: date) -> dict[str, Any]:
        """The state this run starts from."""

    @abstractmethod
    def next_request(self, state: dict[str, Any]) -> Request | None:
        """The next request, or None when this run has fetched everything."""

    @abstractmethod
    def parse(self, body: bytes, request: Request) -> Page:
        """Raw entries and paging information of one response; FeedError when it is not one."""

    @abstractmethod
    def normalize(self, entry: Any, page: Page) -> PaperRecord:
        """One raw entry as a PaperRecord; RecordError when it is malformed."""

    @abstractmethod
    def advance(
        self, state: dict[str, Any], request: Request, page: Page, headers: dict[str, str]
    ) -> dict[str, Any]:
        """The checkpoint once this page's papers are stored."""

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint stored when the run completes (default: the state as it is)."""
        return state


def parse_xml(body: bytes, what: str) -> Any:
    """The root element of an XML document; FeedError (retryable: it may be a cut-off body) when
    the bytes are not well-formed XML. Entity expansion and external entities are refused."""
    try:
        return SafeET.fromstring(body)
    except (SafeET.ParseError, LookupError, ValueError) as exc:
        # LookupError: an unknown encoding in the XML declaration.
        raise FeedError(f"malformed {what} XML: {exc}", retryable=True) from None
    except DefusedXmlException as exc:
        raise FeedError(f"refused {what} XML: {type(exc).__name__}") from None


# Dates outside these years are typos or attacks, and near year 1 or 9999 a time-zone conversion overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def plausible(dt: datetime) -> bool:
    """True for a date a paper can have (see FIRST_YEAR, LAST_YEAR)."""
    return FIRST_YEAR <= dt.year <= LAST_YEAR


def text_of(element: Any, path: str, ns: dict[str, str]) -> str | None:
    """The stripped text of the first match of `path`, None when absent or empty."""
    found = element.find(path, ns)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None
