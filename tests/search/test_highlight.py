"""Highlighting of query words in search results (core.text.highlight): never inside LaTeX."""

from __future__ import annotations

import re

import pytest

from dailypapers.core.text import _MATH_RE, highlight


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        # The case: "ell" marked inside $\ell_2$ broke the math.
        (r"Robust $\ell_2$ regression", ["ell"], r"Robust $\ell_2$ regression"),
        (r"$\ell_2$ and ell-balls", ["ell"], r"$\ell_2$ and <mark>ell</mark>-balls"),
        (r"A $q$-analogue of q-series", ["q"], r"A $q$-analogue of <mark>q</mark>-series"),
        (
            r"Display $$\mathrm{graph}(x)$$ then graph",
            ["graph"],
            r"Display $$\mathrm{graph}(x)$$ then <mark>graph</mark>",
        ),
        (
            r"Inline \(graph\) and \[graph\] but graphs",
            ["graph"],
            r"Inline \(graph\) and \[graph\] but <mark>graphs</mark>",
        ),
        # A LaTeX command outside math delimiters is no word either.
        (r"the \alpha-divergence and alpha", ["alpha"], r"the \alpha-divergence and <mark>alpha</mark>"),
        # A lone dollar (a price) is no math: the words after it are marked.
        ("Costs $5 per graph", ["graph"], "Costs $5 per <mark>graph</mark>"),
        # Escaping is kept, in and out of math.
        ("x < y & $a<b$ graph", ["graph"], "x &lt; y &amp; $a&lt;b$ <mark>graph</mark>"),
        ("Fast & Faithful", ["faithful"], "Fast &amp; <mark>Faithful</mark>"),
        ("no words", [], "no words"),
    ],
)
def test_marks_words_outside_math_only(text: str, words: list[str], expected: str) -> None:
    assert str(highlight(text, words)) == expected


def test_no_mark_lands_inside_any_math_span_of_titles_with_math() -> None:
    titles = [
        r"Tight $\ell_1$ and $\ell_\infty$ bounds for ell-shaped sets",
        r"A $q$-analogue of the $\alpha$-model",
        r"$x$-Prediction with $O(\log n)$ graph queries",
        r"Spin-$1/2$ chains and $\mathbb{Z}_2$ graph codes",
    ]
    for title in titles:
        words = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", title)}, key=len, reverse=True)
        marked = str(highlight(title, words))
        for span in _MATH_RE.finditer(marked):
            assert "<mark>" not in span.group(0), (title, marked)
        assert re.sub(r"</?mark>", "", marked) == str(highlight(title, []))
