"""Community comments: CommonMark with LaTeX math as MathML, sanitised for the page; their @mentions and
plain-text excerpts for mails and cards."""

from __future__ import annotations

import re
from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from dailypapers.core.text import MATHML_ATTRS, MATHML_TAGS, cut_at_word, match_math, math_html, math_text

# Only these schemes may leave a comment as a link: javascript:, data:, vbscript:, relative and
# protocol-relative addresses are shown as the text that was typed.
_SAFE_URL_RE = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
_LINK_REL = "nofollow ugc noopener"
_TAGS = MATHML_TAGS | {"p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr"}
# `rel` is set by nh3 itself (link_rel), which requires it to be left out of the allowed attributes.
# "*": nothing on every tag (nh3 would otherwise allow lang and title everywhere).
_ATTRIBUTES = {tag: MATHML_ATTRS for tag in MATHML_TAGS} | {
    "*": set(),
    "a": {"href"},
    "ol": {"start"},
    "code": {"class"},
}
_MENTION_RE = re.compile(r"(?<![\w.+\-/@:])@([A-Za-z0-9_-]{2,32})(?![A-Za-z0-9_-])")


def is_safe_url(url: str) -> bool:
    """True for the addresses a comment may link to: http, https and mailto ones."""
    return bool(_SAFE_URL_RE.match(url.strip()))


class _CommentMarkdown(MarkdownIt):
    """CommonMark without raw HTML, with math spans, whose links and images accept safe schemes only."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False})
        # Before "escape": in CommonMark "\(" is an escaped "(", but in a comment it opens math.
        self.inline.ruler.before("escape", "math", _math_rule)
        self.add_render_rule("math", _render_math)
        self.add_render_rule("image", _render_image)
        self.add_render_rule("heading_open", _render_heading_open)
        self.add_render_rule("heading_close", _render_heading_close)

    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        return is_safe_url(url)


def _math_rule(state: StateInline, silent: bool) -> bool:
    span = match_math(state.src, state.pos)
    if span is None:
        return False
    if not silent:
        token = state.push("math", "", 0)
        token.content = span.group(0)
        token.meta = {"span": span}
    state.pos = span.end()
    return True


def _render_math(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return math_html(tokens[idx].meta["span"])


def _render_image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # An image is a link to it: an <img> would make every reader's browser call a third party.
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    label = _plain(token) or src
    return f'<a href="{escape(src)}">{escape(label)}</a>'


def _render_heading_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # A heading in a comment must not outshout the page's own: it is shown as a bold paragraph.
    return "<p><strong>"


def _render_heading_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</strong></p>\n"


_MARKDOWN = _CommentMarkdown()


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # A second line of defence behind validateLink, should a link reach the HTML another way.
    if attribute == "href" and not is_safe_url(value):
        return None
    # The one class kept marks LaTeX the converter could not read; a fence's "language-x" goes.
    if attribute == "class" and value != "tex":
        return None
    return value


def render_comment(text: str) -> Markup:
    """A comment's Markdown as sanitised HTML: CommonMark, raw HTML shown as text, math as MathML,
    links rel="nofollow ugc noopener" to http/https/mailto only, images as links."""
    html = _MARKDOWN.render(text or "")
    return Markup(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            attribute_filter=_filter_attribute,
            url_schemes={"http", "https", "mailto"},
            link_rel=_LINK_REL,
        )
    )


def _text_runs(text: str) -> list[str]:
    """The comment's prose, one string per paragraph or heading: no code, math or link addresses."""
    runs = []
    for block in _MARKDOWN.parse(text or ""):
        if block.type == "inline":
            # Code, math and markup break the text (" "): "@a`x`b" mentions nobody called "ab".
            runs.append("".join(t.content if t.type == "text" else " " for t in block.children or ()))
    return runs


def mentions(text: str) -> list[str]:
    """The @usernames a comment mentions, unique, in order of first mention; none from code spans,
    code blocks, math or e-mail addresses."""
    found = [m.group(1) for run in _text_runs(text) for m in _MENTION_RE.finditer(run)]
    return list(dict.fromkeys(found))


def comment_excerpt(text: str, limit: int = 200) -> str:
    """A comment as plain text (math as Unicode, markup dropped), cut at a word within `limit`: for
    mails and cards, which escape it as any text."""
    blocks = []
    for block in _MARKDOWN.parse(text or ""):
        if block.type in ("code_block", "fence"):
            blocks.append(block.content)
        elif block.type == "inline":
            blocks.append("".join(_plain(token) for token in block.children or ()))
    return cut_at_word(" ".join(blocks), limit)


def _plain(token: Token) -> str:
    if token.type == "math":
        return math_text(token.meta["span"])
    if token.type in ("text", "code_inline"):
        return token.content
    if token.type == "image":
        return "".join(_plain(child) for child in token.children or ())
    return " " if token.type in ("softbreak", "hardbreak") else ""
