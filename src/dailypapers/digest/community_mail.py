"""The mails of the community (services.comments): "<author> mentioned you on <paper>". One pair of
templates (mention.txt, mention.html, in the digests' mail layout) says it: who, on which paper, an
excerpt of the comment, a link to it, and how to stop these mails."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dailypapers.digest.model import Rendered
from dailypapers.digest.render import wrap_text

# Autoescape in the HTML part (names, titles and comments are untrusted text), never in the text part.
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class MentionMail:
    """What a mention mail says; the URLs are absolute (made from settings.site_url)."""

    site_name: str
    site_url: str
    to_addr: str
    author: str  # the name the comment's author shows
    paper_title: str  # plain text (math as Unicode)
    excerpt: str  # the comment as plain text, cut
    comment_url: str  # settings.site_url + /papers/<id>#c<comment id>
    account_url: str  # the account page, where "Mention mails" turns these off


def render_mention_mail(mail: MentionMail) -> Rendered:
    """Subject, HTML and plain text of a mention mail."""
    subject = f"{mail.author} mentioned you on {mail.paper_title}"
    context = {"c": mail, "subject": subject, "site_url": mail.site_url}
    return Rendered(
        subject=subject,
        text=wrap_text(_env.get_template("mention.txt").render(context)),
        html=_env.get_template("mention.html").render(context),
    )
