"""Single sign-on: tokens checked against a real key set served on loopback (no mock of the validation)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine

from matching.access import Principal, Remit, Role
from matching.accounts.oidc import (
    OidcConfig,
    OidcConfigError,
    OidcError,
    OidcValidator,
    grant_for,
    load_oidc_config,
    sign_in_oidc,
)
from matching.accounts.signin import Refusal
from matching.accounts.users import create_user, disable_user, get_user
from matching.audit import recent_entries, verify
from tests.accounts.conftest import ADMIN

AUDIENCE = "api://placement-matching"
OFFICERS, FOSTERING, ASHBURY = "grp-officers", "grp-fostering", "grp-ashbury"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    """An OpenID provider on 127.0.0.1: discovery document and key set over real HTTP, tokens signed with a real
    RSA key."""

    def __init__(self) -> None:
        self.key = _key()
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": self.key}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/keys"}
                elif self.path == "/keys":
                    body = {"keys": [provider.jwk(kid, k) for kid, k in provider.keys.items()]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**out, "kid": kid, "use": "sig", "alg": "RS256"}

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "subject-1",
            "oid": "00000000-0000-0000-0000-000000000001",
            "preferred_username": "Alice@Ashbury.example",
            "name": "Alice Example",
            "groups": [OFFICERS, ASHBURY, "grp-unrelated"],
            "iat": now,
            "nbf": now - 5,
            "exp": now + 600,
        }
        base.update(over)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, kid: str = "k1", key: rsa.RSAPrivateKey | None = None, **over: Any) -> str:
        return jwt.encode(self.claims(**over), key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def config(self, **over: Any) -> OidcConfig:
        raw: dict[str, Any] = {
            "issuer": self.issuer,
            "audience": [AUDIENCE],
            "subject_claim": "oid",
            "provision": True,
            "roles": {OFFICERS: "placement_officer", FOSTERING: "fostering_officer"},
            "remit": {ASHBURY: {"la": ["L001"], "agencies": ["LA-L001"]}},
        }
        raw.update(over)
        return OidcConfig.model_validate(raw)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
        (lambda p: p.token(key=_key()), "Signature"),
        (lambda p: p.token(iss="https://login.example.org/other"), "Issuer"),
        (lambda p: p.token(aud="api://someone-else"), "Audience"),
        (lambda p: p.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "Expired"),
        (lambda p: p.token(nbf=int(time.time()) + 3600), "ImmatureSignature"),
        (lambda p: p.token(kid="k9", key=_key()), "no published key 'k9'"),
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
    provider.keys["k2"] = _key()
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
        assert sign_in_oidc(conn, provider.token(key=_key()), validator, "a") is Refusal.INVALID
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
