"""Sign-in: the answer never tells whether a username exists; failures throttled per account and per address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from matching.access import Principal, Remit, Role
from matching.accounts import passwords
from matching.accounts.signin import Refusal, ThrottlePolicy, sign_in
from matching.accounts.users import create_user, disable_user, get_user
from matching.audit import recent_entries, verify
from matching.store import schema as s
from tests.accounts.conftest import ADMIN, PASSWORD

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _alice(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(
            conn,
            username="alice",
            role="placement_officer",
            remit=Remit(frozenset({"L001"}), frozenset({"LA-L001"})),
            actor=ADMIN,
            password=PASSWORD,
        )


def attempt(engine: Engine, username: str, password: str, address: str = "10.0.0.1", at: datetime = T0) -> object:
    with engine.begin() as conn:
        return sign_in(conn, username, password, address, now=at)


def test_the_right_password_signs_in_and_is_audited(engine: Engine) -> None:
    _alice(engine)
    who = attempt(engine, "Alice", PASSWORD)
    assert isinstance(who, Principal)
    assert (who.username, who.role, who.method) == ("alice", Role.PLACEMENT_OFFICER, "password")
    with engine.connect() as conn:
        entry = recent_entries(conn)[0]
        user = get_user(conn, "alice")
    assert (entry.action, entry.outcome, entry.username) == ("sign_in", "ok", "alice")
    assert user is not None
    assert user.last_sign_in_at == T0


def test_unknown_user_wrong_password_and_disabled_get_the_same_answer(engine: Engine) -> None:
    _alice(engine)
    with engine.begin() as conn:
        create_user(conn, username="bob", role="auditor", remit=Remit(), actor=ADMIN, password=PASSWORD)
        disable_user(conn, "bob", actor=ADMIN)
        create_user(conn, username="sso.only", role="auditor", remit=Remit(), actor=ADMIN)
    answers = {
        attempt(engine, "alice", "wrong password!"),
        attempt(engine, "nobody", PASSWORD),
        attempt(engine, "bob", PASSWORD),
        attempt(engine, "sso.only", ""),
    }
    assert answers == {Refusal.INVALID}
    with engine.connect() as conn:
        details = [e.detail for e in recent_entries(conn, limit=4)]
        assert verify(conn) is None
    assert [d.split(";")[0] for d in details if d] == [
        "no password (single sign-on only)",
        "account disabled",
        "unknown user",
        "wrong password",
    ]
    assert all(PASSWORD not in (d or "") for d in details)


def test_five_failures_lock_the_account_for_fifteen_minutes(engine: Engine) -> None:
    _alice(engine)
    for i in range(5):
        assert attempt(engine, "alice", "wrong password!", address=f"10.0.0.{i}", at=T0 + timedelta(minutes=i)) is (
            Refusal.INVALID
        )
    last = T0 + timedelta(minutes=4)
    assert attempt(engine, "alice", PASSWORD, address="10.9.9.9", at=last + timedelta(minutes=14)) is Refusal.THROTTLED
    assert isinstance(attempt(engine, "alice", PASSWORD, at=last + timedelta(minutes=15)), Principal)
    # a success clears the account's failures
    assert attempt(engine, "alice", "wrong password!", at=last + timedelta(minutes=16)) is Refusal.INVALID
    assert isinstance(attempt(engine, "alice", PASSWORD, at=last + timedelta(minutes=17)), Principal)


def test_unknown_usernames_are_throttled_like_known_ones(engine: Engine) -> None:
    _alice(engine)
    for i in range(5):
        attempt(engine, "alice", "wrong password!", at=T0 + timedelta(seconds=i))
        attempt(engine, "nobody", "wrong password!", address="10.0.0.2", at=T0 + timedelta(seconds=i))
    assert attempt(engine, "alice", "x" * 12, at=T0 + timedelta(minutes=1)) is Refusal.THROTTLED
    assert attempt(engine, "nobody", "x" * 12, address="10.0.0.2", at=T0 + timedelta(minutes=1)) is Refusal.THROTTLED


def test_twenty_failures_from_one_address_lock_that_address(engine: Engine) -> None:
    _alice(engine)
    for i in range(20):
        assert attempt(engine, f"user{i}", "wrong password!", address="192.0.2.7", at=T0 + timedelta(seconds=i)) is (
            Refusal.INVALID
        )
    assert attempt(engine, "alice", PASSWORD, address="192.0.2.7", at=T0 + timedelta(minutes=1)) is Refusal.THROTTLED
    assert isinstance(attempt(engine, "alice", PASSWORD, address="192.0.2.8", at=T0 + timedelta(minutes=1)), Principal)
    with engine.connect() as conn:
        assert recent_entries(conn)[1].detail == "throttled; from 192.0.2.7"


def test_a_custom_policy(engine: Engine) -> None:
    _alice(engine)
    policy = ThrottlePolicy(per_account=2, window=timedelta(minutes=1), lock=timedelta(minutes=5))
    with engine.begin() as conn:
        # two failures further apart than the window do not lock
        sign_in(conn, "alice", "wrong password!", "a", now=T0 - timedelta(minutes=3), policy=policy)
        sign_in(conn, "alice", "wrong password!", "a", now=T0, policy=policy)
        assert isinstance(sign_in(conn, "alice", PASSWORD, "a", now=T0, policy=policy), Principal)
        for _ in range(2):
            sign_in(conn, "alice", "wrong password!", "a", now=T0, policy=policy)
        assert sign_in(conn, "alice", PASSWORD, "a", now=T0 + timedelta(minutes=4), policy=policy) is (
            Refusal.THROTTLED
        )
        assert isinstance(
            sign_in(conn, "alice", PASSWORD, "a", now=T0 + timedelta(minutes=5), policy=policy), Principal
        )


def test_a_hash_made_with_old_parameters_is_remade_on_sign_in(engine: Engine, monkeypatch: object) -> None:
    _alice(engine)
    with engine.connect() as conn:
        before = conn.execute(select(s.user_account.c.password_hash)).scalar_one()
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    passwords.HASHER = stronger  # the conftest fixture puts the cheap one back
    assert passwords.needs_rehash(before)
    assert isinstance(attempt(engine, "alice", PASSWORD), Principal)
    with engine.connect() as conn:
        after = conn.execute(select(s.user_account.c.password_hash)).scalar_one()
    assert after != before
    assert "m=16,t=2,p=1" in after
    assert not passwords.needs_rehash(after)
    assert isinstance(attempt(engine, "alice", PASSWORD), Principal)


def test_the_refusals_speak_plainly() -> None:
    assert "username or password" in Refusal.INVALID.message
    assert "15 minutes" in Refusal.THROTTLED.message
