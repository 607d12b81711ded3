"""Single sign-on: tokens checked against a real key set served on loopback (no mock of the validation)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from matching.access import Principal, Remit, Role
from matching.accounts.oidc import (
    OidcConfigError,
    OidcError,
    OidcValidator,
    grant_for,
    load_oidc_config,
    sign_in_oidc,
)
from matching.accounts.oidc_login import PagesSignOn, pkce_challenge
from matching.accounts.signin import Refusal
from matching.accounts.users import create_user, disable_user, get_user
from matching.audit import recent_entries, verify
from tests.accounts.conftest import ADMIN
from tests.oidc_provider import (
    ASHBURY,
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    FOSTERING,
    OFFICERS,
    Provider,
    new_key,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A token assembled by hand (PyJWT refuses to make the forgeries below)."""
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + sign(head.encode())


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.close()


@pytest.fixture
def validator(provider: Provider) -> OidcValidator:
    return OidcValidator(provider.config(), cooldown=0)


def test_a_genuine_token_is_accepted(provider: Provider, validator: OidcValidator) -> None:
    claims = validator.validate(provider.token())
    assert claims["oid"] == "00000000-0000-0000-0000-000000000001"
    assert grant_for(claims, validator.config).role is Role.PLACEMENT_OFFICER


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (lambda p: p.token(key=new_key()), "Signature"),
        (lambda p: p.token(iss="https://login.example.org/other"), "Issuer"),
        (lambda p: p.token(aud="api://someone-else"), "Audience"),
        (lambda p: p.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "Expired"),
        (lambda p: p.token(nbf=int(time.time()) + 3600), "ImmatureSignature"),
        (lambda p: p.token(kid="k9", key=new_key()), "no published key 'k9'"),
        (lambda p: p.token(oid=None), "MissingRequiredClaim"),
        (lambda p: handmade({"alg": "none", "kid": "k1", "typ": "JWT"}, p.claims(), lambda _: ""), "'none'"),
        (
            lambda p: handmade(
                {"alg": "HS256", "kid": "k1", "typ": "JWT"},
                p.claims(),
                lambda msg: _b64(hmac.new(p.public_pem(), msg, hashlib.sha256).digest()),
            ),
            "'HS256' is not allowed",
        ),
        (lambda p: "not.a.token", "not a token"),
    ],
    ids=[
        "wrong-signature",
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "not-yet-valid",
        "unknown-kid",
        "no-subject",
        "alg-none",
        "hs256-with-public-key",
        "garbage",
    ],
)
def test_forged_or_stale_tokens_are_refused(provider: Provider, validator: OidcValidator, forge: Any, why: str) -> None:
    with pytest.raises(OidcError, match=why):
        validator.validate(forge(provider))


def test_hs256_with_the_public_key_is_refused_even_if_configured_naively(provider: Provider) -> None:
    with pytest.raises(ValueError, match="only asymmetric"):
        provider.config(algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError, match="only asymmetric"):
        provider.config(algorithms=["none"])


def test_rotated_keys_are_fetched_again(provider: Provider, validator: OidcValidator) -> None:
    validator.validate(provider.token())  # the key set is cached now
    provider.keys["k2"] = new_key()
    try:
        assert validator.validate(provider.token(kid="k2"))["iss"] == provider.issuer
    finally:
        del provider.keys["k2"]


def test_the_discovery_document_must_name_the_configured_issuer(provider: Provider) -> None:
    wrong = OidcValidator(provider.config(issuer=provider.issuer + "/"), cooldown=0)
    with pytest.raises(OidcError, match="says its issuer is"):
        wrong.validate(provider.token())


def test_provider_urls_must_be_https_except_on_loopback(provider: Provider) -> None:
    with pytest.raises(ValueError, match="must be https"):
        provider.config(issuer="http://login.example.org/tenant")
    assert provider.config(issuer="https://login.microsoftonline.com/t/v2.0").issuer.startswith("https://")


def test_groups_map_to_one_role_and_a_remit(provider: Provider) -> None:
    cfg = provider.config()
    grant = grant_for({"groups": [OFFICERS, ASHBURY]}, cfg)
    assert grant.role is Role.PLACEMENT_OFFICER
    assert grant.remit == Remit(frozenset({"L001"}), frozenset({"LA-L001"}))
    assert grant_for({"groups": [OFFICERS]}, cfg).remit == Remit()
    with pytest.raises(OidcError, match="no mapped role"):
        grant_for({"groups": [ASHBURY]}, cfg)
    with pytest.raises(OidcError, match="no mapped role"):
        grant_for({}, cfg)
    with pytest.raises(OidcError, match="more than one mapped role"):
        grant_for({"groups": [OFFICERS, FOSTERING]}, cfg)
    with pytest.raises(OidcError, match="overage"):
        grant_for({"_claim_names": {"groups": "src1"}}, cfg)


def test_sign_in_provisions_an_account_that_follows_the_groups(
    engine: Engine, provider: Provider, validator: OidcValidator
) -> None:
    with engine.begin() as conn:
        who = sign_in_oidc(conn, provider.token(), validator, "10.0.0.1")
    assert isinstance(who, Principal)
    assert (who.username, who.role, who.method) == ("alice@ashbury.example", Role.PLACEMENT_OFFICER, "oidc")
    assert who.scope().la_codes == {"L001"}
    with engine.begin() as conn:
        again = sign_in_oidc(conn, provider.token(groups=[FOSTERING]), validator, "10.0.0.1")
        assert isinstance(again, Principal)
        assert again.user_id == who.user_id
        assert again.role is Role.FOSTERING_OFFICER
        assert again.scope().la_codes == frozenset()
        user = get_user(conn, "alice@ashbury.example")
        actions = [e.action for e in reversed(recent_entries(conn))]
        assert verify(conn) is None
    assert user is not None
    assert user.external_id == f"{provider.issuer}|00000000-0000-0000-0000-000000000001"
    assert not user.has_password
    assert actions == ["user.create", "sign_in", "user.update", "sign_in"]


def test_unknown_unmapped_disabled_and_forged_are_refused(
    engine: Engine, provider: Provider, validator: OidcValidator
) -> None:
    closed = OidcValidator(provider.config(provision=False), cooldown=0)
    with engine.begin() as conn:
        assert sign_in_oidc(conn, provider.token(), closed, "a") is Refusal.NOT_AUTHORISED
        assert sign_in_oidc(conn, provider.token(groups=[ASHBURY]), validator, "a") is Refusal.NOT_AUTHORISED
        assert sign_in_oidc(conn, provider.token(key=new_key()), validator, "a") is Refusal.INVALID
        create_user(
            conn,
            username="bob",
            role="auditor",
            remit=Remit(),
            actor=ADMIN,
            external_id=f"{provider.issuer}|oid-bob",
        )
        assert isinstance(sign_in_oidc(conn, provider.token(oid="oid-bob"), closed, "a"), Principal)
        disable_user(conn, "bob", actor=ADMIN)
        assert sign_in_oidc(conn, provider.token(oid="oid-bob"), closed, "a") is Refusal.NOT_AUTHORISED
        # a provisioned name that another account already has is not taken over
        create_user(conn, username="carol", role="administrator", remit=Remit(), actor=ADMIN)
        taken = provider.token(oid="oid-carol-elsewhere", preferred_username="carol")
        assert sign_in_oidc(conn, taken, validator, "a") is Refusal.NOT_AUTHORISED
        refused = [e.detail for e in recent_entries(conn) if e.action == "sign_in" and e.outcome == "refused"]
    assert any("unknown user" in (d or "") for d in refused)
    assert any("no mapped role" in (d or "") for d in refused)
    assert any("Signature" in (d or "") for d in refused)
    assert any("account disabled" in (d or "") for d in refused)
    assert any("already exists" in (d or "") for d in refused)


def test_the_mapping_is_read_from_yaml_or_json(tmp_path: Path, provider: Provider) -> None:
    path = tmp_path / "sso.json"
    path.write_text(json.dumps({"issuer": provider.issuer, "audience": [AUDIENCE], "roles": {"g": "auditor"}}))
    assert load_oidc_config(path).roles == {"g": Role.AUDITOR}
    bad = tmp_path / "sso.yaml"
    bad.write_text("issuer: https://x.example\naudience: []\nroles: {g: wizard}\n")
    with pytest.raises(OidcConfigError, match="audience") as caught:
        load_oidc_config(bad)
    assert "roles.g" in str(caught.value)


# The pages' sign-in: the library's parts of the authorization-code flow (the whole flow is in tests/api/test_sign_on.py).


def test_pkce_challenge_is_rfc_7636s_example() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def _sign_on(provider: Provider, **over: Any) -> PagesSignOn:
    config = provider.config(client_id=CLIENT_ID, **over)
    return PagesSignOn(OidcValidator(config, cooldown=0), CLIENT_SECRET, "a-signing-secret-of-the-service-0123")


def test_the_flow_cookie_cannot_be_changed_forged_or_kept(provider: Provider) -> None:
    sign_on = _sign_on(provider)
    flow = sign_on.begin("/pages/waiting?on=2026-04-01", now=1000)
    assert len({flow.state, flow.nonce, flow.verifier}) == 3
    assert 43 <= len(flow.verifier) <= 128
    sealed = sign_on.seal(flow)
    assert sign_on.unseal(sealed, now=1001) == flow
    assert CLIENT_SECRET not in sealed
    assert CLIENT_SECRET not in repr(sign_on)
    assert sign_on.unseal(sealed, now=1000 + sign_on.flow_seconds) is None  # expired
    payload, mac = sealed.split(".")
    changed = _b64(json.dumps({**json.loads(base64.urlsafe_b64decode(payload + "==")), "p": "//evil"}).encode())
    assert sign_on.unseal(changed + "." + mac, now=1001) is None
    other = PagesSignOn(sign_on.validator, CLIENT_SECRET, "another-services-signing-secret-0123")
    assert other.unseal(sealed, now=1001) is None
    assert sign_on.unseal("", now=1001) is None
    assert sign_on.unseal("x.y.z", now=1001) is None
    assert sign_on.unseal("!!!." + mac, now=1001) is None


def test_a_state_is_claimed_once(provider: Provider) -> None:
    sign_on = _sign_on(provider)
    flow = sign_on.begin("/pages/home")
    assert sign_on.claim(flow)
    assert not sign_on.claim(flow)
    assert sign_on.claim(sign_on.begin("/pages/home"))


def test_the_authorization_url_carries_the_flow(provider: Provider) -> None:
    sign_on = _sign_on(provider)
    flow = sign_on.begin("/pages/home")
    url = sign_on.authorization_url(flow, "https://matching.example/pages/sign-in/oidc/callback")
    base, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query))
    assert base == provider.issuer + "/authorize"
    assert params == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "https://matching.example/pages/sign-in/oidc/callback",
        "scope": "openid profile email",
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": pkce_challenge(flow.verifier),
        "code_challenge_method": "S256",
        "response_mode": "query",
    }


def test_an_id_token_is_for_the_client_and_this_nonce(provider: Provider) -> None:
    validator = OidcValidator(provider.config(client_id=CLIENT_ID), cooldown=0)
    assert validator.validate(provider.token(aud=CLIENT_ID, nonce="n-1"), nonce="n-1")["nonce"] == "n-1"
    with pytest.raises(OidcError, match="nonce is not"):
        validator.validate(provider.token(aud=CLIENT_ID, nonce="n-2"), nonce="n-1")
    with pytest.raises(OidcError, match="MissingRequiredClaim"):
        validator.validate(provider.token(aud=CLIENT_ID), nonce="n-1")
    with pytest.raises(OidcError, match="Audience"):  # an access token for the API is not an ID token
        validator.validate(provider.token(nonce="n-1"), nonce="n-1")
    with pytest.raises(OidcError, match="another party"):
        validator.validate(provider.token(aud=[CLIENT_ID, "other"], nonce="n-1"), nonce="n-1")
    with pytest.raises(OidcError, match="another party"):
        validator.validate(provider.token(aud=CLIENT_ID, azp="other", nonce="n-1"), nonce="n-1")
    with pytest.raises(OidcError, match="no client_id"):
        OidcValidator(provider.config(), cooldown=0).validate(provider.token(aud=CLIENT_ID, nonce="n"), nonce="n")


def test_the_configuration_of_the_pages_sign_in(provider: Provider) -> None:
    with pytest.raises(ValueError, match="openid"):
        provider.config(scopes=["profile"])
    with pytest.raises(ValueError, match="must be https"):
        provider.config(redirect_uri="http://matching.example/pages/sign-in/oidc/callback")
    with pytest.raises(ValueError, match="client_id"):
        PagesSignOn(OidcValidator(provider.config()), CLIENT_SECRET, "s")
    with pytest.raises(ValueError, match="client secret"):
        PagesSignOn(OidcValidator(provider.config(client_id=CLIENT_ID)), "", "s")
