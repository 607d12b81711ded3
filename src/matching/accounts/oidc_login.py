"""The pages' single sign-on: OpenID Connect's authorization-code flow with PKCE (S256), state and nonce.

1. :meth:`PagesSignOn.begin` draws a :class:`LoginFlow` (random state, nonce and PKCE verifier, the page to go to
   afterwards, ten minutes to finish).  The API keeps it in a short-lived cookie (``HttpOnly``, ``SameSite=Lax``),
   sealed by :meth:`PagesSignOn.seal` (HMAC-SHA256 with the service's signing secret, so it cannot be forged or
   changed), and sends the browser to :meth:`PagesSignOn.authorization_url` (the provider's
   ``authorization_endpoint`` from its discovery document).
2. At the callback, :meth:`PagesSignOn.unseal` reads the cookie back (None when missing, changed or expired); the
   ``state`` the provider sends back must be the flow's, and :meth:`PagesSignOn.claim` lets each state through
   once (in this process: across processes, the provider's one-time code refuses a replay at the token
   endpoint).
3. :meth:`PagesSignOn.redeem` exchanges the code at the provider's ``token_endpoint`` (with the PKCE verifier and
   the client secret) for the ID token, which :func:`matching.accounts.oidc.sign_in_oidc` checks with
   ``nonce=flow.nonce`` (signature against the provider's keys, issuer, audience = the client id, expiry, nonce)
   and maps to a principal.

The client secret is kept out of every message, log and ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx

from matching.accounts.oidc import OidcError, OidcValidator

#: Seconds a person has to finish signing in at the provider.
FLOW_SECONDS = 600
#: The callback's path on this service.
CALLBACK_PATH = "/pages/sign-in/oidc/callback"
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class ProviderUnavailableError(OidcError):
    """The provider could not be reached, or answered with a server error."""


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636: base64url of its SHA-256, no padding)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def error_code(value: str | None) -> str:
    """A provider's ``error`` parameter as safe to record (its code only, or ``unknown``)."""
    return value if value is not None and _ERROR_CODE.fullmatch(value) else "unknown"


@dataclass(frozen=True, slots=True)
class LoginFlow:
    """One sign-in in progress: what the callback must see again."""

    state: str
    nonce: str = field(repr=False)
    verifier: str = field(repr=False)
    next_path: str
    expires_at: int

    @property
    def challenge(self) -> str:
        """The PKCE code challenge sent to the authorization endpoint."""
        return pkce_challenge(self.verifier)


class PagesSignOn:
    """The pages' sign-in with one provider: the flow's cookie, the redirect, the code exchange.

    ``signing_secret`` seals the flow's cookie; ``client_secret`` authenticates this service at the token
    endpoint.  ``transport`` (tests) replaces httpx's network transport."""

    def __init__(
        self,
        validator: OidcValidator,
        client_secret: str,
        signing_secret: str,
        *,
        timeout: float = 10.0,
        flow_seconds: int = FLOW_SECONDS,
        max_claimed: int = 10_000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if validator.config.client_id is None:
            raise ValueError("the pages' sign-in needs client_id in the single sign-on configuration")
        if not client_secret:
            raise ValueError("the pages' sign-in needs the client secret")
        self.validator = validator
        self.client_id: str = validator.config.client_id
        self.timeout = timeout
        self.flow_seconds = flow_seconds
        self.max_claimed = max_claimed
        self._client_secret = client_secret
        self._seal_key = hmac.new(signing_secret.encode("utf-8"), b"oidc flow cookie v1", hashlib.sha256).digest()
        self._transport = transport
        self._claimed: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PagesSignOn(issuer={self.validator.config.issuer!r}, client_id={self.client_id!r})"

    @property
    def provider_name(self) -> str:
        """What the sign-in page calls the provider."""
        return self.validator.config.provider_name

    def begin(self, next_path: str, *, now: float | None = None) -> LoginFlow:
        """A new flow (fresh random state, nonce and verifier) that returns to ``next_path`` (already checked to
        be a path on this site)."""
        at = int(time.time() if now is None else now)
        return LoginFlow(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters of the unreserved set (RFC 7636: 43 to 128)
            next_path=next_path,
            expires_at=at + self.flow_seconds,
        )

    def authorization_url(self, flow: LoginFlow, redirect_uri: str) -> str:
        """Where to send the browser: the provider's authorization endpoint with the flow's parameters."""
        endpoint = self.validator.endpoint("authorization_endpoint")
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.validator.config.scopes),
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": flow.challenge,
                "code_challenge_method": "S256",
                "response_mode": "query",
            }
        )
        return endpoint + ("&" if urllib.parse.urlsplit(endpoint).query else "?") + query

    def _mac(self, payload: bytes) -> str:
        return _b64(hmac.new(self._seal_key, payload, hashlib.sha256).digest())

    def seal(self, flow: LoginFlow) -> str:
        """The flow as a cookie value that cannot be forged or changed without the signing secret."""
        payload = _b64(
            json.dumps(
                {"s": flow.state, "n": flow.nonce, "v": flow.verifier, "p": flow.next_path, "e": flow.expires_at},
                separators=(",", ":"),
            ).encode("utf-8")
        )
        return payload + "." + self._mac(payload.encode("ascii"))

    def unseal(self, value: str | None, *, now: float | None = None) -> LoginFlow | None:
        """The flow a cookie holds, or None when it is missing, changed, forged or expired."""
        if not value or len(value) > 4096 or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(self._mac(payload.encode("ascii", "replace")), mac):
            return None
        try:
            raw: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        fields = (raw.get("s"), raw.get("n"), raw.get("v"), raw.get("p"))
        expires = raw.get("e")
        if not all(isinstance(f, str) for f in fields) or not isinstance(expires, int):
            return None
        if expires <= (time.time() if now is None else now):
            return None
        state, nonce, verifier, next_path = (str(f) for f in fields)
        return LoginFlow(state, nonce, verifier, next_path, expires)

    def claim(self, flow: LoginFlow, *, now: float | None = None) -> bool:
        """True the first time a flow's state comes back to this process; False for a replay."""
        at = time.time() if now is None else now
        with self._lock:
            while self._claimed and next(iter(self._claimed.values())) <= at:
                self._claimed.popitem(last=False)  # expired flows: their cookies are refused anyway
            if flow.state in self._claimed:
                return False
            self._claimed[flow.state] = flow.expires_at
            while len(self._claimed) > self.max_claimed:
                self._claimed.popitem(last=False)
            return True

    def redeem(self, code: str, flow: LoginFlow, redirect_uri: str) -> str:
        """The ID token the provider's token endpoint gives for ``code`` (with the flow's PKCE verifier);
        :class:`OidcError` when refused, :class:`ProviderUnavailableError` when the provider cannot answer."""
        try:
            endpoint = self.validator.endpoint("token_endpoint")
        except OidcError as exc:
            raise ProviderUnavailableError(str(exc)) from exc
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": flow.verifier,
        }
        auth: httpx.BasicAuth | None = None
        if self.validator.config.token_endpoint_auth_method == "client_secret_basic":
            # RFC 6749 2.3.1: the id and secret are form-encoded before they go into the Basic header.
            auth = httpx.BasicAuth(_form_encode(self.client_id), _form_encode(self._client_secret))
        else:
            form |= {"client_id": self.client_id, "client_secret": self._client_secret}
        try:
            with httpx.Client(
                auth=auth, timeout=self.timeout, follow_redirects=False, transport=self._transport
            ) as client:
                response = client.post(endpoint, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:  # the message names the address, never the form
            raise ProviderUnavailableError(f"cannot reach the token endpoint ({exc.__class__.__name__})") from None
        if response.status_code >= 500:
            raise ProviderUnavailableError(f"the token endpoint answered {response.status_code}")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OidcError(f"the token endpoint answered {response.status_code} without a JSON object")
        if response.status_code != 200:
            raise OidcError(f"the token endpoint refused the code: {error_code(body.get('error'))}")
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise OidcError("the token endpoint gave no ID token")
        return id_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _form_encode(value: str) -> str:
    return urllib.parse.quote_plus(value, safe="")
