"""Signed-in clients over any test store (for tests outside ``tests/api`` that build their own store).

A user with the given role and a remit of every authority and agency in the store, and a client that
sends its bearer token; for pages, a client signed in through the sign-in form.
"""

from __future__ import annotations

import re
import secrets

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from api.settings import Settings
from matching.access import Actor, Remit, Role
from matching.accounts.tokens import issue_token
from matching.accounts.users import create_user
from matching.store import schema

SETUP = Actor.system("tests")


def _remit_of_everything(engine: Engine) -> Remit:
    with engine.connect() as conn:
        las = frozenset(conn.execute(select(schema.local_authority.c.la_code)).scalars())
        agencies = frozenset(conn.execute(select(schema.agency.c.agency_code)).scalars())
    return Remit(las, agencies)


def signed_in_client(engine: Engine, role: Role = Role.PLACEMENT_OFFICER, pages: bool = False) -> TestClient:
    """A client of a fresh app over ``engine`` signed in as a new user of ``role`` whose remit is the whole store
    (by bearer token; with ``pages``, by the sign-in form, so the pages' session cookie is set)."""
    username = f"test-{role.value}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        create_user(conn, username=username, role=role, remit=_remit_of_everything(engine), actor=SETUP,
                    password=password)  # fmt: skip
        token = issue_token(conn, username, name="tests", actor=SETUP).token
    client = TestClient(create_app(Settings(), engine=engine))
    if not pages:
        client.headers["Authorization"] = f"Bearer {token}"
        return client
    form = client.get("/pages/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None, form.text[:200]
    r = client.post(
        "/pages/sign-in",
        data={"csrf_token": csrf.group(1), "username": username, "password": password, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:200]
    return client
