"""The small authority in a store, with a placement officer and an agency officer, and an open referral whose child
has suitable households both in the authority's own service and in IFA001 (shared by the sending, answers and
offers tests: imported as fixtures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user
from matching.domain import Scope
from matching.fit_config import load_fit_config
from matching.pools import load_pool
from matching.ranking.pool import HouseholdPool
from matching.referrals import sending
from matching.store import queries
from matching.store.engine import upgrade
from matching.store.importer import import_folder
from matching.taxonomy import load_taxonomy

ON = date(2026, 4, 1)
AT = datetime(2026, 4, 1, 10, 30, tzinfo=UTC)
LA, OWN, IFA, OTHER_IFA = "L001", "LA-L001", "IFA001", "IFA002"
SCOPE = Scope(la_codes=frozenset({LA}), agency_codes=frozenset({OWN, IFA, OTHER_IFA}))
IFA_SCOPE = Scope(la_codes=frozenset(), agency_codes=frozenset({IFA}))


@dataclass
class World:
    """The store, its pool for the authority's remit, the users and the referral chosen."""

    engine: Engine
    pool: HouseholdPool
    officer: Actor
    agency: Actor
    referral_id: str
    child_id: str

    def reload(self) -> None:
        """The pool again from the store (after a household changed)."""
        with self.engine.connect() as conn:
            self.pool = load_pool(conn, scope=SCOPE, taxonomy=load_taxonomy(), cfg=load_fit_config())


def _user(conn: object, name: str, role: Role, remit: Remit) -> Actor:
    user = create_user(conn, username=name, role=role, remit=remit, actor=Actor.system("tests"), password=None)  # type: ignore[arg-type]
    return Actor(user.id, name, role.value)


@pytest.fixture
def world(engine: Engine, small_folder: Path) -> World:
    upgrade(engine)
    import_folder(engine, small_folder)
    cfg, taxonomy = load_fit_config(), load_taxonomy()
    with engine.begin() as conn:
        officer = _user(
            conn, "placer", Role.PLACEMENT_OFFICER, Remit(frozenset({LA}), frozenset({OWN, IFA, OTHER_IFA}))
        )
        agency = _user(conn, "ifa.officer", Role.FOSTERING_OFFICER, Remit(frozenset(), frozenset({IFA})))
        pool = load_pool(conn, scope=SCOPE, taxonomy=taxonomy, cfg=cfg)
        best: tuple[int, int, str, str] | None = None
        for r in queries.open_referrals(conn, scope=SCOPE):
            try:
                services = sending.services_for(conn, r.referral_id, scope=SCOPE, pool=pool, on=ON)
            except (sending.ReferralClosedError, sending.ReferralNotFoundError):
                continue
            n = {s.agency_code: s.suitable_households for s in services}
            key = (min(n[IFA], 4), min(n[OWN], 4), r.referral_id, r.child_id)
            if best is None or key[:2] > best[:2]:
                best = key
    assert best is not None
    assert best[0] >= 3, best
    assert best[1] >= 1, best
    return World(engine, pool, officer, agency, best[2], best[3])
