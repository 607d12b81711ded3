"""An OpenID provider on 127.0.0.1 for the single sign-on tests: real HTTP (a threaded ``http.server``), tokens
signed with a real RSA key, no mock of the validation.

It serves the discovery document, the key set, an authorization endpoint that redirects back with a one-time
code (checking the client, the redirect address and the PKCE challenge method), and a token endpoint that
authenticates the client (``client_secret_post`` or ``client_secret_basic``), checks the code, its redirect
address and the PKCE verifier against the challenge, and issues a signed ID token with the authorization
request's nonce.  ``next_claims``, ``next_key`` and ``next_error`` change what the next sign-in gets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from matching.accounts.oidc import OidcConfig

AUDIENCE = "api://placement-matching"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
#: Characters that need form-encoding in a Basic header (RFC 6749 2.3.1), as Entra's secrets may hold.
CLIENT_SECRET = "s3cr~t.with+odd:chars/and=more"
OFFICERS, FOSTERING, ASHBURY = "grp-officers", "grp-fostering", "grp-ashbury"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    """An authorization code the provider handed out, and what it was for."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    claims: dict[str, Any]
    key: rsa.RSAPrivateKey | None
    used: bool = False


class Provider:
    """An OpenID provider on 127.0.0.1 (see the module)."""

    def __init__(self) -> None:
        self.key = new_key()
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": self.key}
        self.grants: dict[str, Grant] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.next_claims: dict[str, Any] = {}
        self.next_key: rsa.RSAPrivateKey | None = None
        self.next_error: str | None = None
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif parts.path == "/keys":
                    self._json(200, {"keys": [provider.jwk(kid, k) for kid, k in provider.keys.items()]})
                elif parts.path == "/authorize":
                    query = dict(urllib.parse.parse_qsl(parts.query))
                    status, location = provider.authorize(query)
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                if urllib.parse.urlsplit(self.path).path != "/token":
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                status, answer = provider.token_endpoint(form, self.headers.get("Authorization"))
                self._json(status, answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        """Forget what the last test asked of the next sign-in."""
        self.next_claims, self.next_key, self.next_error = {}, None, None

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer + "/keys",
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, str | None]:
        """The authorization endpoint: the person is signed in at once; back to the client with a code."""
        self.authorize_requests.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or not redirect_uri.endswith("/pages/sign-in/oidc/callback"):
            return 400, None
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.next_error is not None:
            back["error"] = self.next_error
            back["error_description"] = "AADSTS65004: <b>User declined</b> to consent."
        elif (
            query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or "openid" not in query.get("scope", "").split()
        ):
            back["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(24)
            with self.lock:
                self.grants[code] = Grant(
                    CLIENT_ID,
                    redirect_uri,
                    query.get("nonce"),
                    query["code_challenge"],
                    dict(self.next_claims),
                    self.next_key,
                )
            back["code"] = code
        return 302, redirect_uri + "?" + urllib.parse.urlencode(back)

    def token_endpoint(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The token endpoint: client authenticated, code once, PKCE verifier, then a signed ID token."""
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization is not None and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = urllib.parse.unquote_plus(raw_id), urllib.parse.unquote_plus(raw_secret)
        if client_id != CLIENT_ID or not hmac.compare_digest((secret or "").encode(), CLIENT_SECRET.encode()):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used:
                return 400, {"error": "invalid_grant", "error_description": "the code was used or is unknown"}
            grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or challenge != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        claims: dict[str, Any] = {"aud": CLIENT_ID}
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(grant.claims)
        id_token = self.token(key=grant.key, **claims)
        return 200, {"access_token": "opaque-" + secrets.token_hex(8), "token_type": "Bearer", "id_token": id_token}

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

    def raw_config(self, **over: Any) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "issuer": self.issuer,
            "audience": [AUDIENCE],
            "subject_claim": "oid",
            "provision": True,
            "roles": {OFFICERS: "placement_officer", FOSTERING: "fostering_officer"},
            "remit": {ASHBURY: {"la": ["L001"], "agencies": ["LA-L001"]}},
        }
        raw.update(over)
        return raw

    def config(self, **over: Any) -> OidcConfig:
        return OidcConfig.model_validate(self.raw_config(**over))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
