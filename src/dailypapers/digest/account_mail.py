"""The mails of accounts (services.accounts): confirm an address, "you already have an account",
reset a password. One pair of templates (account.txt, account.html, in the digests' mail layout)
says each: a heading, a few paragraphs, one button with its link, and a closing note."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dailypapers.digest.model import Rendered
from dailypapers.digest.render import wrap_text

# Autoescape in the HTML part (a username is untrusted text), never in the text part.
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class AccountMail:
    """What an account mail says; `action_url` is absolute (http or https), made from settings.site_url."""

    site_name: str
    site_url: str
    to_addr: str
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    action_label: str
    action_url: str
    note: str


def render_account_mail(mail: AccountMail) -> Rendered:
    """Subject, HTML and plain text of an account mail."""
    context = {"c": mail, "subject": mail.subject, "site_url": mail.site_url}
    return Rendered(
        subject=mail.subject,
        text=wrap_text(_env.get_template("account.txt").render(context)),
        html=_env.get_template("account.html").render(context),
    )
