"""Bearer tokens: shown once, stored as a SHA-256 hash, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from matching.access import Permission, Remit, Role
from matching.accounts.tokens import (
    PREFIX,
    TokenPolicy,
    authenticate_token,
    hash_token,
    issue_token,
    list_tokens,
    revoke_token,
)
from matching.accounts.users import AccountError, create_user
from matching.audit import recent_entries
from matching.store import schema as s
from tests.accounts.conftest import ADMIN

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
L001 = Remit(frozenset({"L001"}), frozenset({"LA-L001"}))


@pytest.fixture
def officer(engine: Engine) -> Engine:
    with engine.begin() as conn:
        create_user(conn, username="alice", role="placement_officer", remit=L001, actor=ADMIN)
    return engine


def test_a_token_is_shown_once_and_stored_only_as_its_hash(officer: Engine) -> None:
    with officer.begin() as conn:
        issued = issue_token(conn, "alice", name="nightly export", actor=ADMIN, now=T0)
    assert issued.token.startswith(PREFIX)
    assert len(issued.token) >= len(PREFIX) + 43  # 32 random bytes, base64url
    assert issued.token not in repr(issued)
    assert issued.expires_at == T0 + timedelta(days=90)
    with officer.begin() as conn:
        stored = conn.execute(select(s.api_token)).mappings().one()
        audit = recent_entries(conn)[0]
        principal = authenticate_token(conn, issued.token, now=T0 + timedelta(days=1))
    assert stored["token_sha256"] == hash_token(issued.token)
    assert issued.token not in str(dict(stored))
    assert audit.action == "token.issue"
    assert issued.token not in (audit.detail or "")
    assert principal is not None
    assert (principal.username, principal.role, principal.method) == ("alice", Role.PLACEMENT_OFFICER, "token")
    assert principal.scope().la_codes == {"L001"}
    assert principal.permissions == Role.PLACEMENT_OFFICER.permissions


def test_scopes_narrow_the_role_and_cannot_exceed_it(officer: Engine) -> None:
    with officer.begin() as conn:
        issued = issue_token(conn, "alice", name="read only", scopes=["read_children"], actor=ADMIN)
        principal = authenticate_token(conn, issued.token)
        assert principal is not None
        assert principal.permissions == {Permission.READ_CHILDREN}
        with pytest.raises(AccountError, match="cannot grant manage_users"):
            issue_token(conn, "alice", name="too much", scopes=["read_children", "manage_users"], actor=ADMIN)
        with pytest.raises(AccountError, match="no permission 'everything'"):
            issue_token(conn, "alice", name="bad", scopes=["everything"], actor=ADMIN)


def test_lifetimes_default_to_90_days_and_never_exceed_the_maximum(officer: Engine) -> None:
    policy = TokenPolicy(max_days=30)
    with officer.begin() as conn:
        assert issue_token(conn, "alice", name="a", days=30, policy=policy, actor=ADMIN, now=T0).expires_at == T0 + (
            timedelta(days=30)
        )
        for days in (0, 31):
            with pytest.raises(AccountError, match="1-30 days"):
                issue_token(conn, "alice", name="b", days=days, policy=policy, actor=ADMIN)
        with pytest.raises(AccountError, match="no user"):
            issue_token(conn, "nobody", name="c", actor=ADMIN)
        with pytest.raises(AccountError, match="needs a name"):
            issue_token(conn, "alice", name=" ", actor=ADMIN)


def test_expired_revoked_unknown_and_tampered_tokens_are_refused(officer: Engine) -> None:
    with officer.begin() as conn:
        issued = issue_token(conn, "alice", name="t", days=1, actor=ADMIN, now=T0)
        assert authenticate_token(conn, issued.token, now=T0 + timedelta(hours=23)) is not None
        assert authenticate_token(conn, issued.token, now=T0 + timedelta(days=1)) is None
        other = issue_token(conn, "alice", name="u", actor=ADMIN, now=T0)
        assert authenticate_token(conn, other.token[:-1] + ("A" if other.token[-1] != "A" else "B"), now=T0) is None
        assert authenticate_token(conn, other.token[len(PREFIX) :], now=T0) is None
        assert authenticate_token(conn, "", now=T0) is None
        assert authenticate_token(conn, PREFIX + "x" * 5000, now=T0) is None
        revoked = revoke_token(conn, other.id, actor=ADMIN, now=T0 + timedelta(minutes=5))
        assert revoked.revoked_at == T0 + timedelta(minutes=5)
        assert not revoked.active(T0 + timedelta(minutes=6))
        assert authenticate_token(conn, other.token, now=T0 + timedelta(minutes=6)) is None
        revoke_token(conn, other.id, actor=ADMIN)  # again: nothing changes, nothing audited
        with pytest.raises(AccountError, match="no token 999"):
            revoke_token(conn, 999, actor=ADMIN)
        actions = [e.action for e in recent_entries(conn)]
    assert actions == ["token.revoke", "token.issue", "token.issue", "user.create"]


def test_last_use_is_recorded_at_most_once_a_minute(officer: Engine) -> None:
    with officer.begin() as conn:
        issued = issue_token(conn, "alice", name="t", actor=ADMIN, now=T0)
        assert list_tokens(conn, "alice")[0].last_used_at is None
        authenticate_token(conn, issued.token, now=T0 + timedelta(seconds=10))
        authenticate_token(conn, issued.token, now=T0 + timedelta(seconds=40))
        assert list_tokens(conn)[0].last_used_at == T0 + timedelta(seconds=10)
        authenticate_token(conn, issued.token, now=T0 + timedelta(seconds=75))
        (info,) = list_tokens(conn, "ALICE")
    assert info.last_used_at == T0 + timedelta(seconds=75)
    assert (info.name, info.username, info.active(T0)) == ("t", "alice", True)
