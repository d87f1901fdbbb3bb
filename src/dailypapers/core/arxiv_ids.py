"""Parse and normalise arXiv identifiers: new style (2501.01234v2), old style (hep-th/9901001), URLs."""

from __future__ import annotations

import re
from typing import NamedTuple

# New-style ids: YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015-); old-style: archive[.SUBJ]/YYMMNNN.
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z][a-z\-]{0,15}(?:\.[A-Z]{2})?/\d{7})"
# ASCII only: \d would otherwise accept Arabic-Indic or fullwidth digits. Versions stay small.
_ID_RE = re.compile(rf"(?:{_NEW}|{_OLD})(?:v(?P<version>[1-9]\d{{0,3}}))?", re.ASCII)
_PREFIX_RE = re.compile(
    r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)", re.IGNORECASE
)


class ArxivId(NamedTuple):
    """An arXiv id without version, and the version number if one was given."""

    id: str
    version: int | None


class InvalidArxivId(ValueError):
    """Raised for a string that is not an arXiv id or arXiv URL."""


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse an id, `arXiv:` id, or arxiv.org abs/pdf URL into (id, version)."""
    raw = (text or "").strip()
    s = _PREFIX_RE.sub("", raw)
    s = s.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if s.endswith(".pdf"):
        s = s[:-4]
    m = _ID_RE.fullmatch(s)
    if not m:
        raise InvalidArxivId(f"not an arXiv id: {raw[:80]!r}")
    version = m.group("version")
    return ArxivId(m.group("new") or m.group("old"), int(version) if version else None)


def is_arxiv_id(text: str) -> bool:
    """True when `text` parses as an arXiv id or URL."""
    try:
        parse_arxiv_id(text)
    except InvalidArxivId:
        return False
    return True


def abs_url(arxiv_id: str, version: int | None = None) -> str:
    """The arXiv abstract page of a paper (a specific version when given)."""
    return f"https://arxiv.org/abs/{arxiv_id}" + (f"v{version}" if version else "")


def pdf_url(arxiv_id: str, version: int | None = None) -> str:
    """The arXiv PDF of a paper (a specific version when given)."""
    return f"https://arxiv.org/pdf/{arxiv_id}" + (f"v{version}" if version else "")
