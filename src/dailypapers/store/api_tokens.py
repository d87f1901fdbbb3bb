"""The SQL of personal API tokens (table api_tokens): a member's tokens, stored as the SHA-256 of their
secret. Every function runs on the caller's connection: services.api_tokens owns the transactions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from dailypapers.store.tables import api_tokens, users


def lock_member(conn: Connection, user_id: int) -> bool:
    """Lock a member's users row for this transaction (PostgreSQL; SQLite's write transaction holds
    the whole database already), so that two token creations count one after the other; False when
    there is no such member."""
    row = conn.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update()).first()
    return row is not None


def insert_token(
    conn: Connection, *, user_id: int, name: str, token_hash: str, prefix: str, scope: str, now: datetime
) -> Row[Any]:
    """A new token of a member; its row."""
    token_id = conn.execute(
        api_tokens.insert()
        .values(user_id=user_id, name=name, token_hash=token_hash, prefix=prefix, scope=scope, created_at=now)
        .returning(api_tokens.c.id)
    ).scalar_one()
    return conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one()


def active_count(conn: Connection, user_id: int) -> int:
    """How many tokens of a member are not revoked."""
    return int(
        conn.scalar(
            sa.select(sa.func.count())
            .select_from(api_tokens)
            .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        )
        or 0
    )


def active_token_member(conn: Connection, token_hash: str) -> Row[Any] | None:
    """The users row of the member whose active (not revoked) token has this hash, with the token's
    `token_id`, `token_scope` and `token_last_used_at`; None for an unknown or revoked token."""
    return conn.execute(
        sa.select(
            users,
            api_tokens.c.id.label("token_id"),
            api_tokens.c.scope.label("token_scope"),
            api_tokens.c.last_used_at.label("token_last_used_at"),
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
    ).first()


def touch_token(conn: Connection, token_id: int, now: datetime) -> None:
    """The token was used at `now`."""
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now))


def member_token(conn: Connection, user_id: int, token_id: int) -> Row[Any] | None:
    """A token of this member by its id (None for an unknown id or another member's token)."""
    return conn.execute(
        sa.select(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    ).first()


def revoke_token(conn: Connection, user_id: int, token_id: int, now: datetime) -> None:
    """Revoke a member's token (nothing for another member's, or one revoked already)."""
    conn.execute(
        api_tokens.update()
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def member_tokens(conn: Connection, user_id: int) -> list[Row[Any]]:
    """A member's tokens, revoked ones too, newest first."""
    return list(
        conn.execute(
            sa.select(api_tokens)
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
        )
    )
