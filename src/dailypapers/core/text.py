"""Paper text: abstract clean-up, link extraction, withdrawal detection, LaTeX math to MathML and Unicode."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

import nh3
from markupsafe import Markup, escape

# --- clean-up -------------------------------------------------------------------------------


def clean_title(text: str) -> str:
    """Collapse the line wrapping and runs of spaces arXiv leaves in titles."""
    return " ".join((text or "").split())


# Whitespace that split/join would collapse or drop but a newline-to-space replace would keep.
_SIMPLE_WS_BREAKERS = ("  ", " \n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85")


def clean_abstract(text: str) -> str:
    """Join arXiv's hard-wrapped abstract lines, keeping real paragraph breaks.

    arXiv wraps abstracts at ~80 columns; a new paragraph is a line that starts with spaces
    (or an empty line). Everything else is a soft wrap.
    """
    text = (text or "").strip()
    if "\n " not in text and "\n\t" not in text and "\n\n" not in text:
        # The common case: one paragraph. When its only whitespace is single spaces and line
        # breaks (checked with cheap `in` tests), joining the lines is a plain replace, twice as
        # fast as split/join on a 75K-paper import; the result is the same.
        if text.isascii() and not any(w in text for w in _SIMPLE_WS_BREAKERS):
            return text.replace("\n", " ")
        return " ".join(text.split())
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if not line.strip():
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        if line[:1] in (" ", "\t") and paragraphs[-1]:
            paragraphs.append([])
        paragraphs[-1].append(" ".join(line.split()))
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


# --- links ----------------------------------------------------------------------------------

_URL_RE = re.compile(r"https?://[^\s<>\"'{}|\\^`\[\]]+", re.IGNORECASE)
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "huggingface.co")
_PAGE_HINT_RE = re.compile(r"(project|page|website|homepage|site|demo)\W*$", re.IGNORECASE)
_NOT_PROJECT_HOSTS = ("arxiv.org", "doi.org", "dx.doi.org", "creativecommons.org")


def _trim_url(url: str) -> str:
    # Sentence punctuation and closing brackets glued to a URL in running text are not part of it.
    url = url.rstrip(".,;:!?'\"")
    unmatched = url.count(")") - url.count("(")
    end = len(url)
    # Index arithmetic, not repeated slicing: a URL followed by 100,000 ")" stays linear.
    while unmatched > 0 and end and url[end - 1] == ")":
        end -= 1
        unmatched -= 1
        while end and url[end - 1] in ".,;:!?":
            end -= 1
    return url[:end]


def _host(url: str) -> str:
    host = url.split("://", 1)[1].split("/", 1)[0].lower()
    return host[4:] if host.startswith("www.") else host


def _is_code_url(url: str) -> bool:
    host = _host(url)
    rest = url.split("://", 1)[1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    if host == "huggingface.co":
        # Only model/dataset repos are code-like; HF paper pages are not.
        return bool(path) and not path.startswith(("papers", "spaces/"))
    # A bare host ("github.com") is not a repository; an owner/repo path is.
    return host in _CODE_HOSTS and path.strip("/").count("/") >= 1


def code_url_key(url: str) -> str:
    """What makes two repository URLs the same: host without www., path without .git or trailing /."""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    path = path.split("#", 1)[0].split("?", 1)[0].rstrip("/").removesuffix(".git")
    return f"{host}/{path.lower()}"


def extract_links(*texts: str | None) -> tuple[list[str], str | None]:
    """Find code repository URLs and a project page URL in an abstract and comment."""
    code: list[str] = []
    code_keys: set[str] = set()
    project: str | None = None
    project_fallback: str | None = None
    for text in texts:
        if not text or "://" not in text:
            continue
        for m in _URL_RE.finditer(text):
            url = _trim_url(m.group(0))
            if "://" not in url or not _host(url):
                continue
            if _is_code_url(url):
                key = code_url_key(url)
                if key not in code_keys:
                    code_keys.add(key)
                    code.append(url)
                continue
            host = _host(url)
            if host in _NOT_PROJECT_HOSTS or host.endswith(".arxiv.org"):
                continue
            if project is None and _PAGE_HINT_RE.search(text[max(0, m.start() - 30) : m.start()]):
                project = url
            elif project_fallback is None and host.endswith((".github.io", ".gitlab.io")):
                project_fallback = url
    return code, project or project_fallback


# --- author lists ---------------------------------------------------------------------------

# arXiv's author strings put affiliations in parentheses ("A. B. (MIT, CSAIL), C. D."), and may end
# with a serial "and" ("A, B, and C").
_AFFILIATIONS_RE = re.compile(r"\((?:[^()]|\([^()]*\))*\)")
_AUTHOR_SEPARATOR_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def split_authors(text: str) -> list[str]:
    """An author string ("A. One (MIT), B. Two, and C. Three") as names, affiliations dropped."""
    plain = _AFFILIATIONS_RE.sub(" ", " ".join(text.split()))
    return [" ".join(p.split()) for p in _AUTHOR_SEPARATOR_RE.split(plain) if p.strip()]


def decode_tex_name(name: str) -> str:
    """A name with arXiv's TeX accents (Bal\\'azs) in Unicode (Balázs); unchanged when it has no TeX."""
    if "\\" not in name and "{" not in name:
        return name
    # Imported here for the CLI's start-up time: pylatexenc takes ~0.1 s to load, and few names need it.
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        return " ".join(LatexNodes2Text().latex_to_text(name).split())
    except Exception:  # noqa: BLE001 - keep the name as written rather than lose it
        return name


# --- withdrawals ----------------------------------------------------------------------------

_WITHDRAWN_RE = re.compile(
    r"(\b(paper|submission|article|manuscript|version)\s+(has\s+been|is|was)\s+withdrawn\b)"
    r"|(\bwithdrawn\s+by\s+(the\s+)?(authors?|arxiv|admin))"
    r"|(^\s*withdrawn\b)",
    re.IGNORECASE,
)


def is_withdrawal(comment: str | None, abstract: str | None = None) -> bool:
    """True when arXiv's comment or abstract says the paper was withdrawn."""
    # The substring test first: the regex is only needed for the rare texts that mention it.
    return any(t and "withdrawn" in t.lower() and _WITHDRAWN_RE.search(t) for t in (comment, abstract))


# --- LaTeX math -----------------------------------------------------------------------------

# $$…$$ and \[…\] are display math; $…$ and \(…\) inline. A lone "$" (prices) is left alone:
# an inline span must not start or end with whitespace and must close within the paragraph.
_MATH_RE = re.compile(
    r"\$\$(?P<d1>.+?)\$\$"
    r"|\\\[(?P<d2>.+?)\\\]"
    r"|\\\((?P<i1>.+?)\\\)"
    r"|(?<![\\$])\$(?P<i2>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?!\d)",
    re.DOTALL,
)
_MATH_CLOSERS = {"\\[": "\\]", "\\(": "\\)"}

MATHML_TAGS = {
    "math",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "mrow",
    "mfrac",
    "msqrt",
    "mroot",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "mphantom",
    "menclose",
    "semantics",
    "annotation",
    "merror",
}
MATHML_ATTRS = {
    "display",
    "xmlns",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "columnalign",
    "rowspacing",
    "columnspacing",
    "displaystyle",
    "scriptlevel",
    "accent",
    "accentunder",
    "movablelimits",
    "linethickness",
    "width",
    "height",
    "depth",
    "notation",
    "minsize",
    "maxsize",
    "symmetric",
    "form",
    "largeop",
    "encoding",
}
_HTML_TAGS = {"p", "span", "code"}
_ALLOWED_ATTRS = {tag: MATHML_ATTRS for tag in MATHML_TAGS} | {"span": {"class"}, "code": {"class"}}


@lru_cache(maxsize=4096)
def _to_mathml(latex: str, display: bool) -> str | None:
    from latex2mathml.converter import convert

    try:
        return convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any LaTeX the converter cannot handle is shown as source
        return None


def match_math(text: str, pos: int) -> re.Match[str] | None:
    """The LaTeX math span ($…$, $$…$$, \\(…\\), \\[…\\]) that starts exactly at `pos`, if any: for
    parsers (the comments' Markdown) that scan a text themselves."""
    # At each unclosed "\[" or "\(" the regex crawls to the end of the text: 10,000 characters of
    # them took a comment 0.33 s to render. str.find answers first, and the same comment takes 0.07 s.
    closer = _MATH_CLOSERS.get(text[pos : pos + 2])
    if closer and text.find(closer, pos + 2) == -1:
        return None
    return _MATH_RE.match(text, pos)


def math_html(span: re.Match[str], inline: bool = False) -> str:
    """A math span found by `match_math` as MathML (display math as a block unless `inline`), or its
    source escaped in <code class="tex"> when the converter cannot read it. Not yet sanitised."""
    latex = span.group("d1") or span.group("d2") or span.group("i1") or span.group("i2")
    display = not inline and bool(span.group("d1") or span.group("d2"))
    mathml = _to_mathml(latex.strip(), display)
    return mathml if mathml else f'<code class="tex">{escape(span.group(0))}</code>'


def math_text(span: re.Match[str]) -> str:
    """A math span found by `match_math` as readable Unicode (α², …), for plain-text excerpts."""
    latex = span.group("d1") or span.group("d2") or span.group("i1") or span.group("i2")
    return _math_to_unicode(latex.strip())


def abstract_html(text: str) -> Markup:
    """Render an abstract as sanitized HTML paragraphs with its LaTeX math as MathML."""
    paragraphs = []
    for para in (text or "").split("\n\n"):
        out: list[str] = []
        pos = 0
        for m in _MATH_RE.finditer(para):
            out.append(str(escape(para[pos : m.start()])))
            out.append(math_html(m))
            pos = m.end()
        out.append(str(escape(para[pos:])))
        paragraphs.append("<p>" + "".join(out) + "</p>")
    html = nh3.clean(
        "".join(paragraphs),
        tags=MATHML_TAGS | _HTML_TAGS,
        attributes=_ALLOWED_ATTRS,
        link_rel=None,
    )
    return Markup(html)


@lru_cache(maxsize=16384)
def author_search_url(name: str) -> str:
    """The search address of an author's papers (`author:"Name"`), until author pages exist. Cached:
    a feed page links 90 names, and Jinja's urlencode filter was a tenth of the page's cost."""
    return "/search?q=" + quote(f'author:"{name}"', safe="")


def title_html(text: str, words: list[str] | tuple[str, ...] = ()) -> Markup:
    """Render a title as inline HTML: its LaTeX math as MathML, the rest escaped, with `words`
    (query words) marked by `highlight` in the text between the math spans only."""
    return _title_html(text or "", tuple(words))


# A feed page renders the same 30 titles for every reader: caching them keeps the page's cost
# where it was before titles were rendered (about 0.5 ms of a 10 ms page).
@lru_cache(maxsize=8192)
def _title_html(text: str, words: tuple[str, ...]) -> Markup:
    out: list[str] = []
    pos = 0
    text = text or ""
    for m in _MATH_RE.finditer(text):
        out.append(str(highlight(text[pos : m.start()], list(words))))
        # A title is one line: display math ($$…$$) is set inline there too.
        out.append(math_html(m, inline=True))
        pos = m.end()
    out.append(str(highlight(text[pos:], list(words))))
    if len(out) == 1:
        return Markup(out[0])  # no math: already escaped by highlight, nothing to sanitize
    return Markup(
        nh3.clean("".join(out), tags=MATHML_TAGS | {"code", "mark"}, attributes=_ALLOWED_ATTRS, link_rel=None)
    )


_MACRO_SPACE = re.compile(r"(\\[A-Za-z]+)(\s+)")
# Scripts that Unicode can write as characters (M$^3$ → M³, PM$_{2.5}$ → PM₂.₅); others stay as ^x.
_SCRIPT_RE = re.compile(r"([\^_])(?:\{([0-9+\-=().]+|\\circ)\}|([0-9+\-=]|\\circ\b))")
_SUPERSCRIPTS = str.maketrans("0123456789+-=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")
_SUBSCRIPTS = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")


def _script_to_unicode(m: re.Match[str]) -> str:
    body = m.group(2) or m.group(3)
    if m.group(1) == "^":
        return "°" if body == "\\circ" else body.translate(_SUPERSCRIPTS)
    return m.group(0) if body == "\\circ" else body.translate(_SUBSCRIPTS)


@lru_cache(maxsize=4096)
def _math_to_unicode(latex: str) -> str:
    from pylatexenc.latex2text import LatexNodes2Text

    # LaTeX swallows the spaces after a control word ("\alpha = 1" would read "α= 1"); an empty
    # group after it keeps them, as they were typed.
    latex = _MACRO_SPACE.sub(r"\1{}\2", _SCRIPT_RE.sub(_script_to_unicode, latex))
    try:
        return LatexNodes2Text(math_mode="text").latex_to_text(latex).strip()
    except Exception:  # noqa: BLE001 - fall back to the source rather than lose the text
        return latex


def latex_to_unicode(text: str) -> str:
    """Replace the LaTeX math spans of a text by readable Unicode; leave the rest untouched.

    Only math spans are converted: running text contains "%" and other characters that mean
    something else to LaTeX.
    """

    return _MATH_RE.sub(math_text, text or "")


def excerpt(text: str, limit: int = 280) -> str:
    """A plain-text excerpt of an abstract (math as Unicode), cut at a word boundary."""
    return cut_at_word(latex_to_unicode(text), limit)


def cut_at_word(text: str, limit: int) -> str:
    """`text` with its whitespace collapsed, cut at the last word boundary within `limit` (then "…")."""
    plain = " ".join(text.split())
    if len(plain) <= limit:
        return plain
    cut = plain[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def short_authors(authors: list[str], limit: int = 3) -> str:
    """'A, B, C et al.' style author line for cards."""
    if len(authors) <= limit + 1:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + f" +{len(authors) - limit} authors"


def highlight(text: str, words: list[str]) -> Markup:
    """`text` escaped, with words that start like a query word wrapped in <mark>; never inside LaTeX
    math ($…$, \\(…\\), …) or a LaTeX command (\\ell), whose source a <mark> would break."""
    if not words:
        return escape(text)
    pattern = _highlight_pattern(tuple(words))
    out, last = [], 0
    for m in _MATH_RE.finditer(text):
        out += [_marked(text[last : m.start()], pattern), escape(m.group(0))]
        last = m.end()
    out.append(_marked(text[last:], pattern))
    return Markup("").join(out)


@lru_cache(maxsize=256)
def _highlight_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # A word after a backslash is a LaTeX command (\ell), not a word of the text.
    return re.compile(r"(?<!\\)\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)


def _marked(text: str, pattern: re.Pattern[str]) -> Markup:
    """`text` (no math in it) escaped, with the pattern's matches wrapped in <mark>."""
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
