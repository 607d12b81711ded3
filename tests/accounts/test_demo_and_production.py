"""Demonstration accounts (never in production) and the production start-up check."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from matching.access import Principal, Role
from matching.accounts.demo import (
    BUNDLED_AGENCY,
    BUNDLED_IFAS,
    BUNDLED_LA,
    DEMO_ACCOUNTS,
    DemoAccountsRefusedError,
    demo_accounts_enabled,
    seed_demo_accounts,
)
from matching.accounts.production import DEFAULT_SIGNING_SECRET, ProductionConfigError, check_production
from matching.accounts.signin import sign_in
from matching.accounts.users import disable_user
from matching.synth.geography import make_agencies, make_local_authorities
from tests.accounts.conftest import ADMIN

GOOD = {
    "environment": "production",
    "signing_secret": "s" * 40,
    "sign_in_methods": ["password", "oidc"],
    "allowed_hosts": ["matching.example.gov.uk"],
}


def test_the_bundled_codes_are_the_generators() -> None:
    import numpy as np

    (la,) = make_local_authorities(1, np.random.default_rng(0))
    assert la.la_code == BUNDLED_LA
    assert BUNDLED_AGENCY in {a.agency_code for a in make_agencies([la]) if a.la_code == BUNDLED_LA}
    # The officer may match with the region's independent agencies too: those of the generated data.
    ifas = {a.agency_code for a in make_agencies([la]) if a.agency_type == "ifa" and a.region == la.region}
    assert set(BUNDLED_IFAS) == ifas


def test_one_account_per_role_that_can_sign_in(engine: Engine) -> None:
    assert {d.role for d in DEMO_ACCOUNTS} == set(Role)
    with engine.begin() as conn:
        created = seed_demo_accounts(conn, environment="development", actor=ADMIN)
        assert seed_demo_accounts(conn, environment="development", actor=ADMIN) == []  # already there
        for demo in created:
            who = sign_in(conn, demo.username, demo.password, "127.0.0.1")
            assert isinstance(who, Principal)
            assert who.role is demo.role
        officer = next(d for d in DEMO_ACCOUNTS if d.role is Role.PLACEMENT_OFFICER)
        assert officer.remit.la_codes == {"L001"}
        assert officer.remit.agency_codes == {"LA-L001", "IFA001", "IFA002"}
        assert len(demo_accounts_enabled(conn)) == len(DEMO_ACCOUNTS)
        disable_user(conn, "demo.admin", actor=ADMIN)
        assert "demo.admin" not in demo_accounts_enabled(conn)
    assert len(created) == len(DEMO_ACCOUNTS)


@pytest.mark.parametrize("environment", ["production", " Production ", "prod"])
def test_demo_accounts_are_refused_in_production(engine: Engine, environment: str) -> None:
    with pytest.raises(DemoAccountsRefusedError), engine.begin() as conn:
        seed_demo_accounts(conn, environment=environment, actor=ADMIN)
    with engine.connect() as conn:
        assert demo_accounts_enabled(conn) == []


def test_production_settings_that_are_ready_pass() -> None:
    check_production(**GOOD)  # type: ignore[arg-type]
    check_production(**GOOD, oidc_client_id="client-1", oidc_client_secret="from the secret store")  # type: ignore[arg-type]
    check_production(**{**GOOD, "sign_in_methods": ["password"]}, oidc_client_id="client-1")  # type: ignore[arg-type]
    check_production(environment="development", signing_secret=None, sign_in_methods=[], allowed_hosts=[])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signing_secret": DEFAULT_SIGNING_SECRET}, "signing secret of your own"),
        ({"signing_secret": None}, "signing secret of your own"),
        ({"signing_secret": "short"}, "at least 32"),
        ({"sign_in_methods": []}, "configure a sign-in method"),
        ({"sign_in_methods": ["magic"]}, "unknown sign-in method magic"),
        ({"allowed_hosts": []}, "list the allowed hosts"),
        ({"allowed_hosts": ["*"]}, "may not be '*'"),
        ({"demo_accounts": ["demo.admin"]}, "demonstration accounts"),
        ({"oidc_client_id": "client-1"}, "MATCHING_OIDC_CLIENT_SECRET"),
        ({"oidc_client_id": "client-1", "oidc_client_secret": ""}, "MATCHING_OIDC_CLIENT_SECRET"),
        ({"sign_in_methods": ["oidc"]}, "nobody can sign in at the pages"),
    ],
)
def test_production_refuses_to_start_unready(change: dict[str, object], message: str) -> None:
    with pytest.raises(ProductionConfigError, match=message) as caught:
        check_production(**{**GOOD, **change})  # type: ignore[arg-type]
    assert len(caught.value.problems) == 1


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ProductionConfigError) as caught:
        check_production(environment="production", signing_secret=None, sign_in_methods=[], allowed_hosts=[])
    assert len(caught.value.problems) == 3
