"""Citations of papers as reference managers import them: BibTeX (written by bibtexparser) and RIS
(written by rispy), with stable citation keys and the escaping each format needs.

BibTeX follows arXiv's own export (`@misc` with eprint, archivePrefix, primaryClass, url; `@article`
with `journal` when the paper has a journal reference). Text keeps its LaTeX math and its UTF-8
(biber and Zotero read UTF-8); what LaTeX would misread outside math is escaped, and every value's
braces balance both as BibTeX counts them (every brace) and as bibtexparser does (a brace after a
backslash is escaped), so one hostile abstract can never swallow the entries after it. RIS values are
single lines: no text can start a tag such as `ER  -`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import count, product
from string import ascii_lowercase
from typing import Any

import bibtexparser
import rispy
from bibtexparser.middlewares import default_unparse_stack
from bibtexparser.model import Entry, Field

from dailypapers.core import arxiv_ids
from dailypapers.core.text import match_math


@dataclass(frozen=True, slots=True)
class Citation:
    """What a citation says of one paper (the newest stored version; `published`: its first version)."""

    arxiv_id: str
    title: str
    authors: list[str] = field(default_factory=list)
    abstract: str = ""
    version: int | None = None
    published: date | None = None
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None

    @property
    def year_month(self) -> tuple[int, int] | None:
        """Year and month of the first version: its date, else the month the arXiv id was given."""
        if self.published is not None:
            return self.published.year, self.published.month
        return _id_month(self.arxiv_id)

    @property
    def url(self) -> str:
        """The abstract page (no version: the citation names the paper, not one version)."""
        return arxiv_ids.abs_url(self.arxiv_id)

    @property
    def pdf_url(self) -> str:
        """The PDF of the version this citation describes."""
        return arxiv_ids.pdf_url(self.arxiv_id, self.version)


# New-style ids start with YYMM (2401.00001); old-style ids end with YYMMNNN (hep-th/9901001, from 1991).
_NEW_ID_MONTH = re.compile(r"^(\d{2})(\d{2})\.")
_OLD_ID_MONTH = re.compile(r"/(\d{2})(\d{2})\d{3}$")


def _id_month(arxiv_id: str) -> tuple[int, int] | None:
    m = _NEW_ID_MONTH.match(arxiv_id)
    if m:
        year = 2000 + int(m.group(1))
    else:
        m = _OLD_ID_MONTH.search(arxiv_id)
        if not m:
            return None
        yy = int(m.group(1))
        year = 1900 + yy if yy >= 91 else 2000 + yy
    month = int(m.group(2))
    return (year, month) if 1 <= month <= 12 else None


# --- plain text ----------------------------------------------------------------------------------

# C0 and C1 controls, DEL, and lone surrogates (which UTF-8 cannot encode).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def plain_line(text: str | None) -> str:
    """`text` as one line: control characters out, every run of whitespace (newlines, tabs, Unicode
    line separators) one space."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


# --- citation keys -------------------------------------------------------------------------------

# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
# Words a key skips in a title, as Google Scholar's keys do ("attention" in "On Attention ...").
_STOPWORDS = frozenset(
    "a an the on of in for to and or with from by at as is are be via into towards toward what why how "
    "do does can when".split()
)
_INLINE_MATH = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\[A-Za-z]+")


def ascii_fold(text: str) -> str:
    """`text` with its letters folded to ASCII (Müller → Muller, Łukasz → Lukasz); other characters
    that have no ASCII form dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", ascii_fold(text).lower())


def _surname(authors: Sequence[str]) -> str:
    """The first author's last name as a key part (the last word of the name, a Jr./III aside)."""
    for name in authors:
        words = [w for w in _words(name) if w not in _NAME_SUFFIXES]
        if words:
            return words[-1]
        if name.strip():
            break  # a first author with no ASCII letters (张伟): no name part, not the next author's
    return "anon"


def base_key(citation: Citation) -> str:
    """The key before collisions: first author's last name, year, first significant title word
    (vaswani2017attention), ASCII letters and digits only."""
    when = citation.year_month
    title_words = [w for w in _words(_INLINE_MATH.sub(" ", citation.title)) if w not in _STOPWORDS]
    key = (
        _surname(citation.authors) + (str(when[0]) if when else "") + (title_words[0] if title_words else "")
    )
    if key == "anon":
        key += re.sub(r"[^a-z0-9]", "", citation.arxiv_id.lower())
    return key


def _suffixes() -> Iterator[str]:
    """a, b, ..., z, aa, ab, ...: what keys that collide get appended."""
    for length in count(1):
        for letters in product(ascii_lowercase, repeat=length):
            yield "".join(letters)


def citation_keys(citations: Sequence[Citation]) -> list[str]:
    """One unique key per citation, in order. Papers whose base keys collide are told apart by a/b/c
    suffixes given in arXiv-id order (the oldest keeps the plain key), so a paper's key does not
    depend on how the list is sorted."""
    bases = [base_key(c) for c in citations]
    keys = list(bases)
    used = set(bases)
    groups: dict[str, list[int]] = {}
    for index, base in enumerate(bases):
        groups.setdefault(base, []).append(index)
    for base, members in groups.items():
        suffixes = _suffixes()
        for index in sorted(members, key=lambda i: (citations[i].arxiv_id, i))[1:]:
            key = base + next(suffixes)
            while key in used:
                key = base + next(suffixes)
            used.add(key)
            keys[index] = key
    return keys


# --- BibTeX values -------------------------------------------------------------------------------

# A TeX token: a control word (\alpha), a control symbol (\%, \{, \\), a lone backslash at the end, one
# character LaTeX treats specially, or a run of ordinary characters.
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\\$|[{}$%&#_^~]|[^\\{}$%&#_^~]+", re.DOTALL)
_SPECIAL = re.compile(r"[\\{}$%&#_^~]")
# Outside math: what LaTeX would read as markup, written so that it prints as itself.
_TEXT_ESCAPES = {
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
# Inside math `%` still starts a comment and `#` is never valid; `&`, `_`, `^` and `~` are math.
_MATH_ESCAPES = {"%": r"\%", "#": r"\#"}
# Math delimiters with no math span to open or close, outside math: the bracket they stand for.
_STRAY_DELIMITERS = {r"\(": "(", r"\)": ")", r"\[": "[", r"\]": "]"}
# A brace that has no partner of its own kind is printed as a brace with an invisible partner, so that
# the count still balances (Zotero's own export does this: tex.stackexchange.com/q/230750).
_LONE_OPEN = r"\{\vphantom{\}}"
_LONE_CLOSE = r"\vphantom{\{}\}"


@dataclass(slots=True)
class _Brace:
    opening: bool
    literal: bool  # \{ or \} (prints a brace) rather than a group's { or }
    source: str
    partnered: bool = False


def _math_pieces(span: str) -> list[str | _Brace]:
    pieces: list[str | _Brace] = []
    for token in _TOKEN.findall(span):
        if token in ("{", "}", r"\{", r"\}"):
            pieces.append(_Brace(token.endswith("{"), token.startswith("\\"), token))
        else:
            pieces.append(_MATH_ESCAPES.get(token, token))
    return pieces


def _text_piece(token: str) -> str | _Brace:
    if token in ("{", "}", r"\{", r"\}"):
        return _Brace(token.endswith("{"), token.startswith("\\"), token)
    if token == "\\\\":
        return " "  # a forced line break means nothing in a reference
    if token == "\\":
        return r"\textbackslash{}"  # a lone backslash at the end
    return _TEXT_ESCAPES.get(token) or _STRAY_DELIMITERS.get(token, token)


def _pieces(text: str) -> list[str | _Brace]:
    """The text as output pieces: math spans (as the pages render them) kept with `%`/`#` escaped,
    the rest escaped, braces left for _balance."""
    pieces: list[str | _Brace] = []
    pos = 0
    while pos < len(text):
        token = _TOKEN.match(text, pos)
        assert token is not None  # the pattern matches any character
        if token.group() in ("$", r"\(", r"\["):
            span = match_math(text, pos)
            if span is not None:
                pieces += _math_pieces(span.group())
                pos = span.end()
                continue
        pieces.append(_text_piece(token.group()))
        pos = token.end()
    return pieces


def _balance(pieces: list[str | _Brace]) -> None:
    """Pair the braces as BibTeX counts them (every brace); a pair stays only when both are of one
    kind (both group braces or both \\{ \\}), which also balances them as bibtexparser counts (a brace
    after a backslash does not count). Every other brace gets an invisible partner."""
    stack: list[_Brace] = []
    for piece in pieces:
        if not isinstance(piece, _Brace):
            continue
        if piece.opening:
            stack.append(piece)
        elif stack:
            opening = stack.pop()
            if opening.literal == piece.literal:
                opening.partnered = piece.partnered = True


def latex_value(text: str | None) -> str:
    """`text` as the value of a BibTeX field (between its braces): one line, LaTeX math kept, `% & # _
    $ ^ ~` outside math escaped, braces balanced, never ending in a backslash."""
    line = plain_line(text)
    if not _SPECIAL.search(line):
        return line  # most names, titles and keywords: nothing to escape
    pieces = _pieces(line)
    _balance(pieces)
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, _Brace):
            source = piece.source if piece.partnered else (_LONE_OPEN if piece.opening else _LONE_CLOSE)
        else:
            source = piece
        if out and out[-1].endswith("\\") and source.startswith(("{", "}")):
            out.append(" ")  # \\ then a brace: bibtexparser would take the brace for an escaped one
        out.append(source)
    value = " ".join("".join(out).split())
    while value.endswith("\\"):  # a control space whose space the line's end took
        value = value[:-1].rstrip()
    return value


def verbatim_value(text: str | None) -> str:
    """A URL-like value (DOI): not LaTeX, so nothing escaped; braces, backslashes and spaces dropped."""
    return re.sub(r"[{}\\\s]", "", plain_line(text))


_AND = re.compile(r"\band\b", re.IGNORECASE)


def bibtex_name(name: str) -> str:
    """An author as one BibTeX name: braced as a whole when BibTeX would split it (an "and" inside,
    a comma read as "Last, First", or the name "others")."""
    value = latex_value(name)
    if _AND.search(value) or "," in value or value.lower() == "others":
        return "{" + value + "}"
    return value


# --- BibTeX and RIS ------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _bibtex_entry(citation: Citation, key: str) -> Entry:
    fields = [Field("title", latex_value(citation.title))]
    names = [name for name in map(bibtex_name, citation.authors) if name]
    if names:
        fields.append(Field("author", " and ".join(names)))
    when = citation.year_month
    if when:
        # The month as BibTeX's own macro (jan), which every style and Zotero read.
        fields += [
            Field("year", str(when[0])),
            Field("month", _MONTHS[when[1] - 1], enclosing="no-enclosing"),
        ]
    fields += [
        Field("eprint", verbatim_value(citation.arxiv_id)),
        Field("archivePrefix", "arXiv"),
    ]
    if citation.primary_category:
        fields.append(Field("primaryClass", verbatim_value(citation.primary_category)))
    fields.append(Field("url", citation.url))
    optional = {
        "journal": latex_value(citation.journal_ref),
        "doi": verbatim_value(citation.doi),
        "keywords": latex_value(", ".join(citation.categories)),
        "abstract": latex_value(citation.abstract),
        # Not `note`, which bibliography styles print: Zotero and JabRef read `comment` as a note.
        "comment": latex_value(citation.comment),
    }
    fields += [Field(name, value) for name, value in optional.items() if value]
    return Entry("article" if optional["journal"] else "misc", key, fields)


def bibtex(citations: Sequence[Citation]) -> str:
    """The citations as a BibTeX file (UTF-8 text), one entry each, keys unique."""
    library = bibtexparser.Library()
    for citation, key in zip(citations, citation_keys(citations), strict=True):
        library.add(_bibtex_entry(citation, key))
    # The library is ours alone: the writer may enclose the values in place instead of copying it.
    return bibtexparser.write_string(
        library, unparse_stack=default_unparse_stack(allow_inplace_modification=True)
    )


class _RisWriter(rispy.RisWriter):
    """rispy's writer without the "1." line it puts before each record, which no RIS reader expects."""

    def set_header(self, count: int) -> str:
        return ""


def ris_record(citation: Citation, key: str) -> dict[str, Any]:
    """One RIS record as rispy names its tags: TY GEN (JOUR with a journal reference), as Zotero's RIS
    import maps them (DB/AN/DP the arXiv record, L1 the PDF, KW the categories, N1 the comment)."""
    journal = plain_line(citation.journal_ref)
    record: dict[str, Any] = {
        "type_of_reference": "JOUR" if journal else "GEN",
        "id": key,
        "title": plain_line(citation.title),
    }
    authors = [name for name in map(plain_line, citation.authors) if name]
    if authors:
        record["authors"] = authors
    when = citation.year_month
    if when:
        record["year"] = str(when[0])
        day = citation.published
        record["date"] = f"{day:%Y/%m/%d}" if day else f"{when[0]:04d}/{when[1]:02d}"
    if journal:
        record["secondary_title"] = journal
    optional = {
        "abstract": plain_line(citation.abstract),
        "doi": plain_line(citation.doi),
    }
    record.update({name: value for name, value in optional.items() if value})
    record.update(
        {
            "urls": [citation.url],
            "file_attachments1": citation.pdf_url,
            "name_of_database": "arXiv",
            "accession_number": f"arXiv:{citation.arxiv_id}",
            "database_provider": "arXiv.org",
        }
    )
    keywords = [k for k in map(plain_line, citation.categories) if k]
    if keywords:
        record["keywords"] = keywords
    if plain_line(citation.comment):
        record["notes"] = [plain_line(citation.comment)]
    return record


def ris(citations: Sequence[Citation]) -> str:
    """The citations as an RIS file (UTF-8 text), TY … ER per paper."""
    records = [ris_record(c, k) for c, k in zip(citations, citation_keys(citations), strict=True)]
    return str(rispy.dumps(records, implementation=_RisWriter))
