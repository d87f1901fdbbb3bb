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
from dataclasses import dataclass, field, replace
from datetime import date

from dailypapers.core.arxiv_ids import InvalidArxivId, parse_arxiv_id

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
FIELDS = {
    "title": "title",
    "abstract": "abstract",
    "author": "authors",
    "authors": "authors",
    "au": "authors",
    "ti": "title",
    "abs": "abstract",
}
_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+))')
# What a search word may contain: letters, digits, and inner hyphens/apostrophes/dots (cs.LG, don't).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CATEGORY_RE = re.compile(r"[a-z][a-z\-]*(\.[A-Za-z\-]+)?")
_WORD_RE = re.compile(r"\w+(?:[.'’\-]\w+)*", re.UNICODE)


@dataclass(frozen=True)
class Term:
    """One required (or excluded) word or phrase, maybe in one field, maybe a prefix."""

    words: tuple[str, ...]
    field: str | None = None  # "title", "abstract", "authors"
    prefix: bool = False
    negated: bool = False
    # The words as typed (signs included: "Spin-1/2"), for backends that tokenize text themselves.
    raw: str = ""
    quoted: bool = False  # typed in quotes: a phrase the results must contain, in every search mode

    @property
    def is_plain(self) -> bool:
        """A required word of no field, not quoted: the only kind of term that hybrid search may
        soften (papers close in meaning that lack it); every other term is a constraint."""
        return not self.negated and self.field is None and not self.quoted

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class ParsedQuery:
    """A query, ready for a backend; `notes` says what was ignored and why."""

    raw: str
    terms: list[Term] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    excluded_categories: list[str] = field(default_factory=list)
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

    @property
    def plain(self) -> list[Term]:
        """The plain words (see Term.is_plain)."""
        return [t for t in self.terms if t.is_plain]

    def constraints(self) -> ParsedQuery:
        """What every result must satisfy whatever the mode: fielded terms, quoted phrases, excluded
        words, categories and dates (the query without its plain words)."""
        return ParsedQuery(
            self.raw,
            [t for t in self.terms if not t.is_plain],
            list(self.categories),
            list(self.excluded_categories),
            self.after,
            self.before,
        )

    @property
    def has_constraints(self) -> bool:
        c = self.constraints()
        return bool(c.terms or c.categories or c.excluded_categories or c.after or c.before)

    def meaning_text(self) -> str:
        """What an embedder should compare papers with: the required words and phrases, less author
        names (a name says nothing about a paper's topic; author: only filters)."""
        return " ".join(t.text for t in self.positive if t.field != "authors")

    def plain_text(self) -> str:
        """The words of the query without operators (what an embedder should see)."""
        return " ".join(t.text for t in self.positive)

    def highlight_words(self) -> list[str]:
        """Lower-case words to highlight in results."""
        return sorted({w.lower() for t in self.positive for w in t.words}, key=len, reverse=True)


def _words(text: str) -> tuple[str, ...]:
    # A "word" of underscores only ("_" from a pasted F_{p}) is no word for any tokenizer.
    return tuple(w for w in _WORD_RE.findall(text) if any(ch.isalnum() for ch in w))


def _date(value: str, name: str, notes: list[str]) -> date | None:
    try:
        day = date.fromisoformat(value if len(value) != 4 else f"{value}-01-01")
    except ValueError:
        notes.append(f"{name}:{value[:20]} is not a date (YYYY-MM-DD); ignored")
        return None
    if not 1900 <= day.year <= 2200:
        notes.append(f"{name}:{value[:20]} is out of range; ignored")
        return None
    return day


def parse_query(raw: str) -> ParsedQuery:
    """Parse a search box string; never raises."""
    text = " ".join(_CONTROL_RE.sub(" ", raw or "").split())[:MAX_QUERY_CHARS]
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
            for cat in value.split(","):
                if _CATEGORY_RE.fullmatch(cat):
                    (query.excluded_categories if negated else query.categories).append(cat)
                elif cat:
                    query.notes.append(f"cat:{cat[:30]} is not an arXiv category (like cs.LG); ignored")
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
        if name and field_name is None:
            # "foo:bar" with no such field: each word is its own required word.
            query.terms += [Term((w,), None, False, negated, w) for w in words]
            continue
        # One token of several words ("state-of-the-art", "Spin-1/2", "z~2.56") stays one phrase,
        # with the token as typed for backends that tokenize it themselves.
        query.terms.append(
            Term(
                words, field_name, prefix and len(words) == 1, negated, value.rstrip("*"), quoted is not None
            )
        )
    if len(query.terms) > MAX_TERMS:
        query.notes.append(f"only the first {MAX_TERMS} words are used")
        query.terms = query.terms[:MAX_TERMS]
    if query.terms and not query.positive:
        query.notes.append(
            "a query of only excluded words matches nothing to exclude from; exclusions ignored"
        )
        query.terms = [replace(t, negated=False) for t in query.terms]
    return query
