"""Accounts tests hash with a cheap argon2id (the production parameters take ~0.2 s a hash)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from matching.access import Actor
from matching.accounts import passwords

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ADMIN = Actor.system("test")
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[PasswordHasher]:
    patch = pytest.MonkeyPatch()
    patch.setattr(passwords, "HASHER", CHEAP)
    yield CHEAP
    patch.undo()
