"""Bearer tokens for API clients: issued per user, shown once, stored only as a SHA-256 hash.

A token is ``pm_`` and 32 random bytes (``secrets.token_urlsafe``): far too many to guess, so one unsalted
SHA-256 is enough to keep the stored form useless to a thief.  It carries scopes (a subset of the owner's
role's permissions), expires (90 days unless said otherwise, never more than the policy's maximum), records
when it was last used and can be revoked.  Disabling the owner or resetting their password revokes it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from matching.access import Actor, Permission, Principal
from matching.accounts.users import AccountError, get_user, now_utc, principal_of_row, secret_digest
from matching.audit import AuditEntry, append
from matching.audit.chain import utc
from matching.store import schema as s

PREFIX = "pm_"
_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """How long tokens live: ``default_days`` unless asked, never more than ``max_days``; ``last_used_at`` is
    written at most once per ``touch_every`` (a write per request would cost more than it tells)."""

    default_days: int = 90
    max_days: int = 365
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: ``token`` is the secret, shown to its owner once and never again."""

    id: int
    name: str
    scopes: frozenset[Permission]
    expires_at: datetime
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the store holds about a token (never the token)."""

    id: int
    user_id: int
    username: str
    name: str
    scopes: frozenset[Permission]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime | None = None) -> bool:
        """True if neither revoked nor expired."""
        return self.revoked_at is None and now_utc(now) < self.expires_at


def hash_token(token: str) -> str:
    """The stored form of ``token``."""
    return secret_digest(token)


def _scopes(values: Iterable[str]) -> frozenset[Permission]:
    out = set()
    for v in values:
        try:
            out.add(Permission(v))
        except ValueError:
            raise AccountError(
                f"no permission {v!r}; the permissions are {', '.join(p.value for p in Permission)}"
            ) from None
    return frozenset(out)


def issue_token(
    conn: Connection,
    username: str,
    *,
    name: str,
    actor: Actor,
    scopes: Iterable[str | Permission] | None = None,
    days: int | None = None,
    policy: TokenPolicy = TokenPolicy(),
    now: datetime | None = None,
) -> IssuedToken:
    """A new token for ``username`` (audited, without the token).  ``scopes`` default to all of the role's
    permissions and may not exceed them; ``days`` default to the policy's and may not exceed its maximum."""
    user = get_user(conn, username)
    if user is None:
        raise AccountError(f"no user {username.strip().lower()[:70]!r}")
    if user.disabled:
        raise AccountError(f"user {user.username!r} is disabled")
    label = name.strip()
    if not label or len(label) > 100:
        raise AccountError("a token needs a name of 1-100 characters (what it is for)")
    granted = user.role.permissions if scopes is None else _scopes(str(x) for x in scopes)
    if extra := sorted(granted - user.role.permissions):
        raise AccountError(f"a {user.role.label.lower()} cannot grant {', '.join(extra)}")
    lifetime = policy.default_days if days is None else days
    if not 1 <= lifetime <= policy.max_days:
        raise AccountError(f"a token lives 1-{policy.max_days} days, not {lifetime}")
    at = now_utc(now)
    token = PREFIX + secrets.token_urlsafe(32)
    expires = at + timedelta(days=lifetime)
    token_id = conn.execute(
        insert(s.api_token)
        .values(
            user_id=user.id,
            name=label,
            token_sha256=hash_token(token),
            scopes=sorted(p.value for p in granted),
            created_at=at,
            expires_at=expires,
            last_used_at=None,
            revoked_at=None,
        )
        .returning(s.api_token.c.id)
    ).scalar_one()
    append(
        conn,
        AuditEntry(actor, "token.issue", detail=f"token {token_id} {label!r} for {user.username}, {lifetime} days"),
    )
    return IssuedToken(int(token_id), label, granted, expires, token)


_U = s.user_account.c
_BY_HASH = select(s.api_token, _U.username, _U.display_name, _U.role, _U.la_codes, _U.agency_codes, _U.disabled).join(
    s.user_account, _U.id == s.api_token.c.user_id
)


def authenticate_token(
    conn: Connection, token: str, *, now: datetime | None = None, policy: TokenPolicy = TokenPolicy()
) -> Principal | None:
    """The principal a bearer token stands for, or None if it is unknown, revoked, expired or its owner is
    disabled.  Writes ``last_used_at`` (at most once a minute): call inside a transaction that commits."""
    if not token.startswith(PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    digest = hash_token(token)
    row = conn.execute(_BY_HASH.where(s.api_token.c.token_sha256 == digest)).mappings().first()
    if row is None or not hmac.compare_digest(row["token_sha256"], digest):
        return None
    at = now_utc(now)
    if row["revoked_at"] is not None or at >= utc(row["expires_at"]) or row["disabled"]:
        return None
    last = row["last_used_at"]
    if last is None or at - utc(last) >= policy.touch_every:
        conn.execute(update(s.api_token).where(s.api_token.c.id == row["id"]).values(last_used_at=at))
    return principal_of_row(row, "token", frozenset(Permission(p) for p in row["scopes"]))


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        username=row["username"],
        name=row["name"],
        scopes=frozenset(Permission(p) for p in row["scopes"]),
        created_at=utc(row["created_at"]),
        expires_at=utc(row["expires_at"]),
        last_used_at=utc(row["last_used_at"]) if row["last_used_at"] is not None else None,
        revoked_at=utc(row["revoked_at"]) if row["revoked_at"] is not None else None,
    )


_LIST = select(s.api_token, _U.username).join(s.user_account, _U.id == s.api_token.c.user_id)


def list_tokens(conn: Connection, username: str | None = None) -> list[TokenInfo]:
    """Tokens (all, or one user's), newest first."""
    stmt = _LIST.order_by(s.api_token.c.id.desc())
    if username is not None:
        stmt = stmt.where(s.user_account.c.username == username.strip().lower())
    return [_info(r) for r in conn.execute(stmt).mappings()]


def revoke_token(conn: Connection, token_id: int, *, actor: Actor, now: datetime | None = None) -> TokenInfo:
    """Revoke one token by its number (audited); revoking a revoked token changes nothing."""
    row = conn.execute(_LIST.where(s.api_token.c.id == token_id)).mappings().first()
    if row is None:
        raise AccountError(f"no token {token_id}")
    if row["revoked_at"] is None:
        conn.execute(update(s.api_token).where(s.api_token.c.id == token_id).values(revoked_at=now_utc(now)))
        append(conn, AuditEntry(actor, "token.revoke", detail=f"token {token_id} {row['name']!r} of {row['username']}"))
    revoked = conn.execute(_LIST.where(s.api_token.c.id == token_id)).mappings().first()
    return _info(revoked)
