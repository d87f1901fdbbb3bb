"""core.citations: BibTeX and RIS records of papers, their keys and escaping, and round trips through
bibtexparser and rispy for real recorded papers and for hostile text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import bibtexparser
import pytest
import rispy
from hypothesis import given, settings
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text

from dailypapers.core.citations import (
    Citation,
    ascii_fold,
    base_key,
    bibtex,
    bibtex_name,
    citation_keys,
    latex_value,
    plain_line,
    ris,
    ris_record,
    verbatim_value,
)
from dailypapers.core.models import PaperRecord
from dailypapers.ingest.formats import parse_kaggle, parse_listing

DATA = Path(__file__).parents[1] / "data"

ATTENTION = Citation(
    arxiv_id="1706.03762",
    title="Attention Is All You Need",
    authors=["Ashish Vaswani", "Noam Shazeer", "Łukasz Kaiser"],
    abstract="The dominant sequence transduction models are based on complex recurrent or\n"
    "convolutional neural networks.\n\n  We propose a new simple network architecture, the Transformer.",
    version=7,
    published=date(2017, 6, 12),
    primary_category="cs.CL",
    categories=["cs.CL", "cs.LG"],
    comment="15 pages, 5 figures",
)


def cite(record: PaperRecord) -> Citation:
    """A stored paper's citation, as services.export makes it from the row."""
    return Citation(
        arxiv_id=record.arxiv_id,
        title=record.title,
        authors=record.authors,
        abstract=record.abstract,
        version=record.version,
        published=record.published_at.date() if record.published_at else None,
        primary_category=record.categories[0] if record.categories else None,
        categories=record.categories,
        doi=record.doi,
        journal_ref=record.journal_ref,
        comment=record.comment,
    )


@pytest.fixture(scope="module")
def real() -> list[Citation]:
    """Recorded real papers: 200 of Kaggle's arXiv snapshot (journal references, DOIs, TeX accents,
    dates of versions) and one day's cs listing (math in titles and abstracts, %, _, long lists)."""
    kaggle = (DATA / "kaggle-sample200.jsonl").read_text(encoding="utf-8").splitlines()
    listing = (DATA / "listing-cs_2026-06-30.jsonl").read_text(encoding="utf-8").splitlines()
    return [cite(parse_kaggle(json.loads(line))) for line in kaggle] + [
        cite(parse_listing(json.loads(line), date(2026, 6, 30))) for line in listing
    ]


def balanced(value: str) -> bool:
    """Braces balance as BibTeX counts them (every brace) and as bibtexparser does (not after a
    backslash), and the value does not end in a backslash (which would escape its closing brace)."""
    for counts in (lambda i: True, lambda i: i == 0 or value[i - 1] != "\\"):
        depth = 0
        for i, char in enumerate(value):
            if char in "{}" and counts(i):
                depth += 1 if char == "{" else -1
                if depth < 0:
                    return False
        if depth:
            return False
    return not value.endswith("\\")


def expected_fields(citation: Citation) -> dict[str, str]:
    """The fields of the entry, as bibtexparser reads them back."""
    fields = {"title": latex_value(citation.title)}
    names = [n for n in map(bibtex_name, citation.authors) if n]
    if names:
        fields["author"] = " and ".join(names)
    if citation.year_month:
        fields["year"] = str(citation.year_month[0])
        fields["month"] = "jan feb mar apr may jun jul aug sep oct nov dec".split()[
            citation.year_month[1] - 1
        ]
    fields |= {"eprint": citation.arxiv_id, "archivePrefix": "arXiv"}
    if citation.primary_category:
        fields["primaryClass"] = citation.primary_category
    fields["url"] = f"https://arxiv.org/abs/{citation.arxiv_id}"
    optional = {
        "journal": latex_value(citation.journal_ref),
        "doi": verbatim_value(citation.doi),
        "keywords": latex_value(", ".join(citation.categories)),
        "abstract": latex_value(citation.abstract),
        "comment": latex_value(citation.comment),
    }
    return fields | {name: value for name, value in optional.items() if value}


def assert_bibtex_round_trip(citations: list[Citation]) -> None:
    library = bibtexparser.parse_string(bibtex(citations))
    assert library.failed_blocks == []
    assert [e.key for e in library.entries] == citation_keys(citations)
    for entry, citation in zip(library.entries, citations, strict=True):
        fields = {f.key: f.value for f in entry.fields}
        assert fields == expected_fields(citation)
        assert entry.entry_type == ("article" if "journal" in fields else "misc")
        assert all(balanced(value) for value in fields.values())


def assert_ris_round_trip(citations: list[Citation]) -> None:
    keys = citation_keys(citations)
    assert rispy.loads(ris(citations)) == [ris_record(c, k) for c, k in zip(citations, keys, strict=True)]


# --- the formats ---------------------------------------------------------------------------------


def test_bibtex_as_arxiv_exports_it() -> None:
    assert bibtex([ATTENTION]) == (
        "@misc{vaswani2017attention,\n"
        "\ttitle = {Attention Is All You Need},\n"
        "\tauthor = {Ashish Vaswani and Noam Shazeer and Łukasz Kaiser},\n"
        "\tyear = {2017},\n"
        "\tmonth = jun,\n"
        "\teprint = {1706.03762},\n"
        "\tarchivePrefix = {arXiv},\n"
        "\tprimaryClass = {cs.CL},\n"
        "\turl = {https://arxiv.org/abs/1706.03762},\n"
        "\tkeywords = {cs.CL, cs.LG},\n"
        "\tabstract = {The dominant sequence transduction models are based on complex recurrent or "
        "convolutional neural networks. We propose a new simple network architecture, the Transformer.},\n"
        "\tcomment = {15 pages, 5 figures}\n"
        "}\n"
    )


def test_a_journal_reference_makes_an_article_with_its_doi() -> None:
    published = Citation(
        arxiv_id="0704.0001",
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC energies",
        authors=["C. Balázs", "E. L. Berger"],
        version=2,
        published=date(2007, 4, 2),
        primary_category="hep-ph",
        categories=["hep-ph"],
        doi="10.1103/PhysRevD.76.013009",
        journal_ref="Phys.Rev.D76:013009,2007",
    )
    text = bibtex([published])
    assert text.startswith("@article{balazs2007calculation,\n")
    assert "\tjournal = {Phys.Rev.D76:013009,2007},\n\tdoi = {10.1103/PhysRevD.76.013009},\n" in text
    record = ris_record(published, "balazs2007calculation")
    assert record["type_of_reference"] == "JOUR" and record["secondary_title"] == "Phys.Rev.D76:013009,2007"
    assert record["doi"] == "10.1103/PhysRevD.76.013009" and record["date"] == "2007/04/02"
    # Without a journal reference a DOI alone keeps the preprint a @misc / GEN.
    preprint = Citation("0704.0002", "Sparsity-certifying Graph Decompositions", doi="10.1/x")
    assert bibtex([preprint]).startswith("@misc{") and "\tdoi = {10.1/x}" in bibtex([preprint])
    assert ris_record(preprint, "k")["type_of_reference"] == "GEN"


def test_ris_as_zotero_imports_it() -> None:
    assert ris([ATTENTION]) == (
        "TY  - GEN\n"
        "ID  - vaswani2017attention\n"
        "TI  - Attention Is All You Need\n"
        "AU  - Ashish Vaswani\n"
        "AU  - Noam Shazeer\n"
        "AU  - Łukasz Kaiser\n"
        "PY  - 2017\n"
        "DA  - 2017/06/12\n"
        "AB  - The dominant sequence transduction models are based on complex recurrent or convolutional "
        "neural networks. We propose a new simple network architecture, the Transformer.\n"
        "UR  - https://arxiv.org/abs/1706.03762\n"
        "L1  - https://arxiv.org/pdf/1706.03762v7\n"
        "DB  - arXiv\n"
        "AN  - arXiv:1706.03762\n"
        "DP  - arXiv.org\n"
        "KW  - cs.CL\n"
        "KW  - cs.LG\n"
        "N1  - 15 pages, 5 figures\n"
        "ER  - \n"
    )


def test_dates_come_from_the_first_version_else_from_the_id() -> None:
    assert ATTENTION.year_month == (2017, 6)
    assert Citation("2512.10359", "t").year_month == (2025, 12)
    assert Citation("hep-th/9901001", "t").year_month == (1999, 1)
    assert Citation("math/0501001", "t").year_month == (2005, 1)
    assert Citation("2413.00001", "t").year_month is None  # no month 13
    assert ris_record(Citation("2512.10359", "t"), "k")["date"] == "2025/12"
    assert "\tyear = {2025},\n\tmonth = dec,\n" in bibtex([Citation("2512.10359", "t")])


def test_an_empty_list_is_an_empty_file() -> None:
    assert bibtex([]) == "" and ris([]) == ""
    assert bibtexparser.parse_string("").entries == [] and rispy.loads("") == []


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authors", "title", "key"),
    [
        (["Ashish Vaswani"], "Attention Is All You Need", "vaswani2017attention"),
        (["Jürgen Müller"], "On the Theory of Everything", "muller2017theory"),
        (["Łukasz Kaiser"], "The $\\alpha$-Entmax and \\emph{Sparse} Outputs", "kaiser2017entmax"),
        (["Martin Luther King Jr."], "A Dream", "king2017dream"),
        (["張偉", "Bo Li"], "GPT-4 Technical Report", "anon2017gpt"),
        (["Ana O'Neil-Smith"], "What is a Key?", "smith2017key"),
        ([], "", "anon2017"),
    ],
)
def test_base_keys(authors: list[str], title: str, key: str) -> None:
    assert base_key(Citation("1706.03762", title, authors)) == key


def test_keys_without_a_date_or_anything() -> None:
    assert base_key(Citation("2413.00001", "")) == "anon241300001"
    assert base_key(Citation("hep-th/9901001", "String theory", ["E. Witten"])) == "witten1999string"


def test_colliding_keys_get_letters_by_arxiv_id_whatever_the_order() -> None:
    a, b, c = (Citation(f"2401.0000{i}", "Attention again", ["A. Vaswani"]) for i in (1, 2, 3))
    assert citation_keys([a, b, c]) == [
        "vaswani2024attention",
        "vaswani2024attentiona",
        "vaswani2024attentionb",
    ]
    assert citation_keys([c, a, b]) == [
        "vaswani2024attentionb",
        "vaswani2024attention",
        "vaswani2024attentiona",
    ]
    # A suffix never lands on another paper's plain key.
    other = Citation("2401.00009", "Attentiona", ["A. Vaswani"])
    assert citation_keys([a, b, other]) == [
        "vaswani2024attention",
        "vaswani2024attentionb",
        "vaswani2024attentiona",
    ]
    many = [Citation(f"2401.{i:05d}", "Same", ["X"]) for i in range(30)]
    keys = citation_keys(many)
    assert len(set(keys)) == 30 and keys[26:28] == ["x2024samez", "x2024sameaa"]


def test_ascii_fold() -> None:
    assert ascii_fold("Müller Łukasz Ørsted Straße Ðorđe Þór") == "Muller Lukasz Orsted Strasse Dorde Thor"
    assert ascii_fold("張偉") == ""


# --- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Plain title", "Plain title"),
        ("50% of A&B: #1 x_i costs $5", r"50\% of A\&B: \#1 x\_i costs \$5"),
        ("x^2 is ~4", r"x\textasciicircum{}2 is \textasciitilde{}4"),
        # Math is kept as written; only % (a comment) and # (never valid) are escaped in it.
        ("Loss $O(n^2)$ with 10% data", r"Loss $O(n^2)$ with 10\% data"),
        ("$x_{i} % y$ and $$a & b$$", r"$x_{i} \% y$ and $$a & b$$"),
        (r"\(\mathcal{O}(n)\) and \[x\]", r"\(\mathcal{O}(n)\) and \[x\]"),
        (r"already escaped: 5\% \& \_", r"already escaped: 5\% \& \_"),
        # Braces: pairs of one kind stay; every other brace gets an invisible partner.
        ("{BERT} and \\{set\\}", "{BERT} and \\{set\\}"),
        ("a { b", r"a \{\vphantom{\}} b"),
        ("a } b", r"a \vphantom{\{}\} b"),
        ("{a\\}", r"\{\vphantom{\}}a\vphantom{\{}\}"),
        ("}{", r"\vphantom{\{}\}\{\vphantom{\}}"),
        ("$\\{x$", r"$\{\vphantom{\}}x$"),
        # Backslashes: a line break is a space, a lone one at the end is printed, a control space ends.
        (r"one \\ two", "one two"),
        ("C:\\", r"C:\textbackslash{}"),
        ("end\\ ", r"end\textbackslash{}"),
        (r"$a \\{b}$", r"$a \\ {b}$"),
        (r"stray \( and \]", "stray ( and ]"),
        ("line\nbreak\r\n\ttab\x00nul\u2028sep\x85", "line break tab nul sep"),
        ("@misc{evil, title={x}}", "@misc{evil, title={x}}"),
    ],
)
def test_latex_value(text: str, value: str) -> None:
    assert latex_value(text) == value
    assert balanced(value)


def test_escaped_text_prints_as_it_was_written() -> None:
    text = "50% of A&B: #1 x_i costs $5 } then { unbalanced"
    assert LatexNodes2Text().latex_to_text(latex_value(text)) == text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Ashish Vaswani", "Ashish Vaswani"),
        ("Anderson Alexander", "Anderson Alexander"),
        ("Smith and Wesson", "{Smith and Wesson}"),
        ("Research AND Development", "{Research AND Development}"),
        ("Doe, J.", "{Doe, J.}"),
        ("others", "{others}"),
        ("AT&T Labs", r"AT\&T Labs"),
    ],
)
def test_author_names_stay_one_name(name: str, value: str) -> None:
    assert bibtex_name(name) == value


def test_verbatim_values() -> None:
    assert verbatim_value(" 10.1000/a_b%c{d}\\e\n") == "10.1000/a_b%cde"
    assert plain_line(" a\n\n b\x00c ") == "a b c"


# --- round trips ---------------------------------------------------------------------------------


def test_real_papers_round_trip(real: list[Citation]) -> None:
    assert len(real) == 874
    assert sum(1 for c in real if c.journal_ref) > 50 and sum(1 for c in real if "$" in c.abstract) > 50
    assert_bibtex_round_trip(real)
    assert_ris_round_trip(real)


HOSTILE = [
    "{",
    "}",
    "}{",
    "{{{",
    "\\",
    "\\\\",
    "\\{",
    "\\}",
    "a\\",
    "%",
    "@",
    "@misc{x,\n",
    "\n@article{y, title={z}}\n",
    "ER  - ",
    "\nER  - \nTY  - JOUR\n",
    "$",
    "$$",
    "$x",
    "$\\}$",
    "\\(",
    "\\]",
    "&#_^~",
    '"',
    ",",
    "=",
    "\x00\x07\x1b\x7f\x85\u2028\u2029\r\t\x0b\x0c",
    "\ud800",
    "é",
    "張",
    " and ",
    "others",
]


@settings(max_examples=150, deadline=None)
@given(
    title=st.lists(st.sampled_from(HOSTILE) | st.text(max_size=5), max_size=8).map("".join),
    abstract=st.lists(st.sampled_from(HOSTILE) | st.text(max_size=5), max_size=12).map("".join),
    authors=st.lists(
        st.lists(st.sampled_from(HOSTILE) | st.text(max_size=4), max_size=3).map("".join), max_size=4
    ),
)
def test_hostile_text_round_trips(title: str, abstract: str, authors: list[str]) -> None:
    hostile = Citation("2401.00001", title, authors, abstract, comment=abstract, journal_ref=title or None)
    # The next entry is intact whatever the hostile one holds.
    citations = [hostile, ATTENTION]
    assert_bibtex_round_trip(citations)
    assert_ris_round_trip(citations)
    records = rispy.loads(ris(citations))
    assert len(records) == 2 and records[1]["title"] == ATTENTION.title


def test_a_very_long_author_list() -> None:
    authors = [f"Author Number{i} de la Física" for i in range(3000)]
    big = Citation("2401.00001", "ATLAS", authors, published=date(2024, 1, 2))
    library = bibtexparser.parse_string(bibtex([big]))
    assert library.failed_blocks == []
    assert library.entries[0].fields_dict["author"].value.split(" and ") == authors
    assert rispy.loads(ris([big]))[0]["authors"] == authors
