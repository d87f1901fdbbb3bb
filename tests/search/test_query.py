"""search.query.parse_query: the query language on many inputs, and that it never raises."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.search.query import MAX_QUERY_CHARS, MAX_TERMS, ParsedQuery, Term, parse_query


def words(query: ParsedQuery) -> list[tuple[tuple[str, ...], str | None, bool, bool]]:
    """The terms as plain tuples (words, field, prefix, negated), easier to compare."""
    return [(t.words, t.field, t.prefix, t.negated) for t in query.terms]


# --- words, phrases, prefixes, exclusions -----------------------------------------------------------


def test_the_documented_example() -> None:
    q = parse_query(
        'contrastive "hard negative" mining*  author:hinton  cat:cs.LG  title:margin  -survey '
        "after:2024-01-01  before:2024-12-31"
    )
    assert words(q) == [
        (("contrastive",), None, False, False),
        (("hard", "negative"), None, False, False),
        (("mining",), None, True, False),
        (("hinton",), "authors", False, False),
        (("margin",), "title", False, False),
        (("survey",), None, False, True),
    ]
    assert q.categories == ["cs.LG"]
    assert (q.after, q.before) == (date(2024, 1, 1), date(2024, 12, 31))
    assert q.arxiv_id is None and q.notes == []
    assert q.has_text
    assert q.plain_text() == "contrastive hard negative mining hinton margin"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("graph", [(("graph",), None, False, False)]),
        ("graph neural", [(("graph",), None, False, False), (("neural",), None, False, False)]),
        ('"graph neural networks"', [(("graph", "neural", "networks"), None, False, False)]),
        ('"graph  neural"', [(("graph", "neural"), None, False, False)]),
        ("contrast*", [(("contrast",), None, True, False)]),
        # A quoted word is never a prefix, and a phrase cannot be one.
        ('"contrast*"', [(("contrast",), None, False, False)]),
        ("-survey graph", [(("survey",), None, False, True), (("graph",), None, False, False)]),
        (
            'graph -"literature review"',
            [(("graph",), None, False, False), (("literature", "review"), None, False, True)],
        ),
        ("graph -contrast*", [(("graph",), None, False, False), (("contrast",), None, True, True)]),
        # Hyphenated compounds stay one phrase-like word; inner dots and apostrophes too.
        ("state-of-the-art", [(("state-of-the-art",), None, False, False)]),
        ("cs.LG don't", [(("cs.LG",), None, False, False), (("don't",), None, False, False)]),
        # Lone operators and punctuation are no words.
        ('- * ** "" ( ) & |', []),
        ("graph -", [(("graph",), None, False, False)]),
        # An FTS operator is just a word to match.
        # One token of several words stays one phrase ("NEAR(a", "foo*bar").
        (
            "NEAR(a b) AND OR NOT",
            [
                (("NEAR", "a"), None, False, False),
                (("b",), None, False, False),
                (("AND",), None, False, False),
                (("OR",), None, False, False),
                (("NOT",), None, False, False),
            ],
        ),
        ("foo*bar", [(("foo", "bar"), None, False, False)]),
    ],
)
def test_words_phrases_prefixes_exclusions(raw: str, expected: list) -> None:
    q = parse_query(raw)
    assert words(q) == expected
    assert q.notes == []


def test_whitespace_is_normalised() -> None:
    q = parse_query("  graph\t\tneural\n\r networks  ")
    assert q.raw == "graph neural networks"
    assert [t.text for t in q.terms] == ["graph", "neural", "networks"]


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", None])
def test_empty_query(raw: str | None) -> None:
    q = parse_query(raw)  # type: ignore[arg-type]
    assert q.raw == "" and q.terms == [] and q.notes == [] and q.categories == []
    assert not q.has_text and q.arxiv_id is None and q.plain_text() == ""


# --- fields ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("title:margin", "title"),
        ("ti:margin", "title"),
        ("Title:margin", "title"),
        ("TITLE:margin", "title"),
        ("abstract:margin", "abstract"),
        ("abs:margin", "abstract"),
        ("author:margin", "authors"),
        ("authors:margin", "authors"),
        ("au:margin", "authors"),
    ],
)
def test_field_names_and_aliases(raw: str, field: str) -> None:
    assert words(parse_query(raw)) == [(("margin",), field, False, False)]


def test_fielded_phrase_prefix_and_exclusion() -> None:
    q = parse_query('author:"Geoffrey Hinton" title:contrast* -abstract:survey -title:"a review"')
    assert words(q) == [
        (("Geoffrey", "Hinton"), "authors", False, False),
        (("contrast",), "title", True, False),
        (("survey",), "abstract", False, True),
        (("a", "review"), "title", False, True),
    ]


def test_accented_author_name_is_kept_as_typed() -> None:
    assert words(parse_query("author:Müller author:Ångström")) == [
        (("Müller",), "authors", False, False),
        (("Ångström",), "authors", False, False),
    ]


def test_field_applies_to_one_word_only() -> None:
    assert words(parse_query("title:graph neural")) == [
        (("graph",), "title", False, False),
        (("neural",), None, False, False),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Not a field: plain words.
        ("foo:bar", [("foo",), ("bar",)]),
        ("http://example.org", [("http",), ("example.org",)]),
        # An empty field is its name as a word.
        ("title:", [("title",)]),
        ("author: hinton", [("author",), ("hinton",)]),
    ],
)
def test_what_is_not_a_field_becomes_words(raw: str, expected: list) -> None:
    q = parse_query(raw)
    assert [t.words for t in q.terms] == expected
    assert all(t.field is None for t in q.terms)


# --- categories --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "categories"),
    [
        ("cat:cs.LG", ["cs.LG"]),
        ("category:cs.LG", ["cs.LG"]),
        ("cat:cs.LG cat:stat.ML", ["cs.LG", "stat.ML"]),
        ("cat:cs.LG,cs.CL", ["cs.LG", "cs.CL"]),
        ("cat:cs.LG,cs.CL cat:math.AG", ["cs.LG", "cs.CL", "math.AG"]),
        ("cat:cs.LG,", ["cs.LG"]),
        # Archives without a subject class, with hyphens, and physics subjects with hyphens.
        ("cat:hep-th", ["hep-th"]),
        ("cat:cond-mat.str-el", ["cond-mat.str-el"]),
        ("cat:physics.chem-ph", ["physics.chem-ph"]),
        # Not a category: dropped from the filter.
        ("cat:cs.LG,';--", ["cs.LG"]),
        ("cat:cs.LG,CS.CL,1", ["cs.LG"]),
    ],
)
def test_categories(raw: str, categories: list[str]) -> None:
    q = parse_query(raw)
    assert q.categories == categories
    assert not q.has_text


def test_categories_with_words() -> None:
    q = parse_query("cat:cs.CL language models")
    assert q.categories == ["cs.CL"] and [t.text for t in q.terms] == ["language", "models"]


def test_excluded_category_is_not_turned_into_a_filter() -> None:
    q = parse_query("graph -cat:cs.LG")
    assert q.categories != ["cs.LG"] or q.notes


@pytest.mark.parametrize("raw", ["graph cat:CS.LG", "graph cat:123"])
def test_a_bad_category_is_noted(raw: str) -> None:
    q = parse_query(raw)
    assert q.categories == []
    assert q.notes


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "after", "before"),
    [
        ("after:2024-01-01", date(2024, 1, 1), None),
        ("before:2024-12-31", None, date(2024, 12, 31)),
        ("from:2024-02-03 to:2024-02-05", date(2024, 2, 3), date(2024, 2, 5)),
        ("since:2024-02-03 until:2024-02-05", date(2024, 2, 3), date(2024, 2, 5)),
        ("AFTER:2024-02-03", date(2024, 2, 3), None),
        # A year alone is its first day.
        ("after:2024", date(2024, 1, 1), None),
        # The later of two bounds of one kind wins; a bad one does not erase a good one.
        ("after:2024-01-01 after:2025-01-01", date(2025, 1, 1), None),
        ("after:2024-01-01 after:garbage", date(2024, 1, 1), None),
        # Inverted bounds are accepted (they match nothing).
        ("after:2025-01-01 before:2024-01-01", date(2025, 1, 1), date(2024, 1, 1)),
        ("after:0001-01-01 before:9999-12-30", None, None),  # out of 1900-2200: ignored with a note
    ],
)
def test_dates(raw: str, after: date | None, before: date | None) -> None:
    q = parse_query(raw)
    assert (q.after, q.before) == (after, before)
    assert not q.has_text


@pytest.mark.parametrize(
    "raw",
    [
        "after:yesterday",
        "before:2024-13-01",
        "after:2024-02-30",
        "before:24-01-01",
        "after:2024/01/01",
        "before:-1",
        "after:99999-01-01",
        "after:2024-01-01T10:00",
        "before:0000-01-01",
        "after:٢٠٢٤",
    ],
)
def test_bad_dates_become_notes(raw: str) -> None:
    q = parse_query(f"graph {raw}")
    assert (q.after, q.before) == (None, None)
    assert len(q.notes) == 1 and "is not a date" in q.notes[0]
    assert [t.text for t in q.terms] == ["graph"]


def test_a_long_bad_date_is_cut_short_in_its_note() -> None:
    q = parse_query("after:" + "x" * 300)
    assert len(q.notes) == 1 and len(q.notes[0]) < 100


# --- arXiv ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "arxiv_id"),
    [
        ("2501.01234", "2501.01234"),
        ("2501.01234v2", "2501.01234"),
        ("  2501.01234  ", "2501.01234"),
        ("0704.0001", "0704.0001"),
        ("arXiv:2501.01234", "2501.01234"),
        ("arxiv:2501.01234v12", "2501.01234"),
        ("https://arxiv.org/abs/2501.01234", "2501.01234"),
        ("https://arxiv.org/abs/2501.01234v3", "2501.01234"),
        ("http://arxiv.org/abs/2501.01234", "2501.01234"),
        ("https://www.arxiv.org/abs/2501.01234", "2501.01234"),
        ("https://export.arxiv.org/abs/2501.01234", "2501.01234"),
        ("https://arxiv.org/pdf/2501.01234", "2501.01234"),
        ("https://arxiv.org/pdf/2501.01234v2.pdf", "2501.01234"),
        ("https://arxiv.org/html/2501.01234v1", "2501.01234"),
        ("https://arxiv.org/abs/2501.01234?context=cs", "2501.01234"),
        ("https://arxiv.org/abs/2501.01234/", "2501.01234"),
        # Old style, with and without subject class, bare and as URLs.
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("arXiv:hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
        ("https://arxiv.org/pdf/cond-mat/0102536", "cond-mat/0102536"),
    ],
)
def test_arxiv_id_shortcut(raw: str, arxiv_id: str) -> None:
    q = parse_query(raw)
    assert q.arxiv_id == arxiv_id
    assert q.terms == [] and q.notes == []


@pytest.mark.parametrize(
    "raw",
    [
        "2501.123",  # too few digits
        "2501.1234567",
        "2501.01234 transformers",  # an id inside a longer query is a word
        "arXiv 2501.01234",
        "https://example.org/abs/2501.01234",
        "hep-th/990100",
        "２５０１.０１２３４",  # fullwidth digits are no id
    ],
)
def test_not_an_arxiv_id(raw: str) -> None:
    q = parse_query(raw)
    assert q.arxiv_id is None
    assert q.terms


# --- what is ignored, and limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "texts"),
    [
        ('graph "neural', ["graph", "neural"]),
        ('"graph neural', ["graph", "neural"]),
        ('graph neural"', ["graph", "neural"]),
        ('"a" "b" "c', ["a", "b", "c"]),
        ('title:"graph neural', ["title", "graph", "neural"]),
    ],
)
def test_unbalanced_quotes_become_words(raw: str, texts: list[str]) -> None:
    q = parse_query(raw)
    assert [t.text for t in q.terms] == texts
    assert all(len(t.words) == 1 for t in q.terms)
    assert q.notes == ["unbalanced quote ignored"]


def test_a_lone_quote() -> None:
    q = parse_query('"')
    assert q.terms == [] and q.notes == ["unbalanced quote ignored"]


@pytest.mark.parametrize("raw", ["-survey", "-survey -review", '-"literature review"', "-title:survey"])
def test_only_exclusions_become_required_words(raw: str) -> None:
    q = parse_query(raw)
    assert q.terms and all(not t.negated for t in q.terms)
    assert q.has_text
    assert len(q.notes) == 1 and "only excluded words" in q.notes[0]


def test_only_exclusions_with_a_filter() -> None:
    q = parse_query("-survey cat:cs.LG")
    assert [(t.text, t.negated) for t in q.terms] == [("survey", False)]
    assert q.categories == ["cs.LG"]


def test_more_than_max_terms_are_cut_with_a_note() -> None:
    raw = " ".join(f"w{i}" for i in range(MAX_TERMS + 8))
    q = parse_query(raw)
    assert [t.text for t in q.terms] == [f"w{i}" for i in range(MAX_TERMS)]
    assert q.notes == [f"only the first {MAX_TERMS} words are used"]


def test_exactly_max_terms_is_no_note() -> None:
    q = parse_query(" ".join(f"w{i}" for i in range(MAX_TERMS)))
    assert len(q.terms) == MAX_TERMS and q.notes == []


def test_the_query_is_cut_at_max_query_chars() -> None:
    q = parse_query("a" * (MAX_QUERY_CHARS + 100))
    assert len(q.raw) == MAX_QUERY_CHARS
    assert q.terms == [Term(("a" * MAX_QUERY_CHARS,), raw="a" * MAX_QUERY_CHARS)]
    # Words after the limit are not seen at all.
    q = parse_query("x" * (MAX_QUERY_CHARS - 2) + " tail")
    assert [t.text for t in q.terms] == ["x" * (MAX_QUERY_CHARS - 2), "t"]


# --- helpers of ParsedQuery ---------------------------------------------------------------------------


def test_highlight_words_are_the_positive_words_lower_case_longest_first() -> None:
    q = parse_query('Graph "Neural networks" GRAPH contrast* -survey author:Hinton cat:cs.LG')
    found = q.highlight_words()
    assert sorted(found) == ["contrast", "graph", "hinton", "networks", "neural"]
    # Longest first, so that the highlighter prefers "networks" over a shorter word it starts with.
    assert [len(w) for w in found] == sorted((len(w) for w in found), reverse=True)


def test_filters_only_has_no_text() -> None:
    q = parse_query("cat:cs.LG after:2024-01-01")
    assert not q.has_text and q.plain_text() == "" and q.highlight_words() == []


# --- property: never raises ---------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        '"',
        "'",
        "-",
        "*",
        ":",
        "(",
        ")",
        "^",
        "&",
        "|",
        "!",
        "<->",
        "NEAR(",
        "AND",
        "OR",
        "NOT",
        "title:",
        "author:",
        "abs:",
        "cat:",
        "cat:cs.LG,",
        "after:",
        "before:",
        "from:",
        "to:",
        "2024-02-30",
        "2024",
        "9999-12-31",
        "0000-00-00",
        "arXiv:",
        "https://arxiv.org/abs/",
        "2501.01234",
        "hep-th/9901001",
        "v2",
        "\x00",
        "\t",
        "\n",
        "\u200b",
        "\u202e",
        "\ufeff",
        "🙂",
        "\u05e9\u05dc\u05d5\u05dd",
        "ß",
        "ǅ",
        "_",
        "'; DROP TABLE papers; --",
        " ",
        "  ",
    ]
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=400, max_size=2000),
)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_parse_query_never_raises(raw: str) -> None:
    q = parse_query(raw)
    assert len(q.raw) <= MAX_QUERY_CHARS
    assert len(q.terms) <= MAX_TERMS
    assert q.arxiv_id is None or not q.terms
    for term in q.terms:
        assert term.words
        assert term.field in (None, "title", "abstract", "authors")
        for word in term.words:
            # Words reach the backends quoted: a word never holds a quote or an operator character.
            assert re.fullmatch(r"\w+(?:[.'’\-]\w+)*", word), word
    if q.terms:
        assert q.positive, "a query of terms always has a positive one"
    for category in q.categories:
        assert re.fullmatch(r"[a-z][a-z\-]*(\.[A-Za-z\-]+)?", category)
    assert all(isinstance(n, str) for n in q.notes)
    q.highlight_words()
    q.plain_text()
