"""core.text: abstract clean-up, link extraction, withdrawals, LaTeX -> MathML / Unicode, excerpts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.core.text import (
    abstract_html,
    clean_abstract,
    clean_title,
    decode_tex_name,
    excerpt,
    extract_links,
    is_withdrawal,
    latex_to_unicode,
    short_authors,
    split_authors,
    title_html,
)

DATA = Path(__file__).parents[1] / "data"


def _jsonl(path: Path) -> dict[str, dict]:
    return {obj["id"]: obj for obj in map(json.loads, path.read_text().splitlines())}


@pytest.fixture(scope="module")
def listing() -> dict[str, dict]:
    return _jsonl(DATA / "listing-cs_2026-06-30.jsonl")


@pytest.fixture(scope="module")
def kaggle() -> dict[str, dict]:
    return _jsonl(DATA / "kaggle-sample200.jsonl")


# --- clean_abstract / clean_title -------------------------------------------------------------


def test_soft_wraps_are_joined() -> None:
    raw = "We discuss the three main areas of the new\nfield of AI. This includes\nnot only how."
    assert (
        clean_abstract(raw)
        == "We discuss the three main areas of the new field of AI. This includes not only how."
    )


def test_indented_line_starts_a_paragraph() -> None:
    raw = "First paragraph\nwraps here.\n  Second paragraph\nalso wraps.\n  Third."
    assert clean_abstract(raw) == "First paragraph wraps here.\n\nSecond paragraph also wraps.\n\nThird."


def test_blank_lines_separate_paragraphs_and_runs_collapse() -> None:
    raw = "  One  two\n\n\n\nthree   four \n\t five"
    assert clean_abstract(raw) == "One two\n\nthree four\n\nfive"


def test_empty_and_none() -> None:
    assert clean_abstract("") == ""
    assert clean_abstract(None) == ""  # type: ignore[arg-type]
    assert clean_abstract(" \n \n ") == ""


def test_clean_abstract_is_idempotent_on_real_abstracts(listing: dict, kaggle: dict) -> None:
    for obj in [*listing.values(), *kaggle.values()]:
        raw = obj.get("summary") or obj.get("abstract") or ""
        once = clean_abstract(raw)
        assert clean_abstract(once) == once
        assert once == once.strip()
        assert "\n\n\n" not in once
        for para in once.split("\n\n"):
            assert para and "\n" not in para and "  " not in para


def test_real_listing_abstract_keeps_its_two_paragraphs(listing: dict) -> None:
    text = clean_abstract(listing["2606.28729"]["summary"])
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("In this paper, we study convertible codes")
    assert paragraphs[0].endswith("access cost and conversion bandwidth.")
    assert paragraphs[1].startswith("We first construct convertible MSR codes")


def test_real_kaggle_abstract_is_one_paragraph(kaggle: dict) -> None:
    raw = kaggle["0704.0001"]["abstract"]
    assert raw.startswith("  A fully") and "\n" in raw
    text = clean_abstract(raw)
    assert text.startswith(
        "A fully differential calculation in perturbative quantum chromodynamics is presented"
    )
    assert "\n" not in text
    assert "is\npresented" not in text and "is presented" in text


def test_clean_title() -> None:
    assert (
        clean_title(
            "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies"
        )
        == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert clean_title(None) == ""  # type: ignore[arg-type]


# --- extract_links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Code is available at https://github.com/foo/bar.", ["https://github.com/foo/bar"]),
        ("Code: https://github.com/foo/bar, data: elsewhere", ["https://github.com/foo/bar"]),
        ("See https://github.com/foo/bar; it works!", ["https://github.com/foo/bar"]),
        ("Code is publicly available (https://github.com/foo/bar).", ["https://github.com/foo/bar"]),
        ("Code is at https://github.com/foo/bar!", ["https://github.com/foo/bar"]),
        ('Code at "https://github.com/foo/bar".', ["https://github.com/foo/bar"]),
        ("Released at \\url{https://github.com/foo/bar}.", ["https://github.com/foo/bar"]),
        ("Code: https://github.com/foo/bar/tree/main/src.", ["https://github.com/foo/bar/tree/main/src"]),
        # Balanced parentheses belong to the URL.
        ("Code: https://github.com/foo/bar_(v2)", ["https://github.com/foo/bar_(v2)"]),
        ("Code: https://www.github.com/foo/bar.", ["https://www.github.com/foo/bar"]),
        ("Code: https://gitlab.com/group/project.", ["https://gitlab.com/group/project"]),
        ("Data: https://huggingface.co/datasets/org/name.", ["https://huggingface.co/datasets/org/name"]),
        # A user page or a bare host is not a repository; HF papers/spaces are not code.
        ("Me: https://github.com/foo and https://github.com/.", []),
        ("Paper: https://huggingface.co/papers/2501.01234", []),
        ("Demo: https://huggingface.co/spaces/org/demo", []),
        # Each URL once, in order of appearance.
        (
            "https://github.com/a/b and \\href{https://github.com/c/d}{https://github.com/c/d}.",
            ["https://github.com/a/b", "https://github.com/c/d"],
        ),
    ],
)
def test_code_links(text: str, code: list[str]) -> None:
    assert extract_links(text)[0] == code


@pytest.mark.parametrize(
    ("text", "project"),
    [
        ("Project page: https://example.org/proj.", "https://example.org/proj"),
        ("Project Page: https://example.org/proj/", "https://example.org/proj/"),
        ("Project website: https://www.deepmedsearch.cloud.", "https://www.deepmedsearch.cloud"),
        ("Homepage: https://lab.example.edu/~me/p", "https://lab.example.edu/~me/p"),
        ("Demo: https://demo.example.com", "https://demo.example.com"),
        # *.github.io is a project page even without a hint.
        ("Results are at https://someone.github.io/thing.", "https://someone.github.io/thing"),
        # A hinted page wins over a github.io fallback that comes first.
        (
            "See https://a.github.io/x. Project page: https://b.example.org/y",
            "https://b.example.org/y",
        ),
        # Without a hint an arbitrary URL is not a project page.
        ("Data: https://figshare.com/s/612148eeb4bccadbd715.", None),
        # arXiv and DOI links are never project pages, even after a hint.
        ("Project page: https://arxiv.org/abs/2501.01234", None),
        ("Project page: https://export.arxiv.org/abs/2501.01234", None),
        ("Project page: https://doi.org/10.1007/s42979-026-05177-0", None),
        ("Website: http://dx.doi.org/10.1103/PhysRevD.76.013009", None),
        ("Project page: https://creativecommons.org/licenses/by/4.0/", None),
        ("no links at all", None),
    ],
)
def test_project_page(text: str, project: str | None) -> None:
    assert extract_links(text)[1] == project


def test_code_urls_are_never_project_pages() -> None:
    code, project = extract_links("Project page: https://github.com/NEU-Liuxuecong/RBE-Flow")
    assert code == ["https://github.com/NEU-Liuxuecong/RBE-Flow"]
    assert project is None


def test_links_from_abstract_and_comment_together() -> None:
    code, project = extract_links(
        "Our code is at https://github.com/org/repo.",
        "Accepted to ECCV 2026. Project page: https://org.github.io/repo/",
    )
    assert code == ["https://github.com/org/repo"]
    assert project == "https://org.github.io/repo/"
    assert extract_links(None, "", "no url") == ([], None)


@pytest.mark.parametrize(
    ("arxiv_id", "field", "code", "project"),
    [
        ("2606.28589", "summary", ["https://github.com/tianlwang/DynaSteer"], None),
        ("2606.29354", "summary", ["https://github.com/pzqpzq/LSF_MDia"], None),
        ("2606.28410", "summary", ["https://github.com/wangshanwen001/RSGPNet"], None),
        ("2606.28622", "comment", [], "https://danielxu9393.github.io/meshtryoshka-website/"),
        (
            "2606.30296",
            "comment",
            ["https://github.com/jwj1342/Paper2Manim"],
            "https://manimagent.github.io/",
        ),
        ("2606.29746", "comment", [], "https://www.deepmedsearch.cloud"),
        ("2606.30516", "comment", [], None),  # a DOI link
        ("2606.29733", "summary", [], None),  # a DOI link to Zenodo
    ],
)
def test_links_in_real_listing_texts(
    listing: dict, arxiv_id: str, field: str, code: list[str], project: str | None
) -> None:
    text = listing[arxiv_id][field]
    assert "://" in text
    assert extract_links(text) == (code, project)


def test_capitalised_code_host() -> None:
    assert extract_links("Code: https://GitHub.com/Owner/Repo.")[0] == ["https://GitHub.com/Owner/Repo"]


@settings(max_examples=200)
@given(st.text())
def test_extract_links_never_fails_and_returns_urls(text: str) -> None:
    code, project = extract_links(text, text)
    assert all(u.startswith(("http://", "https://")) for u in code)
    assert len(code) == len(set(code))
    assert project is None or project.startswith(("http://", "https://"))


# --- withdrawals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "abstract", "withdrawn"),
    [
        ("This paper has been withdrawn by the authors.", None, True),
        ("This submission has been withdrawn by arXiv administrators", "", True),
        ("Withdrawn due to an error in Lemma 2", None, True),
        ("  withdrawn", None, True),
        (None, "This article was withdrawn because of a duplicate submission.", True),
        (None, "The manuscript is withdrawn.", True),
        ("12 pages, 3 figures", "We study samples withdrawn from a reservoir.", False),
        ("Patients who withdrawn consent were excluded", None, False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_is_withdrawal(comment: str | None, abstract: str | None, withdrawn: bool) -> None:
    assert is_withdrawal(comment, abstract) is withdrawn


def test_real_withdrawn_kaggle_record(kaggle: dict) -> None:
    assert is_withdrawal(kaggle["0704.0156"]["comments"], kaggle["0704.0156"]["abstract"])
    others = [k for k, v in kaggle.items() if is_withdrawal(v.get("comments"), v.get("abstract"))]
    assert others == ["0704.0156"]


# --- abstract_html ------------------------------------------------------------------------------


def test_inline_math_becomes_mathml() -> None:
    html = str(abstract_html("We show $x^2 + y$ holds."))
    assert html.startswith("<p>We show <math") and html.endswith(" holds.</p>")
    assert 'display="inline"' in html
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html
    assert "$" not in html


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("$$\\sum_i a_i$$", "block"),
        ("\\[\\sum_i a_i\\]", "block"),
        ("\\(\\alpha\\)", "inline"),
        ("$\\alpha$", "inline"),
    ],
)
def test_math_delimiters(text: str, display: str) -> None:
    html = str(abstract_html(f"Before {text} after"))
    assert html.count("<math") == 1
    assert f'display="{display}"' in html
    assert "\\" not in html and "$" not in html
    assert html.startswith("<p>Before <math") and html.endswith("</math> after</p>")


def test_paragraphs_become_p_elements() -> None:
    html = str(abstract_html("First $a$.\n\nSecond."))
    assert html.count("<p>") == 2
    assert html.endswith("<p>Second.</p>")


def test_html_in_the_abstract_is_escaped() -> None:
    html = str(abstract_html('<script>alert(1)</script> and <b onclick="x()">bold</b> & more'))
    assert "<script" not in html and "<b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b onclick=" in html
    assert "&amp; more" in html


@pytest.mark.parametrize(
    "text",
    [
        "$\\text{<script>alert(1)</script>}$",
        "$\\text{<img src=x onerror=alert(1)>}$",
        "$\\text{</mtext></math><iframe src=javascript:alert(1)>}$",
        "$\\href{javascript:alert(1)}{x}$",
        "$$\\text{<style>*{display:none}</style>}$$",
        "\\(\\text{<a href='javascript:alert(1)'>x</a>}\\)",
    ],
)
def test_html_smuggled_through_math_is_removed(text: str) -> None:
    html = str(abstract_html(text)).lower()
    for bad in ("<script", "<img", "<iframe", "<style", "<a ", "onerror", "javascript:", "href"):
        assert bad not in html


@pytest.mark.parametrize("text", ["It costs $5 per month.", "Prices of $5 and $10 were compared.", "US$ 5"])
def test_a_lone_dollar_is_not_math(text: str) -> None:
    assert str(abstract_html(text)) == f"<p>{text}</p>"


@pytest.mark.parametrize("tex", ["$\\frac{1}{$", "$\\begin{matrix}$", "$a_$"])
def test_bad_latex_falls_back_to_escaped_source(tex: str) -> None:
    html = str(abstract_html(f"bad {tex} <here>"))
    assert "<math" not in html
    assert f'<code class="tex">{tex}</code>' in html
    assert html.endswith(" &lt;here&gt;</p>")


def test_math_with_html_characters() -> None:
    html = str(abstract_html("$a < b$ & $c > d$"))
    assert html.count("<math") == 2
    assert "&lt;" in html and "&gt;" in html and "&amp;" in html


def test_real_abstract_math(listing: dict) -> None:
    html = str(abstract_html(clean_abstract(listing["2606.28729"]["summary"])))
    assert html.count("<p>") == 2
    assert "<math" in html and "<mi>m</mi>" in html
    assert "$m$" not in html


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(list("ab$\\()[]{}<>&\"' \n^_x<script>")), max_size=60))
def test_abstract_html_never_leaks_markup(text: str) -> None:
    html = str(abstract_html(text)).lower()
    assert "<script" not in html
    assert html.startswith("<p>") and html.endswith("</p>")


# --- latex_to_unicode / excerpt / short_authors ------------------------------------------------


def test_latex_to_unicode_converts_only_math() -> None:
    assert latex_to_unicode("$\\alpha$ is 50% better than \\(\\beta\\)") == "α is 50% better than β"
    assert latex_to_unicode("We improve by 50% at $5 each") == "We improve by 50% at $5 each"
    assert latex_to_unicode("\\textbf{not math} and 100% ~ kept") == "\\textbf{not math} and 100% ~ kept"
    assert latex_to_unicode("") == ""
    assert latex_to_unicode(None) == ""  # type: ignore[arg-type]


def test_latex_to_unicode_keeps_the_spaces_after_macros() -> None:
    # LaTeX itself swallows them; readers of a mail want "α = 1.5", not "α= 1.5".
    assert (
        latex_to_unicode("$\\alpha = 1.5$, $\\mathcal{O}(n \\log n)$, $a \\cdot b$")
        == "α = 1.5, 𝒪(n log n), a · b"
    )


def test_latex_to_unicode_display_math() -> None:
    assert latex_to_unicode("sum $$\\sum_i x_i$$ and \\[\\gamma\\]") == "sum ∑_i x_i and γ"


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ("M$^3$Eval", "M³Eval"),  # real demo titles (2606.05008, 2606.24347, 2606.12213, 2606.08750)
        ("PM$_{2.5}$ Forecasting", "PM₂.₅ Forecasting"),
        ("360$^\\circ$ Panorama", "360° Panorama"),
        ("over $\\mathbb{Z}_4$", "over ℤ₄"),
        ("D$^{2}$R$^{2}$OSR", "D²R²OSR"),
        ("$O(n^2)$", "O(n²)"),
        ("$e^{-x}$ and $x_i$", "e^-x and x_i"),  # no Unicode form for every script: kept readable as ^ and _
    ],
)
def test_latex_to_unicode_writes_scripts_as_characters_where_unicode_has_them(latex: str, text: str) -> None:
    assert latex_to_unicode(latex) == text


# --- title_html --------------------------------------------------------------------------------


def test_title_math_is_inline_mathml() -> None:
    # Real demo titles (2606.13246, 2606.29066).
    html = str(title_html("A $q$-analogue of the rational normal curve"))
    assert html == (
        'A <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mi>q</mi></mrow>'
        "</math>-analogue of the rational normal curve"
    )
    html = str(title_html("Masked Diffusion Decoding as $x$-Prediction Flow"))
    assert "$" not in html and "<mi>x</mi></mrow></math>-Prediction Flow" in html
    # Display math in a title stays on the line.
    assert 'display="inline"' in str(title_html("Sum $$\\sum_i x_i$$ bounds"))


def test_title_without_math_is_escaped_text() -> None:
    assert (
        str(title_html("Costs of $5 & <b>bold</b> claims"))
        == "Costs of $5 &amp; &lt;b&gt;bold&lt;/b&gt; claims"
    )


def test_title_marks_query_words_outside_the_math_only() -> None:
    html = str(
        title_html("The Tell-Tale Norm: $\\ell_2$ Magnitude as a Signal", ["norm", "ell", "magnitude"])
    )
    assert "<mark>Norm</mark>" in html and "<mark>Magnitude</mark>" in html
    math = html[html.index("<math") : html.index("</math>")]
    assert "<mark>" not in math and "<mi>ℓ</mi>" in math


@pytest.mark.parametrize("tex", ["$\\frac{1}{$", "$a_$"])
def test_title_with_bad_latex_shows_the_escaped_source(tex: str) -> None:
    html = str(title_html(f"Bad {tex} <here>"))
    assert (
        "<math" not in html and f'<code class="tex">{tex}</code>' in html and html.endswith(" &lt;here&gt;")
    )


@settings(max_examples=200)
@given(
    st.text(alphabet=st.sampled_from(list("ab$\\()[]{}<>&\"' ^_x<script>")), max_size=60),
    st.lists(st.sampled_from(["a", "b", "x", "script"]), max_size=2),
)
def test_title_html_never_leaks_markup(text: str, words: list[str]) -> None:
    html = str(title_html(text, words)).lower()
    assert "<script" not in html and "<p>" not in html


def test_excerpt_short_text_is_whole() -> None:
    assert excerpt("A short  abstract\n\nwith $\\alpha$.") == "A short abstract with α."


def test_excerpt_cuts_at_a_word_boundary() -> None:
    text = "alpha beta gamma delta, epsilon zeta eta theta"
    out = excerpt(text, limit=25)
    assert out == "alpha beta gamma delta…"
    assert len(out) <= 26


@settings(max_examples=200)
@given(
    words=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=12), min_size=1, max_size=80),
    limit=st.integers(min_value=5, max_value=300),
)
def test_excerpt_properties(words: list[str], limit: int) -> None:
    text = " ".join(words)
    out = excerpt(text, limit=limit)
    if len(text) <= limit:
        assert out == text
    else:
        assert out.endswith("…")
        body = out[:-1]
        assert len(body) <= limit
        assert text.startswith(body)
        # Cut between words (or inside a first word longer than the limit).
        assert text[len(body)] == " " or " " not in text[:limit]


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ([], ""),
        (["A"], "A"),
        (["A", "B", "C"], "A, B, C"),
        (["A", "B", "C", "D"], "A, B, C, D"),
        (["A", "B", "C", "D", "E"], "A, B, C +2 authors"),
        ([f"N{i}" for i in range(19)], "N0, N1, N2 +16 authors"),
    ],
)
def test_short_authors(authors: list[str], expected: str) -> None:
    assert short_authors(authors) == expected


def test_short_authors_limit() -> None:
    assert short_authors(["A", "B", "C"], limit=1) == "A +2 authors"
    assert short_authors(["A", "B"], limit=1) == "A, B"


def test_code_links_that_differ_only_in_form_are_listed_once() -> None:
    code, _ = extract_links(
        "Code: https://github.com/owner/Repo. Mirror at https://www.github.com/owner/repo.git and "
        "https://github.com/owner/repo/ ; other https://github.com/owner/other"
    )
    assert code == ["https://github.com/owner/Repo", "https://github.com/owner/other"]


def test_clean_abstract_fast_path_equals_split_join() -> None:
    for text in [
        "a b\nc d",
        "a  b\nc",
        "a \nb",
        "a\tb\nc",
        "a\x1cb\nc",
        "caf\u00e9\nb\u2009c",
        " lead\ntrail ",
    ]:
        assert clean_abstract(text) == " ".join(text.split()), repr(text)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("J. H. Jiang, Y. Y. Wang, and M. W. Wu", ["J. H. Jiang", "Y. Y. Wang", "M. W. Wu"]),
        ("A. One (MIT, CSAIL), B. Two and C. Three", ["A. One", "B. Two", "C. Three"]),
        ("Solo Author", ["Solo Author"]),
        ("", []),
    ],
)
def test_split_authors(text: str, names: list[str]) -> None:
    assert split_authors(text) == names


@pytest.mark.parametrize(
    ("name", "decoded"),
    [
        ("C. Bal\\'azs", "C. Balázs"),
        ("Rastislav \\v{S}r\\'amek", "Rastislav Šrámek"),
        ("Plain Name", "Plain Name"),
        ("{}", ""),
    ],
)
def test_decode_tex_name(name: str, decoded: str) -> None:
    assert decode_tex_name(name) == decoded


@pytest.mark.parametrize(
    "comment",
    [
        "paper withdrawn by author",
        "This has been withdrawn by arXiv administrators due to a dispute",
        "Withdrawn: a fatal error in Lemma 2",
        "This paper has been withdrawn by the authors",
    ],
)
def test_withdrawal_phrases(comment: str) -> None:
    assert is_withdrawal(comment)


def test_not_withdrawals() -> None:
    assert not is_withdrawal("10 pages; the drug was withdrawn from the market in 2004")


def test_closing_parentheses_after_a_url_are_trimmed() -> None:
    code, _ = extract_links("code (see https://github.com/a/b))) and more")
    assert code == ["https://github.com/a/b"]
    assert extract_links("(https://en.wikipedia.org/wiki/Foo_(bar))")[1] is None
