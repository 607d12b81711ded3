"""Page sessions: stored hashed, idle and absolute timeouts, sign-out, CSRF tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from matching.access import Remit, Role
from matching.accounts.sessions import (
    DEFAULT_POLICY,
    SessionPolicy,
    create_session,
    csrf_token,
    end_session,
    resolve_session,
    verify_csrf,
)
from matching.accounts.users import create_user
from matching.audit import recent_entries
from matching.store import schema as s
from tests.accounts.conftest import ADMIN

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _user(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(conn, username="alice", role="placement_officer", remit=Remit(frozenset({"L001"})), actor=ADMIN)


def test_a_session_is_stored_hashed_and_resolves_to_its_principal(engine: Engine) -> None:
    _user(engine)
    with engine.begin() as conn:
        from matching.accounts.users import get_user

        user = get_user(conn, "alice")
        assert user is not None
        new = create_session(conn, user.principal(), now=T0)
        stored = conn.execute(select(s.web_session)).mappings().one()
        active = resolve_session(conn, new.session_id, now=T0 + timedelta(minutes=1))
    assert new.session_id not in str(dict(stored))
    assert new.session_id not in repr(new)
    assert active is not None
    assert active.principal.username == "alice"
    assert active.principal.role is Role.PLACEMENT_OFFICER
    assert active.principal.scope().la_codes == {"L001"}
    assert active.csrf_token == new.csrf_token == csrf_token(new.session_id)
    assert active.expires_at == T0 + timedelta(minutes=31)


def test_idle_and_absolute_timeouts(engine: Engine) -> None:
    _user(engine)
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    with engine.begin() as conn:
        from matching.accounts.users import get_user

        user = get_user(conn, "alice")
        assert user is not None
        idle = create_session(conn, user.principal(), now=T0)
        assert resolve_session(conn, idle.session_id, now=T0 + timedelta(minutes=29), policy=policy)
        assert resolve_session(conn, idle.session_id, now=T0 + timedelta(minutes=58), policy=policy)  # kept alive
        assert resolve_session(conn, idle.session_id, now=T0 + timedelta(minutes=88), policy=policy) is None
        busy = create_session(conn, user.principal(), now=T0)
        t = T0
        while t < T0 + timedelta(hours=12) - timedelta(minutes=20):
            t += timedelta(minutes=20)
            assert resolve_session(conn, busy.session_id, now=t, policy=policy) is not None
        assert resolve_session(conn, busy.session_id, now=T0 + timedelta(hours=12), policy=policy) is None


def test_sign_out_ends_the_session_and_is_audited(engine: Engine) -> None:
    _user(engine)
    with engine.begin() as conn:
        from matching.accounts.users import get_user

        user = get_user(conn, "alice")
        assert user is not None
        new = create_session(conn, user.principal())
        assert end_session(conn, new.session_id, address="127.0.0.1")
        assert resolve_session(conn, new.session_id) is None
        assert not end_session(conn, new.session_id)
        assert not end_session(conn, "no such session")
        assert resolve_session(conn, None) is None
        assert resolve_session(conn, "x" * 1000) is None
        entry = recent_entries(conn)[0]
    assert (entry.action, entry.username) == ("sign_out", "alice")


def test_cookie_values_for_the_api() -> None:
    assert DEFAULT_POLICY.cookie(secure=True).startswith("__Host-")
    assert DEFAULT_POLICY.cookie(secure=False) == "pm_session"
    assert DEFAULT_POLICY.cookie_max_age == 12 * 3600


@given(session_id=st.text(min_size=1, max_size=60), other=st.text(min_size=1, max_size=60))
def test_csrf_tokens_verify_only_for_their_own_session(session_id: str, other: str) -> None:
    token = csrf_token(session_id)
    assert verify_csrf(session_id, token)
    assert not verify_csrf(session_id, None)
    assert not verify_csrf(session_id, "")
    assert not verify_csrf(session_id, token[:-1])
    if other != session_id:
        assert not verify_csrf(other, token)
