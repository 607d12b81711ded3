"""User accounts in the store: create, read, change, disable, reset a password; every change audited.

Functions take a connection inside the caller's transaction (``with engine.begin() as conn``) and an
:class:`~matching.access.Actor` for the audit trail; they raise :class:`AccountError` with one readable line.
Disabling an account or resetting its password revokes its sessions and tokens in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from matching.access import Actor, Method, Permission, Principal, Remit, Role
from matching.accounts import passwords
from matching.audit import AuditEntry, append
from matching.audit.chain import utc
from matching.store import schema as s

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AccountError(ValueError):
    """An account cannot be created or changed as asked (one readable line)."""


@dataclass(frozen=True, slots=True)
class User:
    """An account as stored (never its password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    remit: Remit
    disabled: bool
    external_id: str | None
    has_password: bool
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None

    def principal(self, method: Method = "password", granted: frozenset[Permission] | None = None) -> Principal:
        """The account as a signed-in principal."""
        return Principal(
            user_id=self.id,
            username=self.username,
            role=self.role,
            remit=self.remit,
            display_name=self.display_name,
            method=method,
            granted=granted,
        )


def now_utc(now: datetime | None = None) -> datetime:
    """``now`` in UTC, or the current time."""
    return utc(now) if now is not None else datetime.now(UTC)


def normalise_username(username: str) -> str:
    """How a username is stored and compared: trimmed, lower case."""
    return username.strip().lower()


def check_username(username: str) -> str:
    """The normalised username; :class:`AccountError` unless 1-64 of ``a-z 0-9 . _ @ -`` (starting alphanumeric)."""
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise AccountError(
            f"username {username[:70]!r} is not valid: 1-64 characters of a-z, 0-9, '.', '_', '@', '-', "
            "starting with a letter or digit"
        )
    return name


def check_remit(remit: Remit) -> Remit:
    """``remit`` if every code is a valid identifier; :class:`AccountError` otherwise."""
    bad = sorted(c for c in remit.la_codes | remit.agency_codes if not CODE.match(c))
    if bad:
        raise AccountError(f"not a valid authority or agency code: {bad[0][:70]!r}")
    return remit


def role_of(value: str | Role) -> Role:
    """``value`` as a :class:`Role`; :class:`AccountError` naming the roles otherwise."""
    try:
        return Role(value)
    except ValueError:
        raise AccountError(f"no role {value!r}; the roles are {', '.join(r.value for r in Role)}") from None


def remit_of_row(row: Any) -> Remit:
    """The remit stored on an account row (its authority and agency code lists)."""
    return Remit(frozenset(row["la_codes"] or ()), frozenset(row["agency_codes"] or ()))


def principal_of_row(row: Any, method: Method, granted: frozenset[Permission] | None = None) -> Principal:
    """The principal of a row joining a credential (``user_id``) to its account's name, role and remit."""
    return Principal(
        user_id=int(row["user_id"]),
        username=row["username"],
        role=Role(row["role"]),
        remit=remit_of_row(row),
        display_name=row["display_name"],
        method=method,
        granted=granted,
    )


def secret_digest(secret: str) -> str:
    """The stored form of a random secret (a bearer token, a session id): SHA-256, hex.  High-entropy secrets
    need no slow hash; passwords do (:mod:`matching.accounts.passwords`)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(row: Any) -> User:
    return User(
        id=int(row["id"]),
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        remit=remit_of_row(row),
        disabled=bool(row["disabled"]),
        external_id=row["external_id"],
        has_password=row["password_hash"] is not None,
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        last_sign_in_at=utc(row["last_sign_in_at"]) if row["last_sign_in_at"] is not None else None,
    )


def get_user(conn: Connection, username: str) -> User | None:
    """The account called ``username`` (any case), or None."""
    row = conn.execute(select(s.user_account).where(s.user_account.c.username == normalise_username(username)))
    found = row.mappings().first()
    return _user(found) if found is not None else None


def get_user_by_id(conn: Connection, user_id: int) -> User | None:
    """The account with ``user_id``, or None."""
    found = conn.execute(select(s.user_account).where(s.user_account.c.id == user_id)).mappings().first()
    return _user(found) if found is not None else None


def list_users(conn: Connection) -> list[User]:
    """Every account, by username."""
    rows = conn.execute(select(s.user_account).order_by(s.user_account.c.username)).mappings()
    return [_user(r) for r in rows]


def _require(conn: Connection, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise AccountError(f"no user {normalise_username(username)[:70]!r}")
    return user


def _describe(role: Role, remit: Remit) -> str:
    las = ",".join(sorted(remit.la_codes)) or "-"
    agencies = ",".join(sorted(remit.agency_codes)) or "-"
    return f"role {role.value}; authorities {las}; agencies {agencies}"


def _audit(conn: Connection, actor: Actor, action: str, detail: str, outcome: str = "ok") -> None:
    append(conn, AuditEntry(actor, action, outcome, detail=detail))


def create_user(
    conn: Connection,
    *,
    username: str,
    role: Role | str,
    remit: Remit,
    actor: Actor,
    display_name: str | None = None,
    password: str | None = None,
    external_id: str | None = None,
    now: datetime | None = None,
) -> User:
    """A new account (audited).  ``password`` None makes a single sign-on only account (or one to be given a
    password with :func:`reset_password`)."""
    name = check_username(username)
    the_role = role_of(role)
    check_remit(remit)
    if password is not None:
        try:
            passwords.check_policy(password, name)
        except passwords.PasswordPolicyError as exc:
            raise AccountError(str(exc)) from None
    if get_user(conn, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    if (
        external_id is not None
        and conn.execute(select(s.user_account.c.id).where(s.user_account.c.external_id == external_id)).first()
    ):
        raise AccountError("that single sign-on identity already has an account")
    at = now_utc(now)
    new_id = conn.execute(
        insert(s.user_account)
        .values(
            username=name,
            display_name=(display_name or name).strip()[:200],
            role=the_role.value,
            la_codes=sorted(remit.la_codes),
            agency_codes=sorted(remit.agency_codes),
            disabled=False,
            password_hash=passwords.hash_password(password) if password is not None else None,
            external_id=external_id,
            created_at=at,
            updated_at=at,
            last_sign_in_at=None,
        )
        .returning(s.user_account.c.id)
    ).scalar_one()
    _audit(conn, actor, "user.create", f"{name}: {_describe(the_role, remit)}")
    user = get_user_by_id(conn, int(new_id))
    assert user is not None
    return user


def update_user(
    conn: Connection,
    username: str,
    *,
    actor: Actor,
    role: Role | str | None = None,
    remit: Remit | None = None,
    display_name: str | None = None,
    now: datetime | None = None,
) -> User:
    """Change an account's role, remit or display name (audited when anything changes).  Its tokens keep their
    scopes, but never hold more than the new role allows."""
    user = _require(conn, username)
    values: dict[str, Any] = {}
    new_role = role_of(role) if role is not None else user.role
    new_remit = check_remit(remit) if remit is not None else user.remit
    if new_role != user.role:
        values["role"] = new_role.value
    if new_remit != user.remit:
        values["la_codes"] = sorted(new_remit.la_codes)
        values["agency_codes"] = sorted(new_remit.agency_codes)
    if display_name is not None and display_name.strip()[:200] != user.display_name:
        values["display_name"] = display_name.strip()[:200]
    if not values:
        return user
    values["updated_at"] = now_utc(now)
    conn.execute(update(s.user_account).where(s.user_account.c.id == user.id).values(**values))
    _audit(conn, actor, "user.update", f"{user.username}: {_describe(new_role, new_remit)}")
    changed = get_user_by_id(conn, user.id)
    assert changed is not None
    return changed


def revoke_credentials(conn: Connection, user_id: int, *, now: datetime | None = None) -> tuple[int, int]:
    """Revoke every live session and token of an account; (sessions, tokens) revoked."""
    at = now_utc(now)
    sessions = conn.execute(
        update(s.web_session)
        .where(s.web_session.c.user_id == user_id, s.web_session.c.revoked_at.is_(None))
        .values(revoked_at=at)
    ).rowcount
    tokens = conn.execute(
        update(s.api_token)
        .where(s.api_token.c.user_id == user_id, s.api_token.c.revoked_at.is_(None))
        .values(revoked_at=at)
    ).rowcount
    return int(sessions or 0), int(tokens or 0)


def disable_user(conn: Connection, username: str, *, actor: Actor, now: datetime | None = None) -> User:
    """Disable an account: it can no longer sign in, and its sessions and tokens are revoked (audited)."""
    user = _require(conn, username)
    at = now_utc(now)
    conn.execute(update(s.user_account).where(s.user_account.c.id == user.id).values(disabled=True, updated_at=at))
    sessions, tokens = revoke_credentials(conn, user.id, now=at)
    _audit(conn, actor, "user.disable", f"{user.username}: {sessions} sessions and {tokens} tokens revoked")
    changed = get_user_by_id(conn, user.id)
    assert changed is not None
    return changed


def enable_user(conn: Connection, username: str, *, actor: Actor, now: datetime | None = None) -> User:
    """Enable a disabled account again (audited); its old sessions and tokens stay revoked."""
    user = _require(conn, username)
    conn.execute(
        update(s.user_account).where(s.user_account.c.id == user.id).values(disabled=False, updated_at=now_utc(now))
    )
    _audit(conn, actor, "user.enable", user.username)
    changed = get_user_by_id(conn, user.id)
    assert changed is not None
    return changed


def reset_password(
    conn: Connection, username: str, new_password: str, *, actor: Actor, now: datetime | None = None
) -> User:
    """Give an account a new password, revoking its sessions and tokens (audited; the password never is)."""
    user = _require(conn, username)
    try:
        passwords.check_policy(new_password, user.username)
    except passwords.PasswordPolicyError as exc:
        raise AccountError(str(exc)) from None
    at = now_utc(now)
    conn.execute(
        update(s.user_account)
        .where(s.user_account.c.id == user.id)
        .values(password_hash=passwords.hash_password(new_password), updated_at=at)
    )
    sessions, tokens = revoke_credentials(conn, user.id, now=at)
    _audit(conn, actor, "user.password_reset", f"{user.username}: {sessions} sessions and {tokens} tokens revoked")
    changed = get_user_by_id(conn, user.id)
    assert changed is not None
    return changed


def unknown_codes(conn: Connection, remit: Remit) -> list[str]:
    """Codes of ``remit`` that name no authority or agency in the store (a typing slip leaves a user seeing
    nothing; callers may warn)."""
    las = set(conn.execute(select(s.local_authority.c.la_code)).scalars())
    agencies = set(conn.execute(select(s.agency.c.agency_code)).scalars())
    return sorted(remit.la_codes - las) + sorted(remit.agency_codes - agencies)


def authorities_of_region(conn: Connection, region: str) -> frozenset[str]:
    """The codes of the authorities in ``region`` (a commissioning lead's remit), as the store holds them."""
    return frozenset(
        conn.execute(
            select(s.local_authority.c.la_code).where(func.lower(s.local_authority.c.region) == region.strip().lower())
        ).scalars()
    )


def codes(values: Iterable[str]) -> frozenset[str]:
    """Codes given as repeated options or comma-separated lists, trimmed, blanks dropped."""
    return frozenset(c.strip() for v in values for c in v.split(",") if c.strip())
