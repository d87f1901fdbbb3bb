"""Accounts: sign up (address confirmed through the outbox), sign in and out, server-side sessions,
sign-in throttling, password reset, display name; and the operator's user commands.

Each entry point takes (db, settings, ...) and the time of the change, and opens its own
transactions; passwords are hashed outside them (argon2id costs tens of milliseconds, and a SQLite
write transaction holds the database). What a stranger learns is bounded: sign-up and reset answer
the same whether or not an address has an account (the address's owner gets a different mail), and
a failed sign-in says the same for an unknown login and a wrong password. Usernames are public (they
sign everything a member does), so a taken one is said on the form.

Sessions: the cookie holds a random token; the database holds only its SHA-256, so a leaked table
signs nobody in. A session lives session_days after its last use. Throttling counts failures per
account (per login text when it names none) and per client address; past signin_free_attempts each
failure blocks the key for signin_backoff_seconds · 2^(n-1), at most signin_backoff_max_seconds.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from functools import cache
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel
from sqlalchemy.engine import Connection, Row

from dailypapers.core.models import as_utc
from dailypapers.core.passwords import hash_password, needs_rehash, password_problem, verify_password
from dailypapers.core.settings import Settings
from dailypapers.digest.account_mail import AccountMail, render_account_mail
from dailypapers.digest.subscriptions import InvalidEmail, links_domain, normalize_email
from dailypapers.digest.subscriptions import unsubscribe as unsubscribe_subscriber
from dailypapers.digest.tokens import InvalidToken, Signer
from dailypapers.services.errors import NotFound
from dailypapers.services.schemas import Member
from dailypapers.store import accounts as store
from dailypapers.store import api_tokens as token_store
from dailypapers.store.comments import delete_member_comments
from dailypapers.store.db import Database
from dailypapers.store.votes import remove_member_votes

# Salts of the signed account links (digest.tokens: each purpose its own).
ACCOUNT_CONFIRM, PASSWORD_RESET, EMAIL_CHANGE = "account-confirm", "password-reset", "email-change"
# Outbox kinds of the account mails.
CONFIRM_MAIL, EXISTS_MAIL, RESET_MAIL = "account-confirm", "account-exists", "password-reset"
CHANGE_MAIL, CHANGE_NOTICE_MAIL = "email-change", "email-change-notice"
MAIL_THROTTLE = timedelta(minutes=10)  # at most one mail of a kind per member this often
SESSION_TOUCH = timedelta(minutes=1)  # a session's expiry moves at most this often (one write)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
MAX_LOGIN_CHARS = 320
MAX_DISPLAY_NAME = 60
MAX_TOKEN_CHARS = 100  # a session token is 43 characters
ROLES = ("member", "moderator", "admin")
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
WRONG_LOGIN = "Wrong username or password."


class AccountError(ValueError):
    """A refused form value: `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class SignInRefused(PermissionError):
    """A refused sign-in; `retry_after`: seconds to wait when throttled."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def token_hash(token: str) -> str:
    """The stored id of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_banned(row: Any, now: datetime) -> bool:
    """Whether a users row is banned at `now`."""
    until = as_utc(row.banned_until)
    return until is not None and until > now


def _member(row: Row[Any] | None) -> Member:
    if row is None:
        raise NotFound("no such member")
    return Member.from_row(row)


def _username(raw: str) -> str:
    name = (raw or "").strip()
    if not USERNAME.match(name):
        raise AccountError("username", "2 to 32 letters, digits, - or _, starting with a letter or digit")
    return name


def _email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except InvalidEmail as exc:
        raise AccountError("email", str(exc)) from exc


def _new_password(settings: Settings, password: str, username: str = "", email: str = "") -> str:
    """The argon2id hash of an acceptable new password, else AccountError."""
    problem = password_problem(
        password or "", username=username, email=email, min_length=settings.password_min_length
    )
    if problem:
        raise AccountError("password", problem)
    return hash_password(password)


@cache
def _dummy_hash() -> str:
    # Verified against when a login names no account, so that both answers take as long.
    return hash_password(secrets.token_urlsafe(16))


def _link(settings: Settings, path: str, token: str) -> str:
    # Links come from settings.site_url, never from a request's Host header.
    return f"{settings.site_url.rstrip('/')}{path}?{urlencode({'token': token})}"


def _stamp(now: datetime) -> int:
    return int(now.timestamp())


def _checked(signer: Signer, purpose: str, token: str, max_age: timedelta, now: datetime) -> dict[str, Any]:
    """The payload of a signed account link made less than `max_age` before `now` (the site's
    clock, which the link's own signed time is compared with), else InvalidToken."""
    payload = signer.check(purpose, token or "")
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), int):
        raise InvalidToken("this link is not valid")
    if now.timestamp() - payload["t"] > max_age.total_seconds():
        raise InvalidToken("this link has expired")
    return payload


def _password_stamp(row: Any) -> str:
    """Binds a reset link to the password it replaces: once changed, the link stops working."""
    return hashlib.sha256((row.password_hash or "").encode()).hexdigest()[:16]


def _queue_mail(
    conn: Connection, settings: Settings, row: Any, kind: str, mail: AccountMail, now: datetime
) -> bool:
    """Queue an account mail unless one of its kind went to this member less than MAIL_THROTTLE ago."""
    last = as_utc(store.last_member_mail_at(conn, row.id, kind))
    if last is not None and now - last < MAIL_THROTTLE:
        return False
    rendered = render_account_mail(mail)
    store.queue_member_mail(
        conn,
        user_id=row.id,
        kind=kind,
        to_addr=mail.to_addr,
        message_id=make_msgid(domain=links_domain(settings.site_url)),
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        now=now,
    )
    return True


def _mail(settings: Settings, to_addr: str, **what: Any) -> AccountMail:
    return AccountMail(
        site_name=settings.site_name, site_url=settings.site_url.rstrip("/"), to_addr=to_addr, **what
    )


def _confirm_mail(conn: Connection, settings: Settings, signer: Signer, row: Any, now: datetime) -> bool:
    token = signer.sign(
        ACCOUNT_CONFIRM, {"u": row.id, "v": row.token_version, "e": row.email, "t": _stamp(now)}
    )
    hours = settings.account_confirm_hours
    mail = _mail(
        settings,
        row.email,
        subject=f"Confirm your address for {settings.site_name}",
        heading="Confirm your address",
        paragraphs=(
            f"Welcome to {settings.site_name}, {row.username}. Confirm that this address is yours "
            "to finish your account.",
        ),
        action_label="Confirm my address",
        action_url=_link(settings, "/account/confirm", token),
        note=f"The link expires in {hours} {'hour' if hours == 1 else 'hours'}. If you did not sign up, "
        "ignore this mail: the account stays unconfirmed.",
    )
    return _queue_mail(conn, settings, row, CONFIRM_MAIL, mail, now)


def _exists_mail(conn: Connection, settings: Settings, row: Any, now: datetime) -> bool:
    mail = _mail(
        settings,
        row.email,
        subject=f"You already have an account on {settings.site_name}",
        heading="You already have an account",
        paragraphs=(
            f"Someone, probably you, tried to sign up to {settings.site_name} with this address. "
            f"It already has an account: {row.username}.",
            "Sign in with it, or choose a new password if you forgot yours.",
        ),
        action_label="Choose a new password",
        action_url=f"{settings.site_url.rstrip('/')}/reset",
        note="If this was not you, ignore this mail: nothing changed.",
    )
    return _queue_mail(conn, settings, row, EXISTS_MAIL, mail, now)


def _reset_mail(conn: Connection, settings: Settings, signer: Signer, row: Any, now: datetime) -> bool:
    token = signer.sign(
        PASSWORD_RESET, {"u": row.id, "v": row.token_version, "p": _password_stamp(row), "t": _stamp(now)}
    )
    minutes = settings.password_reset_minutes
    mail = _mail(
        settings,
        row.email,
        subject=f"Choose a new password for {settings.site_name}",
        heading="Choose a new password",
        paragraphs=(
            f"Someone, probably you, asked to reset the password of {row.username} on {settings.site_name}.",
        ),
        action_label="Choose a new password",
        action_url=_link(settings, "/reset/confirm", token),
        note=f"The link works once and expires in {minutes} minutes. If you did not ask for this, "
        "ignore this mail: your password stays as it is.",
    )
    return _queue_mail(conn, settings, row, RESET_MAIL, mail, now)


def sign_up(
    db: Database, settings: Settings, signer: Signer, username: str, email: str, password: str, now: datetime
) -> tuple[str, bool]:
    """Open an account and queue its confirmation mail; an address that has an account gets a
    "you already have one" mail instead, and the answer is the same. Returns (the normalised
    address, whether a mail was queued); AccountError for a refused field or a taken username."""
    name, address = _username(username), _email(email)
    password_hash = _new_password(settings, password, name, address)
    with db.write() as conn:
        existing = store.member_by_email(conn, address)
        if existing is not None:
            return address, _exists_mail(conn, settings, existing, now)
        if store.member_by_username(conn, name) is not None:
            raise AccountError("username", "this username is taken")
        user_id = store.insert_member(
            conn, username=name, email=address, password_hash=password_hash, role="member", now=now
        )
        if user_id is None:  # a concurrent sign-up took the name or the address first
            if store.member_by_username(conn, name) is not None:
                raise AccountError("username", "this username is taken")
            return address, False
        row = store.member_by_id(conn, user_id)
        return address, _confirm_mail(conn, settings, signer, row, now)


def check_confirm_link(settings: Settings, signer: Signer, token: str, now: datetime) -> None:
    """InvalidToken unless `token` is an account confirmation's, signed here and not expired."""
    _checked(signer, ACCOUNT_CONFIRM, token, timedelta(hours=settings.account_confirm_hours), now)


def confirm_email(db: Database, settings: Settings, signer: Signer, token: str, now: datetime) -> Member:
    """Confirm the address of a confirmation link (again: harmless); InvalidToken when the link is
    forged, expired or for an address the account no longer has."""
    payload = _checked(signer, ACCOUNT_CONFIRM, token, timedelta(hours=settings.account_confirm_hours), now)
    with db.write() as conn:
        row = store.member_by_id(conn, int(payload.get("u") or 0))
        if row is None or row.email != payload.get("e") or row.token_version != payload.get("v"):
            raise InvalidToken("this link is no longer valid")
        if row.email_confirmed_at is None:
            store.update_member(conn, row.id, now, email_confirmed_at=now)
        return _member(store.member_by_id(conn, row.id))


def _printable(text: str) -> str:
    """`text` without control characters (PostgreSQL refuses NUL in text)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _find_login(conn: Connection, login: str) -> Row[Any] | None:
    if _printable(login) != login:  # no username or address has one: nobody
        return None
    if "@" in login:
        try:
            return store.member_by_email(conn, normalize_email(login))
        except InvalidEmail:
            return None
    return store.member_by_username(conn, login)


def _account_key(row: Any, login: str) -> str:
    if row is not None:
        return f"member:{row.id}"
    return "login:" + hashlib.sha256(login.lower().encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _blocked_for(rows: list[Row[Any]], now: datetime) -> int | None:
    until = max((as_utc(r.blocked_until) for r in rows if r.blocked_until is not None), default=None)
    return math.ceil((until - now).total_seconds()) if until is not None and until > now else None


def _record_failure(conn: Connection, settings: Settings, key: str, now: datetime) -> None:
    row = store.locked_attempt(conn, key, now)
    failures, first = row.failures, as_utc(row.first_failure_at)
    blocked = as_utc(row.blocked_until)
    if now - first > timedelta(seconds=settings.signin_window_seconds) and (
        blocked is None or blocked <= now
    ):
        failures, first = 0, now
    failures += 1
    over = failures - settings.signin_free_attempts
    until = None
    if over > 0:
        wait = min(
            settings.signin_backoff_max_seconds, settings.signin_backoff_seconds * 2 ** min(over - 1, 40)
        )
        until = now + timedelta(seconds=wait)
    store.save_attempt(conn, key, failures, first, until)


def sign_in(
    db: Database,
    settings: Settings,
    login: str,
    password: str,
    client_address: str | None,
    now: datetime,
    user_agent: str | None = None,
) -> str:
    """A new session's token for a username (or address) and password; SignInRefused with the same
    words for an unknown login and a wrong password, or saying how long to wait when throttled."""
    login = (login or "").strip()[:MAX_LOGIN_CHARS]
    password = (password or "")[:1024]
    address_key = f"address:{_printable(client_address or 'unknown')[:64]}"
    with db.read() as conn:
        row = _find_login(conn, login)
        account_key = _account_key(row, login)
        wait = _blocked_for(store.attempts_of(conn, [account_key, address_key]), now)
    if wait is not None:
        raise SignInRefused(f"Too many failed sign-ins: try again in {wait} seconds.", wait)
    if row is not None and row.password_hash:
        ok = verify_password(row.password_hash, password)
    else:
        ok = verify_password(_dummy_hash(), password) and False
    if not ok:
        with db.write() as conn:
            for key in (account_key, address_key):
                _record_failure(conn, settings, key, now)
        raise SignInRefused(WRONG_LOGIN)
    assert row is not None
    _refuse_banned(row, now)
    rehashed = hash_password(password) if needs_rehash(row.password_hash) else None
    with db.write() as conn:
        store.clear_attempts(conn, account_key)
        if rehashed:
            store.update_member(conn, row.id, now, password_hash=rehashed)
        return _new_session(conn, settings, row.id, now, user_agent, client_address)


def _refuse_banned(row: Any, now: datetime) -> None:
    """SignInRefused, saying until when and why, for a banned member."""
    if is_banned(row, now):
        until = (
            "for good"
            if as_utc(row.banned_until) >= FOREVER
            else f"until {as_utc(row.banned_until):%Y-%m-%d %H:%M} UTC"
        )
        raise SignInRefused(f"This account is banned {until}: {row.ban_reason or 'no reason given'}.")


def _new_session(
    conn: Connection,
    settings: Settings,
    user_id: int,
    now: datetime,
    user_agent: str | None,
    client_address: str | None,
) -> str:
    """Store a new session of a member; its cookie token."""
    token = secrets.token_urlsafe(32)
    store.insert_session(
        conn,
        session_id=token_hash(token),
        user_id=user_id,
        now=now,
        expires_at=now + timedelta(days=settings.session_days),
        user_agent=_printable(user_agent or "")[:300] or None,
        client_address=_printable(client_address or "")[:64] or None,
    )
    return token


def member_of_session(db: Database, settings: Settings, token: str | None, now: datetime) -> Member | None:
    """The member a session token signs in, or None (no such session, expired, or banned); each use
    extends the session to session_days from now."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    session_id = token_hash(token)
    with db.read() as conn:
        session = store.session_by_id(conn, session_id)
        row = None if session is None else store.member_by_id(conn, session.user_id)
    if session is None or row is None:
        return None
    if as_utc(session.expires_at) <= now:
        with db.write() as conn:
            store.delete_session(conn, session_id)
        return None
    if is_banned(row, now):
        return None
    if now - as_utc(session.last_seen_at) >= SESSION_TOUCH:
        with db.write() as conn:
            store.touch_session(conn, session_id, now, now + timedelta(days=settings.session_days))
    return _member(row)


def sign_out(db: Database, token: str | None) -> None:
    """End the session of a token (nothing when there is none)."""
    if token and len(token) <= MAX_TOKEN_CHARS:
        with db.write() as conn:
            store.delete_session(conn, token_hash(token))


def sign_out_everywhere(db: Database, member_id: int) -> int:
    """End every session of a member; how many there were."""
    with db.write() as conn:
        return store.delete_member_sessions(conn, member_id)


def request_reset(db: Database, settings: Settings, signer: Signer, email: str, now: datetime) -> str:
    """Queue a password-reset mail when the address has an account (not banned); the answer is the
    same either way: the normalised address (AccountError for one that is not an address)."""
    address = _email(email)
    with db.write() as conn:
        row = store.member_by_email(conn, address)
        if row is not None and not is_banned(row, now):
            _reset_mail(conn, settings, signer, row, now)
    return address


def _reset_member(conn: Connection, payload: Any) -> Row[Any]:
    row = store.member_by_id(conn, int(payload.get("u") or 0))
    if row is None or row.token_version != payload.get("v") or _password_stamp(row) != payload.get("p"):
        raise InvalidToken("this link has been used already, or is no longer valid")
    return row


def check_reset_link(db: Database, settings: Settings, signer: Signer, token: str, now: datetime) -> None:
    """InvalidToken unless `token` is a reset link's, signed here, not expired and not used."""
    payload = _checked(signer, PASSWORD_RESET, token, timedelta(minutes=settings.password_reset_minutes), now)
    with db.read() as conn:
        _reset_member(conn, payload)


def reset_password(
    db: Database, settings: Settings, signer: Signer, token: str, new_password: str, now: datetime
) -> Member:
    """Set a new password from a reset link, which then stops working; signs the member out
    everywhere, and confirms the address (the link reached it). InvalidToken, or AccountError for
    a refused password."""
    payload = _checked(signer, PASSWORD_RESET, token, timedelta(minutes=settings.password_reset_minutes), now)
    with db.read() as conn:
        row = _reset_member(conn, payload)
    password_hash = _new_password(settings, new_password, row.username, row.email or "")
    with db.write() as conn:
        row = _reset_member(conn, payload)  # again: two tabs may race to use the same link
        store.update_member(
            conn,
            row.id,
            now,
            password_hash=password_hash,
            token_version=row.token_version + 1,
            email_confirmed_at=row.email_confirmed_at or now,
        )
        store.delete_member_sessions(conn, row.id)
        return _member(store.member_by_id(conn, row.id))


def _display_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if len(name) > MAX_DISPLAY_NAME:
        raise AccountError("display_name", f"at most {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise AccountError("display_name", "only printable characters")
    return name


def set_display_name(db: Database, member_id: int, display_name: str, now: datetime) -> Member:
    """Change a member's display name (empty: the username is shown); AccountError when refused."""
    name = _display_name(display_name)
    with db.write() as conn:
        store.update_member(conn, member_id, now, display_name=name)
        return _member(store.member_by_id(conn, member_id))


class AccountExport(BaseModel):
    """Everything the site keeps about a member, as GET /account/export.json gives it."""

    profile: dict[str, Any]
    sessions: list[dict[str, Any]]
    votes: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    digest_subscription: dict[str, Any] | None
    moderation_log: list[dict[str, Any]]
    api_tokens: list[dict[str, Any]]  # name, prefix, scope and times: never the hash


def _row_of(conn: Connection, member_id: int) -> Row[Any]:
    row = store.member_by_id(conn, member_id)
    if row is None:
        raise NotFound("no such member")
    return row


def resend_confirmation(
    db: Database, settings: Settings, signer: Signer, member_id: int, now: datetime
) -> bool:
    """Queue the confirmation mail of an unconfirmed address again; False when the address is
    confirmed already or one went out less than MAIL_THROTTLE ago."""
    with db.write() as conn:
        row = _row_of(conn, member_id)
        if row.email_confirmed_at is not None or not row.email:
            return False
        return _confirm_mail(conn, settings, signer, row, now)


def _check_password(db: Database, settings: Settings, row: Any, password: str, now: datetime) -> None:
    """AccountError unless `password` is the member's (throttled like sign-in, per account)."""
    key = f"member:{row.id}"
    with db.read() as conn:
        wait = _blocked_for(store.attempts_of(conn, [key]), now)
    if wait is not None:
        raise AccountError("password", f"too many wrong passwords: try again in {wait} seconds")
    if not row.password_hash or not verify_password(row.password_hash, (password or "")[:1024]):
        with db.write() as conn:
            _record_failure(conn, settings, key, now)
        raise AccountError("password", "this is not your password")


def _confirms(db: Database, settings: Settings, row: Any, confirmation: str, now: datetime) -> None:
    """The member confirms a grave change: with the password, or (an account that signs in only
    through OpenID Connect, without one) by typing the username."""
    if row.password_hash:
        _check_password(db, settings, row, confirmation, now)
    elif (confirmation or "").strip().lower() != row.username.lower():
        raise AccountError("password", "type your username to confirm")


def request_email_change(
    db: Database, settings: Settings, signer: Signer, member_id: int, email: str, password: str, now: datetime
) -> tuple[str, bool]:
    """Start a change of address: the new one (normalised as at sign-up) waits in pending_email,
    gets a confirmation link, and the old one a notice. Returns (the new address, whether the
    link was mailed: False when one went out less than MAIL_THROTTLE ago). AccountError when the
    password is wrong or the address is not one or is the account's already."""
    address = _email(email)
    with db.read() as conn:
        row = _row_of(conn, member_id)
    _confirms(db, settings, row, password, now)
    if address == row.email:
        raise AccountError("email", "this is your address already")
    with db.write() as conn:
        row = _row_of(conn, member_id)
        store.update_member(conn, row.id, now, pending_email=address)
        token = signer.sign(
            EMAIL_CHANGE, {"u": row.id, "v": row.token_version, "e": address, "t": _stamp(now)}
        )
        hours = settings.account_confirm_hours
        change = _mail(
            settings,
            address,
            subject=f"Confirm your new address for {settings.site_name}",
            heading="Confirm your new address",
            paragraphs=(f"{row.username} asked to use this address on {settings.site_name} from now on.",),
            action_label="Use this address",
            action_url=_link(settings, "/account/email/confirm", token),
            note=f"The link works once and expires in {hours} {'hour' if hours == 1 else 'hours'}. "
            "If you did not ask for this, ignore this mail: nothing changes.",
        )
        queued = _queue_mail(conn, settings, row, CHANGE_MAIL, change, now)
        if queued and row.email:
            notice = _mail(
                settings,
                row.email,
                subject=f"Your address on {settings.site_name} is about to change",
                heading="Your address is about to change",
                paragraphs=(
                    f"Someone signed in as {row.username} asked to change the account's address from "
                    f"this one to {address}. It changes once the link mailed there is opened.",
                ),
                action_label="Choose a new password",
                action_url=f"{settings.site_url.rstrip('/')}/reset",
                note="If this was you, nothing to do. If not, choose a new password now: that ends every "
                "session and cancels the change.",
            )
            _queue_mail(conn, settings, row, CHANGE_NOTICE_MAIL, notice, now)
    return address, queued


def check_email_change_link(settings: Settings, signer: Signer, token: str, now: datetime) -> str:
    """The new address of an email-change link, signed here and not expired; else InvalidToken."""
    payload = _checked(signer, EMAIL_CHANGE, token, timedelta(hours=settings.account_confirm_hours), now)
    return str(payload.get("e") or "")


def confirm_email_change(
    db: Database, settings: Settings, signer: Signer, member_id: int, token: str, now: datetime
) -> Member:
    """Replace the member's address by the one of its change link (which then stops working: the
    token version rises). InvalidToken for a forged, expired, used link or one of another member;
    AccountError when another account took the address meanwhile."""
    payload = _checked(signer, EMAIL_CHANGE, token, timedelta(hours=settings.account_confirm_hours), now)
    with db.write() as conn:
        row = store.member_by_id(conn, member_id)
        if (
            row is None
            or payload.get("u") != row.id
            or payload.get("v") != row.token_version
            or payload.get("e") != row.pending_email
        ):
            raise InvalidToken(
                "this link has been used already, is for another account, or is no longer valid"
            )
        other = store.member_by_email(conn, row.pending_email)
        if other is not None and other.id != row.id:
            raise AccountError("email", "this address has another account now")
        store.update_member(
            conn,
            row.id,
            now,
            email=row.pending_email,
            pending_email=None,
            email_confirmed_at=now,
            token_version=row.token_version + 1,
        )
        return _member(store.member_by_id(conn, row.id))


def set_preferences(
    db: Database, member_id: int, public_votes: bool, notify_mentions: bool, now: datetime
) -> Member:
    """Whether the member's upvotes are listed on its page, and whether @mentions mail it."""
    with db.write() as conn:
        store.update_member(
            conn, member_id, now, public_votes=bool(public_votes), notify_mentions=bool(notify_mentions)
        )
        return _member(store.member_by_id(conn, member_id))


def has_password(db: Database, member_id: int) -> bool:
    """Whether the member signs in with a password (else only through OpenID Connect)."""
    with db.read() as conn:
        return bool(_row_of(conn, member_id).password_hash)


def delete_account(
    db: Database, settings: Settings, member_id: int, confirmation: str, now: datetime
) -> None:
    """Delete an account for good, in one transaction, once confirmed (`_confirms`): its upvotes are
    withdrawn (counts and trending recomputed), its comments emptied (threads show "[deleted]"), its
    submissions stay in the feed without a name, the digest subscription of its address ends, and
    its sessions, flags and mails go with the row. AccountError when not confirmed."""
    with db.read() as conn:
        row = _row_of(conn, member_id)
    _confirms(db, settings, row, confirmation, now)
    with db.write() as conn:
        row = _row_of(conn, member_id)
        remove_member_votes(conn, row.id, now)
        delete_member_comments(conn, row.id, now)
        sub = store.member_subscriber(conn, row.id, row.email)
        if sub is not None and sub.status != "unsubscribed":
            unsubscribe_subscriber(conn, sub, now)
        store.delete_member(conn, row.id)


def _utc_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # SQLite gives naive UTC datetimes back: the export says UTC on both databases.
    return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]


def _token_export(row: Any) -> dict[str, Any]:
    """What the export says of an API token: never its hash."""
    fields = ("name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    return {name: getattr(row, name) for name in fields}


def export_account(db: Database, member_id: int) -> AccountExport:
    """The member's data (never the password hash, session ids nor token hashes), for its JSON
    export."""
    with db.read() as conn:
        row = _row_of(conn, member_id)
        profile = {
            "username": row.username,
            "display_name": row.display_name,
            "email": row.email,
            "email_confirmed_at": row.email_confirmed_at,
            "pending_email": row.pending_email,
            "role": row.role,
            "created_at": row.created_at,
            "public_votes": row.public_votes,
            "notify_mentions": row.notify_mentions,
            "has_password": bool(row.password_hash),
            "oidc_issuer": row.oidc_issuer,
            "oidc_subject": row.oidc_subject,
            "banned_until": row.banned_until,
            "ban_reason": row.ban_reason,
        }
        sub = store.member_subscriber(conn, row.id, row.email)
        digest = None
        if sub is not None:
            digest = _utc_values(
                [
                    {
                        "email": sub.email,
                        "status": sub.status,
                        "frequency": sub.frequency,
                        "weekday": sub.weekday,
                        "send_hour": sub.send_hour,
                        "timezone": sub.timezone,
                        "max_papers": sub.max_papers,
                        "categories": list(sub.categories or []),
                        "min_upvotes": sub.min_upvotes,
                        "created_at": sub.created_at,
                        "confirmed_at": sub.confirmed_at,
                        "unsubscribed_at": sub.unsubscribed_at,
                    }
                ]
            )[0]
            digest["saved_searches"] = store.export_saved_searches(conn, sub.id)
        return AccountExport(
            profile=_utc_values([profile])[0],
            sessions=_utc_values(store.export_sessions(conn, row.id)),
            votes=_utc_values(store.export_votes(conn, row.id)),
            comments=_utc_values(store.export_comments(conn, row.id)),
            submissions=_utc_values(store.export_submissions(conn, row.id)),
            flags=_utc_values(store.export_flags(conn, row.id)),
            digest_subscription=digest,
            moderation_log=_utc_values(store.export_moderation(conn, row.username, row.id)),
            api_tokens=_utc_values([_token_export(t) for t in token_store.member_tokens(conn, row.id)]),
        )


# --- OpenID Connect sign-in (services.oidc checks the provider's answer) -----------------------------


def _oidc_username(conn: Connection, preferred: str, email: str | None) -> str:
    """A free username made from the provider's preferred_username, else the address's local part."""
    base = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in preferred or "")
    base = base.strip("-_")
    if len(base) < 2 and email:
        local = email.split("@")[0]
        base = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in local).strip(
            "-_"
        )
    if len(base) < 2:
        base = "member"
    base = base[:28]
    name, n = base, 1
    while store.member_by_username(conn, name) is not None:
        n += 1
        name = f"{base}-{n}"[:32]
    return name


def sign_in_oidc(
    db: Database,
    settings: Settings,
    identity: dict[str, Any],
    client_address: str | None,
    now: datetime,
    user_agent: str | None = None,
) -> str:
    """A new session's token for an identity checked by services.oidc (issuer, subject, email,
    email_verified, preferred_username): its linked account; else the account of the same
    verified address, which gets linked; else a new confirmed member. SignInRefused when banned."""
    issuer, subject = str(identity["issuer"]), str(identity["subject"])
    verified = identity.get("email_verified") is True
    address = None
    if identity.get("email"):
        try:
            address = normalize_email(str(identity["email"]))
        except InvalidEmail:
            address = None
    with db.write() as conn:
        row = store.member_by_oidc(conn, issuer, subject)
        if row is None and address and verified:
            row = store.member_by_email(conn, address)
            if row is not None:
                if row.oidc_subject is not None:
                    raise SignInRefused("This address's account signs in with another identity.")
                store.update_member(
                    conn,
                    row.id,
                    now,
                    oidc_issuer=issuer,
                    oidc_subject=subject,
                    email_confirmed_at=row.email_confirmed_at or now,
                )
        if row is None:
            free = address if address and verified and store.member_by_email(conn, address) is None else None
            name = _oidc_username(conn, str(identity.get("preferred_username") or ""), address)
            user_id = store.insert_member(
                conn,
                username=name,
                email=free,
                password_hash=None,
                role="member",
                now=now,
                confirmed_at=now if free else None,
            )
            if user_id is None:
                raise SignInRefused("The account could not be made: please try again.")
            store.update_member(conn, user_id, now, oidc_issuer=issuer, oidc_subject=subject)
            row = _row_of(conn, user_id)
        row = _row_of(conn, row.id)
        _refuse_banned(row, now)
        return _new_session(conn, settings, row.id, now, user_agent, client_address)


# --- the operator's commands (`dailypapers users ...`) --------------------------------------------


def _named(conn: Connection, username: str) -> Row[Any]:
    row = store.member_by_username(conn, username)
    if row is None:
        raise NotFound(f"no member is called {username!r}")
    return row


def _insert_confirmed(
    conn: Connection, username: str, email: str, password_hash: str, role: str, now: datetime
) -> Member | None:
    """A new account made by the operator (its address counts as confirmed); None when the username
    or the address has an account already."""
    user_id = store.insert_member(
        conn,
        username=username,
        email=email,
        password_hash=password_hash,
        role=role,
        now=now,
        confirmed_at=now,
    )
    return None if user_id is None else _member(store.member_by_id(conn, user_id))


def create_user(
    db: Database, settings: Settings, username: str, email: str, password: str, role: str, now: datetime
) -> Member:
    """An account made by the operator: its address counts as confirmed. AccountError when a field
    is refused or the username or address is taken."""
    if role not in ROLES:
        raise AccountError("role", f"one of {', '.join(ROLES)}")
    name, address = _username(username), _email(email)
    password_hash = _new_password(settings, password, name, address)
    with db.write() as conn:
        member = _insert_confirmed(conn, name, address, password_hash, role, now)
    if member is None:
        raise AccountError("username", "this username or address has an account already")
    return member


def ensure_account(
    db: Database, settings: Settings, username: str, email: str, role: str, password: str, now: datetime
) -> Member:
    """An account with this username, role and password, made (address confirmed) or updated; an
    existing one's sessions end (the demo's accounts get a new password at every start)."""
    password_hash = _new_password(settings, password, username, email)
    with db.write() as conn:
        row = store.member_by_username(conn, username)
        if row is None:
            member = _insert_confirmed(conn, username, _email(email), password_hash, role, now)
            if member is None:
                raise AccountError("email", "this address has another account")
            return member
        store.update_member(
            conn, row.id, now, password_hash=password_hash, role=role, token_version=row.token_version + 1
        )
        store.delete_member_sessions(conn, row.id)
        return _member(store.member_by_id(conn, row.id))


def list_users(db: Database) -> list[Member]:
    """Every member, by username."""
    with db.read() as conn:
        return [_member(r) for r in store.list_members(conn)]
