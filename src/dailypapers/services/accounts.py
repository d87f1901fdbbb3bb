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

from sqlalchemy.engine import Connection, Row

from dailypapers.core.models import as_utc
from dailypapers.core.passwords import hash_password, needs_rehash, password_problem, verify_password
from dailypapers.core.settings import Settings
from dailypapers.digest.account_mail import AccountMail, render_account_mail
from dailypapers.digest.subscriptions import InvalidEmail, links_domain, normalize_email
from dailypapers.digest.tokens import InvalidToken, Signer
from dailypapers.services.errors import NotFound
from dailypapers.services.schemas import Member
from dailypapers.store import accounts as store
from dailypapers.store.db import Database

# Salts of the signed account links (digest.tokens: each purpose its own).
ACCOUNT_CONFIRM, PASSWORD_RESET = "account-confirm", "password-reset"
# Outbox kinds of the account mails.
CONFIRM_MAIL, EXISTS_MAIL, RESET_MAIL = "account-confirm", "account-exists", "password-reset"
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
    if is_banned(row, now):
        until = (
            "for good"
            if as_utc(row.banned_until) >= FOREVER
            else f"until {as_utc(row.banned_until):%Y-%m-%d %H:%M} UTC"
        )
        raise SignInRefused(f"This account is banned {until}: {row.ban_reason or 'no reason given'}.")
    rehashed = hash_password(password) if needs_rehash(row.password_hash) else None
    token = secrets.token_urlsafe(32)
    with db.write() as conn:
        store.clear_attempts(conn, account_key)
        if rehashed:
            store.update_member(conn, row.id, now, password_hash=rehashed)
        store.insert_session(
            conn,
            session_id=token_hash(token),
            user_id=row.id,
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


def set_role(db: Database, username: str, role: str, now: datetime) -> Member:
    """Give a member a role (member, moderator, admin)."""
    if role not in ROLES:
        raise AccountError("role", f"one of {', '.join(ROLES)}")
    with db.write() as conn:
        row = _named(conn, username)
        store.update_member(conn, row.id, now, role=role)
        return _member(store.member_by_id(conn, row.id))


def ban(db: Database, username: str, reason: str, until: datetime | None, now: datetime) -> Member:
    """Ban a member until `until` (None: for good) with a reason; their sessions end at once."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise AccountError("reason", "a ban needs a reason")
    with db.write() as conn:
        row = _named(conn, username)
        store.update_member(conn, row.id, now, banned_until=until or FOREVER, ban_reason=reason[:500])
        store.delete_member_sessions(conn, row.id)
        return _member(store.member_by_id(conn, row.id))


def unban(db: Database, username: str, now: datetime) -> Member:
    """Lift a member's ban."""
    with db.write() as conn:
        row = _named(conn, username)
        store.update_member(conn, row.id, now, banned_until=None, ban_reason=None)
        return _member(store.member_by_id(conn, row.id))


def list_users(db: Database) -> list[Member]:
    """Every member, by username."""
    with db.read() as conn:
        return [_member(r) for r in store.list_members(conn)]
