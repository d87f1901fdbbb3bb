"""The search query language, parsed once for every backend.

    contrastive "hard negative" mining*  author:hinton  cat:cs.LG  title:margin  -survey
    after:2024-01-01  before:2024-12-31

Words are required (AND); `"…"` is a phrase, `word*` a prefix, `-word` excludes; `title:`, `abstract:`
and `author:` restrict a word (or a quoted phrase) to a field; `cat:` filters by arXiv category (any of
the paper's categories, repeatable = any of them); `after:`/`before:` (or `from:`/`to:`) bound the date.
Parsing never fails: an unbalanced quote, an empty field, a bad date or a stray operator becomes plain
words (and a note saying what was ignored), so hostile input cannot produce an error page. A query that
is an arXiv id or arXiv URL is recognised as such (`arxiv_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
FIELDS = {"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors", "au": "authors",
          "ti": "title", "abs": "abstract"}  # fmt: skip
_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+))')
# What a search word may contain: letters, digits, and inner hyphens/apostrophes/dots (cs.LG, don't).
_WORD_RE = re.compile(r"\w+(?:[.'’\-]\w+)*", re.UNICODE)


@dataclass(frozen=True)
class Term:
    """One required (or excluded) word or phrase, maybe in one field, maybe a prefix."""

    words: tuple[str, ...]
    field: str | None = None  # "title", "abstract", "authors"
    prefix: bool = False
    negated: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class ParsedQuery:
    """A query, ready for a backend; `notes` says what was ignored and why."""

    raw: str
    terms: list[Term] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    after: date | None = None
    before: date | None = None
    arxiv_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def positive(self) -> list[Term]:
        return [t for t in self.terms if not t.negated]

    @property
    def has_text(self) -> bool:
        """True when there is something to match words against (not only filters)."""
        return bool(self.positive)

    def plain_text(self) -> str:
        """The words of the query without operators (what an embedder should see)."""
        return " ".join(t.text for t in self.positive)

    def highlight_words(self) -> list[str]:
        """Lower-case words to highlight in results."""
        return sorted({w.lower() for t in self.positive for w in t.words}, key=len, reverse=True)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD_RE.findall(text))


def _date(value: str, name: str, notes: list[str]) -> date | None:
    try:
        return date.fromisoformat(value if len(value) != 4 else f"{value}-01-01")
    except ValueError:
        notes.append(f"{name}:{value[:20]} is not a date (YYYY-MM-DD); ignored")
        return None


def parse_query(raw: str) -> ParsedQuery:
    """Parse a search box string; never raises."""
    text = " ".join((raw or "").split())[:MAX_QUERY_CHARS]
    query = ParsedQuery(raw=text)
    if not text:
        return query
    try:
        query.arxiv_id = parse_arxiv_id(text).id
        return query
    except InvalidArxivId:
        pass
    if text.count('"') % 2:
        query.notes.append("unbalanced quote ignored")
        text = text.replace('"', " ")
    for m in _TOKEN_RE.finditer(text):
        negated, name, quoted, bare = m.group(1) == "-", (m.group(2) or "").lower(), m.group(3), m.group(4)
        value = quoted if quoted is not None else bare
        if name in ("cat", "category"):
            query.categories += [c for c in value.split(",") if re.fullmatch(r"[a-z][a-z\-]*(\.[A-Za-z\-]+)?", c)]
            continue
        if name in ("after", "from", "since"):
            query.after = _date(value, name, query.notes) or query.after
            continue
        if name in ("before", "to", "until"):
            query.before = _date(value, name, query.notes) or query.before
            continue
        field_name = FIELDS.get(name)
        if name and field_name is None:
            value = f"{m.group(2)} {value}"  # "foo:bar" that is no field: plain words
        prefix = quoted is None and value.endswith("*")
        words = _words(value)
        if not words:
            continue
        if quoted is None and len(words) > 1 and field_name is None:
            # "state-of-the-art" or "foo:bar" split into words: each is its own required word,
            # except that a hyphenated compound stays a phrase.
            if "-" in value and " " not in value:
                query.terms.append(Term(words, None, prefix, negated))
            else:
                query.terms += [Term((w,), None, False, negated) for w in words]
            continue
        query.terms.append(Term(words, field_name, prefix and len(words) == 1, negated))
    if len(query.terms) > MAX_TERMS:
        query.notes.append(f"only the first {MAX_TERMS} words are used")
        query.terms = query.terms[:MAX_TERMS]
    if query.terms and not query.positive:
        query.notes.append("a query of only excluded words matches nothing to exclude from; exclusions ignored")
        query.terms = [Term(t.words, t.field, t.prefix, False) for t in query.terms]
    return query
