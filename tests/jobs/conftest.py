"""A fresh store (SQLite file) with two users for each job test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user
from matching.store.engine import make_engine, upgrade

SETUP = Actor.system("tests")


@dataclass
class StoreWithUsers:
    engine: Engine
    ann: int  # user ids
    bob: int


@pytest.fixture
def jobs_store(tmp_path: Path) -> Iterator[StoreWithUsers]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    remit = Remit(frozenset({"L001"}), frozenset({"LA-L001"}))
    with engine.begin() as conn:
        ann = create_user(conn, username="ann", role=Role.COMMISSIONING_LEAD, remit=remit, actor=SETUP, password=None)
        bob = create_user(conn, username="bob", role=Role.COMMISSIONING_LEAD, remit=remit, actor=SETUP, password=None)
    yield StoreWithUsers(engine, ann.id, bob.id)
    engine.dispose()
