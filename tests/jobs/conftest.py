"""A fresh store with two users for each job test, on SQLite and on PostgreSQL (when the server is there)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user

SETUP = Actor.system("tests")


@dataclass
class StoreWithUsers:
    engine: Engine
    ann: int  # user ids
    bob: int


@pytest.fixture
def jobs_store(engine: Engine) -> StoreWithUsers:
    remit = Remit(frozenset({"L001"}), frozenset({"LA-L001"}))
    with engine.begin() as conn:
        ann = create_user(conn, username="ann", role=Role.COMMISSIONING_LEAD, remit=remit, actor=SETUP, password=None)
        bob = create_user(conn, username="bob", role=Role.COMMISSIONING_LEAD, remit=remit, actor=SETUP, password=None)
    return StoreWithUsers(engine, ann.id, bob.id)
