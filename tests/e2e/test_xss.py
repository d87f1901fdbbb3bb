"""The XSS corpus (tests/data/xss/payloads.txt: 272 payloads of payloadbox/xss-payload-list) entered
wherever a member's text reaches a page, then rendered in real Chromium with JavaScript on, signed in as
a moderator so that hidden comments and flag notes show too. Measured on every page visited:
executions (dialogs, and calls of alert/confirm/prompt/print/eval), Content-Security-Policy violations
(reports and console), and what the payloads injected into the DOM whatever the CSP would block. All
three must be 0, and every payload must be on the pages as text, so the test cannot pass by showing
nothing.

Every payload is entered as: a username (sign-up refuses it and shows the form again with it), the
paper and first comment of a submission (refused: not an arXiv id; the form comes back with both), a
display name (comment author, member page; the header and account form for a sample), a comment, a
reply, the first comment of a real submission (whose paper's title, as arXiv could send it, is the
payload too), a flag note, a hide reason and a ban reason (paper page, moderation queue, public
moderation log, member page). The browser's forms take every payload for the username and the refused
submission, and at least one of every other kind; the service functions put the rest in the same
database. Pages that show one payload each beyond those (member pages, submitted papers, the account
form) are visited for every eighth payload: the same templates show all of them on the batch pages.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dailypapers.core.markdown import comment_excerpt
from dailypapers.core.settings import Settings
from dailypapers.core.text import MATHML_TAGS
from dailypapers.services import accounts, comments, imports, moderation, submissions
from dailypapers.services.runtime import Database, open_database
from dailypapers.services.schemas import Member
from dailypapers.testing.server import running_demo

CHROMIUM = "/usr/bin/chromium"
PAYLOADS_FILE = Path(__file__).resolve().parents[1] / "data" / "xss" / "payloads.txt"
PAYLOADS = [line for line in PAYLOADS_FILE.read_text(encoding="utf-8").split("\n") if line.strip()]
SAMPLE = range(0, len(PAYLOADS), 8)  # pages that hold one payload each, beyond the forms' own
# The refused forms (sign-up, submit) hold one or two payloads a page: every other payload (136, the
# issue asks for 100 at least) keeps the test's time in bounds; every payload is on the batch pages.
FORM_SAMPLE = range(0, len(PAYLOADS), 2)
PASSWORD = "xss-corpus-Password-2025"
MODERATOR = "xssmod"
SIGNUP_ECHO_CHARS = 64  # web.accounts.SignUpForm: a longer username is refused before the service
SUBMIT_ARXIV_CHARS = 300  # web.voting.SubmitForm.arxiv

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

# Runs before any script of every document (DevTools injects it, so the CSP does not apply to it): it
# records every call of the functions the payloads use to show that they ran, and every CSP report.
INSTRUMENT = """
window.__xss = {calls: [], violations: []};
for (const name of ["alert", "confirm", "prompt"]) {
  const original = window[name];
  window[name] = function (...args) {
    window.__xss.calls.push(`${name}(${args.map(String).join(", ").slice(0, 80)})`);
    return original.apply(this, args);
  };
}
window.print = function () { window.__xss.calls.push("print()"); };
const originalEval = window.eval;
window.eval = function (code) {
  // Playwright evaluates the test's own expressions through eval: those are not counted.
  const caller = (new Error().stack || "").split("\\n")[2] || "";
  if (!caller.trim().startsWith("at UtilityScript.evaluate")) {
    window.__xss.calls.push(`eval(${String(code).slice(0, 80)})`);
  }
  return originalEval(code);
};
document.addEventListener("securitypolicyviolation", (e) => {
  window.__xss.violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
}, true);
"""

# The page's recorded calls and CSP reports, and what a payload could have injected whatever the CSP
# does with it: on* attributes, style, script
# other than the site's /static/*.js, frames and plugins, <base>, <meta http-equiv>, forms posting
# elsewhere, javascript:/data:/vbscript: addresses; inside a comment (the one place where a member's
# text becomes HTML) only the Markdown renderer's tags.
MEASURE = """
(allowed) => {
  if (!window.__xss) return null;
  const found = [];
  const bad = /^[\\s\\u0000-\\u001f]*(javascript|data|vbscript)\\s*:/i;
  const urls = new Set(["href", "src", "action", "formaction", "xlink:href", "data", "poster",
                        "background", "srcdoc", "srcset", "codebase", "dynsrc", "lowsrc"]);
  const where = (el) => {
    const holder = el.closest("[id]");
    return `<${el.tagName.toLowerCase()}> in #${holder ? holder.id : "document"}`;
  };
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on")) found.push(`${where(el)} ${name}=${a.value.slice(0, 60)}`);
      if (name === "style") found.push(`${where(el)} style=${a.value.slice(0, 60)}`);
      if (urls.has(name) && bad.test(a.value)) found.push(`${where(el)} ${name}=${a.value.slice(0, 60)}`);
    }
  }
  for (const s of document.querySelectorAll("script")) {
    const src = s.getAttribute("src") || "";
    if (!/^\\/static\\/[\\w.-]+\\.js(\\?[\\w.=&-]*)?$/.test(src) || s.textContent.trim()) {
      found.push(`${where(s)} src=${src.slice(0, 60)} ${s.textContent.slice(0, 60)}`);
    }
  }
  const foreign = "iframe, frame, frameset, object, embed, applet, base, meta[http-equiv], style, " +
                  "link:not([rel=icon]):not([rel=stylesheet]):not([rel=alternate]), svg, template, portal";
  for (const el of document.querySelectorAll(foreign)) found.push(where(el));
  for (const f of document.querySelectorAll("form")) {
    if (!/^\\/[^\\/\\\\]/.test(f.getAttribute("action") || "")) found.push(`${where(f)} action=${f.getAttribute("action")}`);
  }
  for (const el of document.querySelectorAll(".comment-body *")) {
    if (!allowed.includes(el.tagName.toLowerCase())) found.push(`${where(el)} inside a comment`);
  }
  return {calls: window.__xss.calls, violations: window.__xss.violations, found};
}
"""
# core.markdown.render_comment's allowlist: Markdown's tags and MathML.
COMMENT_TAGS = sorted(
    MATHML_TAGS | {"p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "br", "hr"}
)
FILL_AND_SUBMIT = """([selector, values]) => {
  const form = document.querySelector(selector);
  for (const [name, value] of Object.entries(values)) {
    const input = form.elements[name];
    if (input instanceof RadioNodeList) {
      for (const choice of input) choice.checked = choice.value === value;
    } else { input.value = value; }
  }
  form.submit();
}"""
COMMENTS = """els => els.map(e => {
  const text = (sel) => { const x = e.querySelector(sel); return x ? x.textContent : ""; };
  const author = e.querySelector(":scope > .comment-meta .comment-author");
  return [e.id, author ? author.getAttribute("href") : "", text(":scope > .comment-meta .comment-author"),
          text(":scope > .comment-hidden-note"), text(":scope > .comment-body")];
})"""


def norm(text: str) -> str:
    """Whitespace folded, as the pages' text is compared."""
    return " ".join(text.split())


def display_name(payload: str) -> str:
    """The display name a payload becomes: one line, cut to the longest an account may have."""
    return norm(payload)[: accounts.MAX_DISPLAY_NAME].strip()


def reason(payload: str) -> str:
    """A payload as a moderation reason: one printable line of at most MAX_REASON characters."""
    return "".join(ch for ch in norm(payload) if ch.isprintable())[: moderation.MAX_REASON].strip()


def note(payload: str) -> str:
    """A payload as a flag's note (at most MAX_NOTE_CHARS)."""
    return payload[: comments.MAX_NOTE_CHARS].strip()


def body_text(payload: str) -> str:
    """A comment's text as its page shows it: the Markdown rendered, raw HTML shown as text."""
    return norm(comment_excerpt(payload, 10**6))


@dataclass
class Probe:
    """A browser page that measures every page it opens: executions, CSP violations and injected
    elements, each noted with the page it happened on."""

    page: Any
    base: str
    pages: int = 0
    executions: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    where: str = ""

    def __post_init__(self) -> None:
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.violations.append(f"{self.where}: page error {e}"))

    def _dialog(self, dialog: Any) -> None:
        self.executions.append(f"{self.where}: {dialog.type} dialog {dialog.message[:60]!r}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"{self.where}: console {message.text[:160]}")

    def goto(self, path: str) -> None:
        """Open a page of the site and measure it."""
        self.where = path
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 500, path
        self.measure()

    def submit(self, selector: str, values: dict[str, str], where: str) -> None:
        """Fill the form `selector` of the current page (values set whole: the browser's maxlength
        does not cut them) and submit it as a browser does; then measure the page that comes back."""
        self.where = where
        with self.page.expect_navigation():
            self.page.evaluate(FILL_AND_SUBMIT, [selector, values])
        self.measure()

    def measure(self) -> None:
        self.pages += 1
        state = self.page.evaluate(MEASURE, COMMENT_TAGS)
        assert state is not None, f"{self.where}: the instrumentation did not run"
        self.executions += [f"{self.where}: {call}" for call in state["calls"]]
        self.violations += [f"{self.where}: {v}" for v in state["violations"]]
        self.injected += [f"{self.where}: {e}" for e in state["found"]]
        self.injected += [
            f"{self.where}: frame {f.url}" for f in self.page.frames if f != self.page.main_frame
        ]

    def texts(self, selector: str) -> list[str]:
        """The folded text of every element matching `selector` on the current page."""
        return [
            norm(t) for t in self.page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")
        ]

    def values(self, *selectors: str) -> list[str]:
        """The current value of the first element matching each selector (an input, a textarea)."""
        script = "sels => sels.map(s => document.querySelector(s).value)"
        return [str(v) for v in self.page.evaluate(script, list(selectors))]

    def comments(self) -> dict[int, dict[str, str]]:
        """Each comment of the paper page: its author's link and name, hidden note and body as text."""
        rows = self.page.eval_on_selector_all("li.comment", COMMENTS)
        return {
            int(i[1:]): {"link": link, "author": norm(a), "note": norm(n), "body": norm(b)}
            for i, link, a, n, b in rows
        }

    def reset(self) -> None:
        self.pages = 0
        for seen in (self.executions, self.violations, self.injected):
            seen.clear()


@dataclass
class Site:
    """The running demo with the corpus in it: what was put where."""

    base: str
    db: Database
    settings: Settings
    members: list[Member]
    papers: tuple[str, str]  # comments and replies; comments to hide
    top: list[int] = field(default_factory=list)  # comment ids, one per payload
    replies: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)  # stored papers not featured, one per payload
    feed_day: str = ""


def _unfeatured_papers(workdir: Path) -> tuple[Path, list[str]]:
    """A file of one stored-to-be paper per payload that no feed day features (a member may submit
    them); the payload is in its title too, as arXiv could send it."""
    path = workdir / "unfeatured.jsonl"
    ids = [f"0801.{9000 + i:04d}" for i in range(len(PAYLOADS))]  # the demo corpus starts in 2020
    with path.open("w", encoding="utf-8") as fh:
        for arxiv_id, payload in zip(ids, PAYLOADS, strict=True):
            record = {
                "id": arxiv_id,
                "title": f"Probe {arxiv_id}: {payload}",
                "summary": "A stored paper for the XSS test.",
                "authors": ["A. Tester"],
                "categories": ["cs.CR"],
                "listing_dates": [],
            }
            fh.write(json.dumps(record) + "\n")
    return path, ids


def _fill(site: Site, papers_file: Path, moderator: Member) -> None:
    """Every payload in every place through the services, but the first of the hides, submissions
    and bans, which the browser's forms make."""
    db, settings, now = site.db, site.settings, datetime.now(UTC)
    paper, hide_paper = site.papers
    members, n = site.members, len(PAYLOADS)
    for i, payload in enumerate(PAYLOADS):
        members[i] = accounts.set_display_name(db, members[i].id, display_name(payload), now)
        site.top.append(comments.post_comment(db, settings, members[i], paper, payload, None, now).id)
        site.hidden.append(comments.post_comment(db, settings, members[i], hide_paper, payload, None, now).id)
        if i:
            moderation.hide_comment(db, settings, moderator, site.hidden[i], reason(payload), now)
    for i, payload in enumerate(PAYLOADS):
        reply = comments.post_comment(db, settings, members[i], paper, payload, site.top[(i + 1) % n], now)
        site.replies.append(reply.id)
        comments.flag_comment(db, settings, members[(i + 1) % n], site.top[i], "other", note(payload), now)
    imports.import_paths(db, settings, [papers_file])
    for i, payload in enumerate(PAYLOADS[1:], start=1):
        site.feed_day = submissions.submit_paper(
            db, settings, members[i], site.submitted[i], now
        ).feed_date.isoformat()
        comments.post_comment(db, settings, members[i], site.submitted[i], payload, None, now)
        moderation.ban_member(db, settings, moderator, members[i].username, reason(payload), None, now)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo server (SQLite) with a moderator, one member per payload and the corpus in place."""
    workdir = tmp_path_factory.mktemp("xss")
    limits = {"comment_rate_limit": 100_000, "submit_max_age_days": 0, "submit_daily_cap": 100_000}
    env = {**os.environ, **{f"DAILYPAPERS_{k.upper()}": str(v) for k, v in limits.items()}}
    env["DAILYPAPERS_PAGE_SIZE"] = "500"  # today's submissions on one feed page
    settings = Settings(**limits)  # type: ignore[arg-type]
    with running_demo(workdir, env=env) as base:
        db = open_database(settings, f"sqlite:///{workdir / 'demo.db'}")
        now = datetime.now(UTC)
        moderator = accounts.create_user(
            db, settings, MODERATOR, "xssmod@example.org", PASSWORD, "moderator", now
        )
        members = [
            accounts.create_user(
                db, settings, f"xss{i:03d}", f"xss{i:03d}@example.org", PASSWORD, "member", now
            )
            for i in range(len(PAYLOADS))
        ]
        ids = [p["arxiv_id"] for p in json.load(urllib.request.urlopen(f"{base}/index.json"))["papers"]]
        papers_file, unfeatured = _unfeatured_papers(workdir)
        result = Site(base, db, settings, members, (ids[0], ids[1]), submitted=unfeatured)
        _fill(result, papers_file, moderator)
        yield result
        db.dispose()


def _self_test(probe: Probe) -> None:
    """The measures see what they must: an injected handler is found, blocked by the CSP and
    reported, a dialog and an eval are counted; then the counts start again from zero."""
    probe.goto("/")
    probe.page.evaluate(
        "() => document.body.insertAdjacentHTML('beforeend', '<img src=/no-such.png onerror=alert(1)>')"
    )
    for _ in range(100):  # (wait_for_function would poll through eval, which is counted)
        if probe.page.evaluate("() => window.__xss.violations.length"):
            break
        probe.page.wait_for_timeout(20)
    probe.page.evaluate("() => { alert('probe'); eval('1'); }")
    probe.measure()
    assert len(probe.executions) == 3 and probe.violations and probe.injected, probe
    probe.reset()


def test_no_payload_runs_or_injects_anything(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    n = len(PAYLOADS)
    assert n >= 100
    paper, hide_paper = site.papers
    places: dict[str, int] = {}

    # Nobody signed in: every payload as a username; sign-up refuses it and shows it back.
    anonymous = browser.new_context()
    anonymous.add_init_script(INSTRUMENT)
    guest = Probe(anonymous.new_page(), site.base)
    _self_test(guest)
    guest.goto("/signup")
    echoed = 0
    for i in FORM_SAMPLE:
        payload = PAYLOADS[i]
        values = {"username": payload, "email": f"new{i}@example.org", "password": PASSWORD}
        guest.submit('form[action="/signup"]', values, f"/signup (username #{i})")
        assert guest.texts(".form-error"), payload
        if len(payload) <= SIGNUP_ECHO_CHARS:
            assert guest.values('input[name="username"]') == [payload]
            echoed += 1
    places["username (refused sign-up form)"] = echoed
    anonymous.close()

    context = browser.new_context()
    context.add_init_script(INSTRUMENT)
    mod = Probe(context.new_page(), site.base)
    mod.goto("/signin")
    mod.submit('form[action="/signin"]', {"login": MODERATOR, "password": PASSWORD}, "/signin")

    # Every payload as the paper and the first comment of a submission, two payloads a page: refused
    # (not an arXiv id), the form comes back with both.
    mod.goto("/submit")
    pairs = list(FORM_SAMPLE)
    half = (len(pairs) + 1) // 2
    for k in range(half):
        i, j = pairs[k], pairs[(k + half) % len(pairs)]
        arxiv, comment = PAYLOADS[i][:SUBMIT_ARXIV_CHARS], PAYLOADS[j]
        mod.submit('form[action="/submit"]', {"arxiv": arxiv, "comment": comment}, f"/submit (#{i})")
        assert mod.texts(".form-error"), arxiv
        assert mod.values('input[name="arxiv"]', 'textarea[name="comment"]') == [arxiv, comment]
    places["arXiv id and comment (refused submit form)"] = len(pairs)

    # The moderator's display name through the account form (header and form), for the sample.
    mod.goto("/account")
    for i in SAMPLE:
        name = display_name(PAYLOADS[i])
        mod.submit('form[action="/account"]', {"display_name": name}, f"/account (#{i})")
        assert mod.values('input[name="display_name"]') == [name]
        assert mod.texts('header a[href="/account"]') == [norm(name)]
    places["display name (account form and header)"] = len(SAMPLE)

    # One of each other kind through the pages' forms: a submission with its first comment, a
    # comment, a reply, a flag, a hide and a ban.
    mod.goto("/submit")
    mod.submit('form[action="/submit"]', {"arxiv": site.submitted[0], "comment": PAYLOADS[0]}, "/submit")
    assert mod.page.url.endswith(f"/papers/{site.submitted[0]}")
    mod.goto(f"/papers/{paper}")
    mod.submit("form.comment-form", {"body": PAYLOADS[0]}, f"/papers/{paper} (comment)")
    mod.submit(f"#c{site.top[1]} form.comment-form", {"body": PAYLOADS[0]}, f"/papers/{paper} (reply)")
    mod.goto(f"/comments/{site.top[0]}/flag")
    mod.submit(
        f'form[action="/comments/{site.top[0]}/flag"]', {"reason": "other", "note": note(PAYLOADS[0])}, "flag"
    )
    mod.goto(f"/papers/{hide_paper}")
    hide = f'form[action="/moderation/comments/{site.hidden[0]}/hide"]'
    mod.submit(hide, {"reason": reason(PAYLOADS[0])}, "hide")
    first = site.members[0].username
    mod.goto(f"/users/{first}")
    mod.submit(f'form[action="/users/{first}/ban"]', {"reason": reason(PAYLOADS[0])}, "ban")

    # Read everything back: many payloads a page.
    mod.goto(f"/papers/{paper}")
    shown = mod.comments()
    for i, payload in enumerate(PAYLOADS):
        for cid in (site.top[i], site.replies[i]):
            assert shown[cid]["author"] == norm(display_name(payload)), cid
            assert shown[cid]["body"] == body_text(payload), cid
    mine = [c for c in shown.values() if c["link"] == f"/users/{MODERATOR}"]
    assert [c["body"] for c in mine] == [body_text(PAYLOADS[0])] * 2  # the browser's comment and reply
    places["comment"] = places["reply"] = places["display name (comment author)"] = n

    mod.goto(f"/papers/{hide_paper}")
    shown = mod.comments()
    for i, payload in enumerate(PAYLOADS):
        assert shown[site.hidden[i]]["body"] == body_text(payload)
        assert norm(reason(payload)) in shown[site.hidden[i]]["note"], payload
    places["hidden comment and hide reason (paper page)"] = n

    mod.goto("/moderation")
    for i, payload in enumerate(PAYLOADS):
        assert norm(note(payload)) in mod.texts(f"#flagged-{site.top[i]} .mod-flags")[0], payload
        assert mod.texts(f"#flagged-{site.top[i]} .mod-excerpt") == [norm(comment_excerpt(payload))]
        assert norm(reason(payload)) in mod.texts(f"#hidden-{site.hidden[i]} .comment-meta")[0], payload
    assert len(mod.texts(".mod-queue a[href^='/papers/0801.']")) == n  # the submitted papers' titles
    places["flag note, excerpt, hide reason, submitted title (moderation queue)"] = n

    logged: list[str] = []
    page = 1
    while True:
        mod.goto(f"/moderation/log?page={page}")
        logged += mod.texts(".mod-log tbody td:last-child")
        if not mod.page.locator('a.pager-step[rel="next"]').count():
            break
        page += 1
    assert sorted(logged) == sorted(norm(reason(p)) for p in PAYLOADS for _ in ("hide", "ban"))
    places["hide and ban reasons (moderation log)"] = n

    mod.goto(f"/papers/date/{site.feed_day}")
    assert len(mod.texts(".card h3 a[href^='/papers/0801.']")) == n
    places["submitted paper's title (feed day)"] = n

    # The pages that hold one payload each, for the sample.
    for i in SAMPLE:
        payload = PAYLOADS[i]
        mod.goto(f"/users/{site.members[i].username}")
        assert mod.texts("h1") == [norm(display_name(payload))]
        assert norm(reason(payload)) in mod.texts(".notice.warn")[0]
        assert norm(comment_excerpt(payload)) in mod.texts(".excerpt")
        mod.goto(f"/papers/{site.submitted[i]}")
        assert [c["body"] for c in mod.comments().values()] == [body_text(payload)]
    places["display name, ban reason, comment excerpts (member page)"] = len(SAMPLE)
    places["submission's first comment and title (paper page)"] = len(SAMPLE)
    context.close()

    executions, violations = guest.executions + mod.executions, guest.violations + mod.violations
    injected = guest.injected + mod.injected
    print(
        f"\nXSS corpus, {n} payloads: {sum(places.values())} payload renderings in {len(places)} places, "
        f"{guest.pages + mod.pages} pages in Chromium in {time.monotonic() - started:.0f} s: "
        f"{len(executions)} executions, {len(violations)} CSP violations or page errors, {len(injected)} injected elements"
    )
    for place, count in places.items():
        print(f"  {count:4d} × {place}")
    assert executions == []
    assert violations == []
    assert injected == []
