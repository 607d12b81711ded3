"""User accounts: stored with role and remit, argon2id-hashed passwords, every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from matching.access import Remit, Role
from matching.accounts import passwords
from matching.accounts.sessions import create_session, resolve_session
from matching.accounts.tokens import authenticate_token, issue_token
from matching.accounts.users import (
    AccountError,
    create_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    reset_password,
    update_user,
)
from matching.audit import recent_entries, verify
from matching.store import schema as s
from tests.accounts.conftest import ADMIN, PASSWORD

L001 = Remit(frozenset({"L001"}), frozenset({"LA-L001"}))


def test_an_account_is_stored_with_its_role_remit_and_a_hashed_password(engine: Engine) -> None:
    with engine.begin() as conn:
        user = create_user(
            conn, username=" Alice ", role="placement_officer", remit=L001, actor=ADMIN, password=PASSWORD
        )
    assert user.username == "alice"
    assert user.role is Role.PLACEMENT_OFFICER
    assert user.remit == L001
    assert user.display_name == "alice"
    assert user.has_password
    assert not user.disabled
    with engine.connect() as conn:
        stored = conn.execute(select(s.user_account.c.password_hash)).scalar_one()
        assert get_user(conn, "ALICE") == user
        assert [u.username for u in list_users(conn)] == ["alice"]
        (entry,) = recent_entries(conn)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")
    assert (entry.action, entry.username, entry.outcome) == ("user.create", "test", "ok")
    assert "alice" in (entry.detail or "")
    assert PASSWORD not in repr(entry)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "bad name"}, "not valid"),
        ({"username": ""}, "not valid"),
        ({"role": "superuser"}, "no role 'superuser'"),
        ({"password": "short"}, "at least 12"),
        ({"password": "alice-the-user", "username": "alice-the-user"}, "must not be the username"),
        ({"remit": Remit(frozenset({"L 1"}), frozenset())}, "not a valid authority"),
    ],
)
def test_bad_accounts_are_refused_in_one_line(engine: Engine, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"username": "alice", "role": "auditor", "remit": Remit(), "password": PASSWORD}
    args.update(kwargs)
    with pytest.raises(AccountError, match=message), engine.begin() as conn:
        create_user(conn, actor=ADMIN, **args)  # type: ignore[arg-type]


def test_usernames_are_unique_whatever_the_case(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(conn, username="alice", role="auditor", remit=Remit(), actor=ADMIN)
    with pytest.raises(AccountError, match="already exists"), engine.begin() as conn:
        create_user(conn, username="ALICE", role="auditor", remit=Remit(), actor=ADMIN)


def test_disabling_and_resetting_revoke_sessions_and_tokens(engine: Engine) -> None:
    with engine.begin() as conn:
        user = create_user(conn, username="bob", role="placement_officer", remit=L001, actor=ADMIN, password=PASSWORD)
        session = create_session(conn, user.principal())
        token = issue_token(conn, "bob", name="script", actor=ADMIN)
    with engine.begin() as conn:
        assert resolve_session(conn, session.session_id) is not None
        assert authenticate_token(conn, token.token) is not None
        reset_password(conn, "bob", "a brand new password", actor=ADMIN)
        assert resolve_session(conn, session.session_id) is None
        assert authenticate_token(conn, token.token) is None
        session2 = create_session(conn, user.principal())
        token2 = issue_token(conn, "bob", name="script 2", actor=ADMIN)
        disabled = disable_user(conn, "bob", actor=ADMIN)
        assert disabled.disabled
        assert resolve_session(conn, session2.session_id) is None
        assert authenticate_token(conn, token2.token) is None
        with pytest.raises(AccountError, match="disabled"):
            issue_token(conn, "bob", name="again", actor=ADMIN)
        enabled = enable_user(conn, "bob", actor=ADMIN)
        assert not enabled.disabled
        assert resolve_session(conn, session2.session_id) is None  # stays revoked
        actions = [e.action for e in reversed(recent_entries(conn))]
        assert verify(conn) is None
    assert actions == [
        "user.create",
        "token.issue",
        "user.password_reset",
        "token.issue",
        "user.disable",
        "user.enable",
    ]


def test_changing_role_and_remit_is_audited_and_a_no_op_is_not(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(conn, username="carol", role="placement_officer", remit=L001, actor=ADMIN)
        same = update_user(conn, "carol", actor=ADMIN, role="placement_officer", remit=L001)
        changed = update_user(conn, "carol", actor=ADMIN, role=Role.COMMISSIONING_LEAD, remit=Remit())
        entries = recent_entries(conn)
    assert same.role is Role.PLACEMENT_OFFICER
    assert changed.role is Role.COMMISSIONING_LEAD
    assert changed.remit == Remit()
    assert [e.action for e in entries] == ["user.update", "user.create"]
    with pytest.raises(AccountError, match="no user 'dave'"), engine.begin() as conn:
        update_user(conn, "dave", actor=ADMIN, role="auditor")
