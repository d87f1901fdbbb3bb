"""core.markdown: comments' CommonMark with math, safe links and no images; mentions; excerpts; and a
published XSS corpus rendered as a comment and as a plain template field."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.core.markdown import comment_excerpt, mentions, render_comment
from dailypapers.web.render import templates

XSS = Path(__file__).parents[1] / "data" / "xss" / "payloads.txt"

# The tags a rendered comment may hold: the abstract's MathML and a small set of prose tags.
ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr",
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot", "msub", "msup",
    "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "menclose", "semantics", "annotation", "merror",
}  # fmt: skip
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "style", "base", "form", "meta", "link", "img"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}
SAFE_URL = re.compile(r"(https?://|mailto:)", re.IGNORECASE)
# Markdown syntax and script vectors for the property test to combine in any order.
MARKDOWN_PIECES = [
    "[", "]", "(", ")", "<", ">", "!", "*", "_", "`", "```\n", "\n", "\n\n", "    ", "$", "$$", "\\", "\\(",
    "&#106;", "&colon;", "&#x09;", '"', "'", "=", " ", "#", "> ", "- ", "1. ", "[x]: ",
    "javascript:", "JaVaScRiPt:", "vbscript:", "data:text/html,", "alert(1)", "https://a.example",
    "mailto:a@b.example", "//evil.example", "script", "img", " onerror=", " style=", "iframe",
]  # fmt: skip


def xss_payloads() -> list[pytest.ParameterSet]:
    """The corpus (tests/data/xss/SOURCE.md), one case per line, named by its line number."""
    lines = XSS.read_text(encoding="utf-8").split("\n")
    return [pytest.param(line, id=f"line{n}") for n, line in enumerate(lines, 1) if line]


class Elements(HTMLParser):
    """Every element of an HTML fragment as (tag, attributes), as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def unsafe_parts(html: str) -> list[str]:
    """What in `html` could run script, restyle the page or send a reader elsewhere unasked."""
    problems = []
    for tag, attrs in Elements(html).found:
        if tag in FORBIDDEN_TAGS or tag not in ALLOWED_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                problems.append(f"<{tag} {name}>")
            # Browsers drop tabs and newlines inside a scheme ("java\tscript:"): so does the check.
            url = re.sub(r"[\x00-\x20]", "", value or "")
            if name in URL_ATTRIBUTES and not SAFE_URL.match(url):
                problems.append(f"<{tag} {name}={value!r}>")
    return problems


def test_the_safety_check_sees_what_it_looks_for() -> None:
    """The corpus checks on known-bad HTML: a check that cannot fail proves nothing."""
    bad = '<p onclick=x><script></script><a href="java&#9;script:x">a</a><b style="x">b</b><img src=x></p>'
    assert unsafe_parts(bad) == [
        "<p onclick>",
        "<script>",
        "<a href='java\\tscript:x'>",
        "<b>",
        "<b style>",
        "<img>",
        "<img src='x'>",
    ]
    assert unsafe_parts('<p><a href="https://a.b" rel="nofollow ugc noopener">a</a></p>') == []


def test_the_corpus_is_whole() -> None:
    """The count SOURCE.md gives, every line a payload: a truncated file would thin the tests out."""
    assert len(xss_payloads()) == 272
    assert XSS.read_text(encoding="utf-8").count("\n") == 272


# --- CommonMark ------------------------------------------------------------------------------


def test_commonmark_basics() -> None:
    html = render_comment("Some *emphasis*, **strong** and `code`.\n\n> quoted\n\n- one\n- two\n\n1. a\n2. b")
    assert "<p>Some <em>emphasis</em>, <strong>strong</strong> and <code>code</code>.</p>" in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>a</li>\n<li>b</li>\n</ol>" in html


def test_code_blocks_hard_breaks_rules_and_list_starts() -> None:
    html = render_comment("```python\nx = 1 < 2\n```\n\nline  \nbreak\n\n---\n\n3. third")
    assert "<pre><code>x = 1 &lt; 2\n</code></pre>" in html  # the fence's language class is dropped
    assert "<p>line<br>\nbreak</p>" in html
    assert "<hr>" in html
    assert '<ol start="3">' in html


def test_headings_are_bold_paragraphs_not_page_headings() -> None:
    html = render_comment("# Big\n\nSmall\n======")
    assert html == "<p><strong>Big</strong></p>\n<p><strong>Small</strong></p>\n"
    assert "<h1" not in html


def test_empty_comment() -> None:
    assert render_comment("") == ""
    assert mentions("") == []
    assert comment_excerpt("") == ""


# --- math ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "display"),
    [("$x^2$", "inline"), ("$$x^2$$", "block"), (r"\(x^2\)", "inline"), (r"\[x^2\]", "block")],
)
def test_math_is_mathml_as_in_abstracts(text: str, display: str) -> None:
    html = render_comment(f"so {text} holds")
    assert f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{display}">' in html
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html
    assert "$" not in html and "\\" not in html


def test_markdown_inside_math_is_left_to_latex() -> None:
    # Without the math rule "_1 ... _2" would be emphasis and "\{" an escaped brace.
    html = render_comment(r"$a_1 + b_2 * c_3 \{x\}$")
    assert "<em>" not in html
    assert "<msub><mi>a</mi><mn>1</mn></msub>" in html


def test_math_in_code_is_left_alone() -> None:
    html = render_comment("`$x^2$` and\n\n```\n$$y$$ \\(z\\)\n```\n\n    $w$")
    assert "<math" not in html
    assert "<code>$x^2$</code>" in html
    assert "<pre><code>$$y$$ \\(z\\)\n</code></pre>" in html
    assert "<pre><code>$w$\n</code></pre>" in html


def test_dollars_that_are_not_math() -> None:
    html = render_comment(r"It costs $5 and $6, or \$x$.")
    assert "<math" not in html
    assert html == "<p>It costs $5 and $6, or $x$.</p>\n"


def test_unclosed_math_openers_are_commonmark_escapes() -> None:
    assert render_comment(r"\(a and \[b, \$c") == "<p>(a and [b, $c</p>\n"


def test_latex_the_converter_cannot_read_is_shown_as_source() -> None:
    assert render_comment(r"$\frac{1}{$") == '<p><code class="tex">$\\frac{1}{$</code></p>\n'


# --- links and images ------------------------------------------------------------------------


def test_links_get_rel_nofollow_ugc_noopener() -> None:
    html = render_comment(
        "[paper](https://arxiv.org/abs/2401.00001), <http://a.example/x> and <me@a.example>"
    )
    assert '<a href="https://arxiv.org/abs/2401.00001" rel="nofollow ugc noopener">paper</a>' in html
    assert '<a href="http://a.example/x" rel="nofollow ugc noopener">http://a.example/x</a>' in html
    assert '<a href="mailto:me@a.example" rel="nofollow ugc noopener">me@a.example</a>' in html


def test_a_title_is_dropped_and_text_in_links_is_markdown() -> None:
    html = render_comment('[see *this* $x$](https://a.example "title")')
    assert html.startswith(
        '<p><a href="https://a.example" rel="nofollow ugc noopener">see <em>this</em> <math'
    )
    assert "title" not in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;&#x61;vascript:alert(1)",
        "&#0000106&#0000097vascript:alert(1)",
        "java&#09;script:alert(1)",
        "<java&#10;script:alert(1)>",
        "javascript&colon;alert(1)",
        "%6A%61vascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:image/png;base64,iVBORw0KGgo=",
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative",
        "#fragment",
    ],
)
def test_only_http_https_and_mailto_links_survive(url: str) -> None:
    for text in (f"[click](<{url.strip('<>')}>)", f"[click]({url})", f"![click]({url})", f"<{url}>"):
        html = render_comment(text)
        assert "href" not in html, text
        assert unsafe_parts(html) == []


def test_reference_links_are_checked_too() -> None:
    assert "href" not in render_comment("[a][x]\n\n[x]: javascript:alert(1)")
    assert 'href="https://a.example"' in render_comment("[a][x]\n\n[x]: https://a.example")


def test_images_are_links_not_img() -> None:
    html = render_comment(
        '![a *chart* of $x$](https://img.example/c.png "t") and ![](https://img.example/d.png)'
    )
    assert "<img" not in html
    assert '<a href="https://img.example/c.png" rel="nofollow ugc noopener">a chart of x</a>' in html
    # No description: the address itself is the link's text.
    assert ">https://img.example/d.png</a>" in html


# --- raw HTML --------------------------------------------------------------------------------


def test_raw_html_is_shown_as_text() -> None:
    html = render_comment('<script>alert(1)</script>\n\nhi <b onclick="x">there</b> <!-- c -->')
    assert html == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
        '<p>hi &lt;b onclick="x"&gt;there&lt;/b&gt; &lt;!-- c --&gt;</p>\n'
    )


def test_entities_are_text_not_markup() -> None:
    assert render_comment("&lt;img src=x onerror=alert(1)&gt; &amp;") == (
        "<p>&lt;img src=x onerror=alert(1)&gt; &amp;</p>\n"
    )


# --- mentions --------------------------------------------------------------------------------


def test_mentions_unique_in_order() -> None:
    assert mentions("@bob thanks, and @alice_1 — cc @bob @a-b") == ["bob", "alice_1", "a-b"]


def test_mentions_ignore_code_math_and_email() -> None:
    text = (
        "mail x@carol.example or <dave@d.example>; `@eve` $@frank$\n\n    @grace\n\n```\n@heidi\n```\n\n@ivan"
    )
    assert mentions(text) == ["ivan"]


def test_mention_syntax() -> None:
    assert mentions("@a @ab @" + "x" * 32 + " @" + "y" * 33) == ["ab", "x" * 32]
    assert mentions("(@alice), **@bob**. [@carol](https://c.example) https://x.example/@mallory") == [
        "alice",
        "bob",
        "carol",
    ]


# --- excerpt ---------------------------------------------------------------------------------


def test_excerpt_is_plain_text_with_math_as_unicode() -> None:
    text = "# Nice\n\nThe *bound* $O(n^2)$ holds for `k`, see [here](https://a.example).\n\n- a\n- b"
    assert comment_excerpt(text) == "Nice The bound O(n²) holds for k, see here. a b"


def test_excerpt_keeps_html_as_text_for_the_caller_to_escape() -> None:
    assert comment_excerpt("<b>hi</b> &amp;") == "<b>hi</b> &"


def test_excerpt_is_cut_at_a_word() -> None:
    assert comment_excerpt("word " * 100, limit=22) == "word word word word…"
    assert len(comment_excerpt("word " * 100)) <= 201


# --- the XSS corpus --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", xss_payloads())
def test_xss_payload_rendered_as_a_comment_is_inert(payload: str) -> None:
    assert unsafe_parts(render_comment(payload)) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=12).map("".join))
def test_any_mix_of_markdown_and_script_pieces_is_inert(text: str) -> None:
    assert unsafe_parts(render_comment(text)) == []


@pytest.mark.parametrize("payload", xss_payloads())
def test_xss_payload_in_a_template_field_is_text(payload: str) -> None:
    page = templates.env.from_string("<p>{{ value }}</p>").render(value=payload)
    assert "<" not in page.removeprefix("<p>").removesuffix("</p>")
