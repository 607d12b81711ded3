"""API clients over a store holding the small synthetic local authority, signed in as each role.

The store holds the demonstration accounts (one per role, remit the bundled authority L001 with its own and
its region's agencies) and a token for each; ``client_as(role)`` is an API client sending that token,
``page_client_as(role)`` a browser-like client signed in through the sign-in form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.settings import Settings
from matching.access import Actor, Remit, Role
from matching.accounts.demo import DEMO_ACCOUNTS, seed_demo_accounts
from matching.accounts.tokens import issue_token
from matching.accounts.users import create_user
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder

SETUP = Actor.system("tests")
PASSWORDS = {d.role: d.password for d in DEMO_ACCOUNTS}
USERNAMES = {d.role: d.username for d in DEMO_ACCOUNTS}


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Passwords hashed with a cheap argon2id here (the production parameters take ~0.2 s a hash); a hash
    carries its parameters, so checking works either way."""
    from argon2 import PasswordHasher

    from matching.accounts import passwords

    patch = pytest.MonkeyPatch()
    patch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def loaded_sqlite(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('api') / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def tokens(loaded_sqlite: Engine) -> dict[Role, str]:
    """A bearer token for each demonstration account, and for ``elsewhere`` (remit another authority only)."""
    with loaded_sqlite.begin() as conn:
        seed_demo_accounts(conn, environment="development", actor=SETUP)
        create_user(
            conn,
            username="elsewhere",
            role=Role.PLACEMENT_OFFICER,
            remit=Remit(frozenset({"L999"}), frozenset({"LA-L001"})),
            actor=SETUP,
            password=None,
        )
        out = {d.role: issue_token(conn, d.username, name="tests", actor=SETUP).token for d in DEMO_ACCOUNTS}
        out["elsewhere"] = issue_token(conn, "elsewhere", name="tests", actor=SETUP).token  # type: ignore[index]
    return out


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(loaded_sqlite: Engine) -> Iterator[ClientFactory]:
    """``make_client(settings=None, token=None)``: a client of a fresh app (lifespan run, so the audit writer is
    closed at the end), sending ``token`` when given."""
    opened: list[TestClient] = []

    def make(settings: Settings | None = None, token: str | None = None) -> TestClient:
        client = TestClient(create_app(settings or Settings(), engine=loaded_sqlite))
        client.__enter__()
        opened.append(client)
        if token is not None:
            client.headers["Authorization"] = f"Bearer {token}"
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client_as(make_client: ClientFactory, tokens: dict[Role, str]) -> Callable[..., TestClient]:
    """``client_as(role, settings=None)``: an API client sending that role's token."""

    def make(role: Role | str, settings: Settings | None = None) -> TestClient:
        key = role if role == "elsewhere" else Role(role)
        return make_client(settings, tokens[key])  # type: ignore[index]

    return make


def sign_in(client: TestClient, role: Role | str, next_path: str | None = None) -> None:
    """Sign ``client`` in through the sign-in form as the demonstration account of ``role``."""
    form = client.get("/pages/sign-in", params={"next": next_path} if next_path else None)
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    r = client.post(
        "/pages/sign-in",
        data={
            "csrf_token": token.group(1),
            "username": USERNAMES[Role(role)],
            "password": PASSWORDS[Role(role)],
            "next": next_path or "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture
def page_client_as(make_client: ClientFactory, tokens: dict[Role, str]) -> Callable[..., TestClient]:
    """``page_client_as(role)``: a client signed in to the pages (session cookie) as that role."""

    def make(role: Role | str) -> TestClient:
        client = make_client()
        sign_in(client, role)
        return client

    return make


@pytest.fixture
def client(client_as: Callable[..., TestClient]) -> TestClient:
    """An API client signed in as the demonstration placement officer (L001, its agency and the region's)."""
    return client_as(Role.PLACEMENT_OFFICER)


@pytest.fixture
def page_client(page_client_as: Callable[..., TestClient]) -> TestClient:
    """A browser signed in to the pages as the demonstration placement officer."""
    return page_client_as(Role.PLACEMENT_OFFICER)


@pytest.fixture
def scoped_client(client_as: Callable[..., TestClient]) -> TestClient:
    """A placement officer whose remit is another authority and the in-house service only."""
    return client_as("elsewhere")


def app_of(client: TestClient) -> FastAPI:
    """The app behind a test client."""
    app: FastAPI = client.app  # type: ignore[assignment]
    return app
