"""Signing in with a username and password, throttled per account and per address.

The answer to a refused sign-in never tells whether the username exists: an unknown user, a wrong password
and a disabled account are all :attr:`Refusal.INVALID` (the audit trail records which it was), an unknown
username is throttled like a known one, and a password is checked against a dummy hash when there is no
account, so the time taken does not tell either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, delete, insert, select, update

from matching.access import Actor, Principal
from matching.accounts import passwords
from matching.accounts.users import get_user, normalise_username, now_utc
from matching.audit import REFUSED, AuditEntry, append
from matching.audit.chain import utc
from matching.store import schema as s


class Refusal(StrEnum):
    """Why a sign-in was refused, as callers may tell the person signing in."""

    INVALID = "invalid_credentials"
    THROTTLED = "too_many_attempts"
    NOT_AUTHORISED = "not_authorised"

    @property
    def message(self) -> str:
        """The sentence to show."""
        return {
            Refusal.INVALID: "The username or password is not right.",
            Refusal.THROTTLED: "Too many attempts to sign in. Wait 15 minutes and try again.",
            Refusal.NOT_AUTHORISED: "Your account has no access to this service. Ask your administrator.",
        }[self]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """``per_account`` failures for one username (or ``per_address`` from one address) within ``window`` lock
    further attempts until ``lock`` after the last of them.  Attempts refused while locked are not counted (the
    lock ends when it said), and a successful sign-in clears the account's failures."""

    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


DEFAULT_THROTTLE = ThrottlePolicy()


def _locked(conn: Connection, column: str, value: str, limit: int, at: datetime, policy: ThrottlePolicy) -> bool:
    """True if ``limit`` failures fell within one ``window`` and the last of them is less than ``lock`` ago."""
    col = s.sign_in_failure.c[column]
    times = [
        utc(t)
        for t in conn.execute(
            select(s.sign_in_failure.c.at)
            .where(col == value, s.sign_in_failure.c.at >= at - policy.window - policy.lock)
            .order_by(s.sign_in_failure.c.at)
        ).scalars()
    ]
    return any(
        times[k] - times[k - limit + 1] <= policy.window and at < times[k] + policy.lock
        for k in range(limit - 1, len(times))
    )


def is_throttled(
    conn: Connection,
    username: str,
    address: str,
    *,
    now: datetime | None = None,
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
) -> bool:
    """True if sign-ins for ``username`` or from ``address`` are locked just now."""
    at = now_utc(now)
    name, where = normalise_username(username)[:64], (address or "unknown")[:64]
    return _locked(conn, "username", name, policy.per_account, at, policy) or _locked(
        conn, "address", where, policy.per_address, at, policy
    )


def sign_in(
    conn: Connection,
    username: str,
    password: str,
    address: str,
    *,
    now: datetime | None = None,
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
) -> Principal | Refusal:
    """The principal for a correct username and password, or why not.  Audits every attempt (never the
    password) and records failures for throttling; call inside a transaction that commits either way."""
    at = now_utc(now)
    name, where = normalise_username(username)[:64], (address or "unknown")[:64]
    if is_throttled(conn, name, where, now=at, policy=policy):
        append(conn, AuditEntry(Actor(None, name or "-", None), "sign_in", REFUSED, detail=f"throttled; from {where}"))
        return Refusal.THROTTLED
    user = get_user(conn, name) if name else None
    stored = None
    if user is not None:
        stored = conn.execute(select(s.user_account.c.password_hash).where(s.user_account.c.id == user.id)).scalar()
    matched = passwords.verify_password(stored, password)  # a dummy hash when there is none: same time
    reason = None
    if user is None:
        reason = "unknown user"
    elif stored is None:
        reason = "no password (single sign-on only)"
    elif not matched:
        reason = "wrong password"
    elif user.disabled:
        reason = "account disabled"
    if user is None or reason is not None:
        conn.execute(insert(s.sign_in_failure).values(at=at, username=name or "-", address=where))
        conn.execute(delete(s.sign_in_failure).where(s.sign_in_failure.c.at < at - policy.window - policy.lock))
        actor = Actor(None, name or "-", None) if user is None else Actor(user.id, user.username, user.role.value)
        append(conn, AuditEntry(actor, "sign_in", REFUSED, detail=f"{reason}; from {where}"))
        return Refusal.INVALID
    values: dict[str, object] = {"last_sign_in_at": at}
    if stored is not None and passwords.needs_rehash(stored):
        values["password_hash"] = passwords.hash_password(password)
    conn.execute(update(s.user_account).where(s.user_account.c.id == user.id).values(**values))
    # A success clears the account's failures (not the address's: one good account must not reset a spray).
    conn.execute(
        update(s.sign_in_failure)
        .where(s.sign_in_failure.c.username == name, s.sign_in_failure.c.at <= at)
        .values(username="")
    )
    principal = user.principal("password")
    append(conn, AuditEntry(principal.actor, "sign_in", detail=f"password; from {where}"))
    return principal
