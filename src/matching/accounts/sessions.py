"""Signed-in sessions of the pages, held in the store: the cookie carries a random id, the store its SHA-256.

A session ends after :attr:`SessionPolicy.idle` without a request, after :attr:`SessionPolicy.absolute`
whatever happens, on sign-out, and when its account is disabled or its password reset.  Each session has a
CSRF token, derived from the session id (HMAC-SHA256), so forms can prove they came from the signed-in page;
:func:`verify_csrf` compares in constant time.  The cookie's attributes are the API's; its name and max-age are
here (:class:`SessionPolicy`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from matching.access import Actor, Method, Principal
from matching.accounts.users import now_utc, principal_of_row, secret_digest
from matching.audit import AuditEntry, append
from matching.audit.chain import utc
from matching.store import schema as s

_MAX_ID_LENGTH = 200


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Session lifetimes and the cookie that carries the id.

    Over HTTPS use :attr:`secure_cookie_name` (the ``__Host-`` prefix makes browsers insist on ``Secure``,
    ``Path=/`` and no ``Domain``); over plain HTTP on loopback in development, :attr:`cookie_name`.  Set the cookie
    ``HttpOnly`` and ``SameSite=Lax`` with ``Max-Age`` :attr:`cookie_max_age`."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)
    cookie_name: str = "pm_session"
    secure_cookie_name: str = "__Host-pm_session"
    csrf_field: str = "csrf_token"
    csrf_header: str = "X-CSRF-Token"

    @property
    def cookie_max_age(self) -> int:
        """Seconds the browser keeps the cookie: the absolute lifetime."""
        return int(self.absolute.total_seconds())

    def cookie(self, secure: bool) -> str:
        """The cookie's name over HTTPS (``secure``) or plain HTTP."""
        return self.secure_cookie_name if secure else self.cookie_name


DEFAULT_POLICY = SessionPolicy()


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created: ``session_id`` goes in the cookie, ``csrf_token`` in the pages' forms."""

    id: int
    expires_at: datetime
    session_id: str = field(repr=False)
    csrf_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A live session and who it belongs to; ``expires_at`` is when it ends if no request comes before."""

    id: int
    principal: Principal
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    csrf_token: str = field(repr=False)


def csrf_token(session_id: str) -> str:
    """The CSRF token of the session ``session_id`` (HMAC-SHA256 keyed by the session id)."""
    return hmac.new(session_id.encode("utf-8"), b"matching csrf v1", hashlib.sha256).hexdigest()


def verify_csrf(session_id: str, submitted: str | None) -> bool:
    """True if ``submitted`` is the session's CSRF token (constant-time comparison)."""
    if not submitted or not session_id:
        return False
    return hmac.compare_digest(csrf_token(session_id).encode("ascii"), submitted.encode("utf-8", "replace"))


def create_session(
    conn: Connection, principal: Principal, *, now: datetime | None = None, policy: SessionPolicy = DEFAULT_POLICY
) -> NewSession:
    """A new session for a principal who has just signed in (by password or single sign-on)."""
    at = now_utc(now)
    session_id = secrets.token_urlsafe(32)
    new_id = conn.execute(
        insert(s.web_session)
        .values(
            user_id=principal.user_id,
            session_sha256=secret_digest(session_id),
            method=principal.method,
            created_at=at,
            last_seen_at=at,
            revoked_at=None,
        )
        .returning(s.web_session.c.id)
    ).scalar_one()
    return NewSession(int(new_id), at + min(policy.idle, policy.absolute), session_id, csrf_token(session_id))


_U = s.user_account.c
_BY_HASH = select(s.web_session, _U.username, _U.display_name, _U.role, _U.la_codes, _U.agency_codes, _U.disabled).join(
    s.user_account, _U.id == s.web_session.c.user_id
)


def resolve_session(
    conn: Connection, session_id: str | None, *, now: datetime | None = None, policy: SessionPolicy = DEFAULT_POLICY
) -> ActiveSession | None:
    """The live session a cookie names, or None if unknown, signed out, revoked, idle too long, past its absolute
    lifetime, or its account is disabled.  Writes ``last_seen_at`` (at most once a minute): call inside a
    transaction that commits."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    digest = secret_digest(session_id)
    row = conn.execute(_BY_HASH.where(s.web_session.c.session_sha256 == digest)).mappings().first()
    if row is None or not hmac.compare_digest(row["session_sha256"], digest):
        return None
    at = now_utc(now)
    created, seen = utc(row["created_at"]), utc(row["last_seen_at"])
    if row["revoked_at"] is not None or row["disabled"]:
        return None
    if at >= created + policy.absolute or at >= seen + policy.idle:
        return None
    if at - seen >= policy.touch_every:
        conn.execute(update(s.web_session).where(s.web_session.c.id == row["id"]).values(last_seen_at=at))
        seen = at
    method: Method = "oidc" if row["method"] == "oidc" else "password"
    return ActiveSession(
        id=int(row["id"]),
        principal=principal_of_row(row, method),
        created_at=created,
        last_seen_at=seen,
        expires_at=min(seen + policy.idle, created + policy.absolute),
        csrf_token=csrf_token(session_id),
    )


def end_session(
    conn: Connection, session_id: str | None, *, now: datetime | None = None, address: str | None = None
) -> bool:
    """Sign out: revoke the session the cookie names (audited).  False if there was no live session."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return False
    row = conn.execute(_BY_HASH.where(s.web_session.c.session_sha256 == secret_digest(session_id))).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return False
    conn.execute(update(s.web_session).where(s.web_session.c.id == row["id"]).values(revoked_at=now_utc(now)))
    actor = Actor(int(row["user_id"]), row["username"], row["role"])
    append(conn, AuditEntry(actor, "sign_out", detail=f"session {row['id']}" + (f" from {address}" if address else "")))
    return True
