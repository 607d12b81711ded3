"""Single sign-on with OpenID Connect (in production, Microsoft Entra ID).

A token from the provider is accepted only if its signature verifies against a key the provider publishes
(its JWKS, found through ``/.well-known/openid-configuration`` and fetched and cached by PyJWT's
``PyJWKClient``) with an asymmetric algorithm we allow (RS256 by default: never ``none``, never HMAC), and its
issuer, audience, expiry and not-before hold.  Who the person is *here* comes from configuration: the
provider's groups (or app roles) map to one role and to authority and agency codes.  A person with no mapped
role, or none of our accounts (unless the configuration provisions them), is refused.

Configuration (YAML or JSON), for Entra ID::

    issuer: https://login.microsoftonline.com/<tenant-id>/v2.0
    audience: [<application-client-id>]
    subject_claim: oid            # Entra's stable object id (``sub`` differs per application)
    username_claim: preferred_username
    groups_claim: groups          # or ``roles`` for app roles
    provision: true               # create an account on first sign-in
    roles:
      <group-object-id>: placement_officer
    remit:
      <group-object-id>: {la: [L001], agencies: [LA-L001]}
    # The pages' sign-in (authorization-code flow, see ``matching.accounts.oidc_login``); leave out for API
    # bearer tokens only.  The client secret is never in this file: MATCHING_OIDC_CLIENT_SECRET.
    client_id: <application-client-id>
    provider_name: Microsoft Entra ID
    redirect_uri: https://matching.example.gov.uk/pages/sign-in/oidc/callback
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, select, update

from matching.access import Actor, Principal, Remit, Role
from matching.accounts.signin import Refusal
from matching.accounts.users import User, create_user, get_user_by_id, now_utc, update_user
from matching.audit import REFUSED, AuditEntry, append
from matching.store import schema as s
from matching.yaml_config import load_yaml_model

#: Asymmetric algorithms a provider may sign with.  ``none`` and the HMAC family are never accepted: a public
#: key must not be usable as a shared secret.
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})


class OidcConfigError(ValueError):
    """The single sign-on configuration is missing or wrong."""


class OidcError(ValueError):
    """A token was refused (the message says why, for the audit trail; never show it to the person)."""


class GroupRemit(BaseModel):
    """The authorities and agencies a group's members may see."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    la: list[str] = Field(default_factory=list)
    agencies: list[str] = Field(default_factory=list)


class OidcConfig(BaseModel):
    """The provider, what its tokens must say, and how its groups map to roles and remits here."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    issuer: str
    audience: list[str] = Field(min_length=1)
    jwks_uri: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    leeway_seconds: int = Field(default=60, ge=0, le=300)
    subject_claim: str = "sub"
    username_claim: str = "preferred_username"
    name_claim: str = "name"
    groups_claim: str = "groups"
    provision: bool = False
    roles: dict[str, Role] = Field(default_factory=dict)
    remit: dict[str, GroupRemit] = Field(default_factory=dict)
    #: The pages' sign-in: the application (client) id registered with the provider, the audience its ID tokens
    #: carry.  None: single sign-on for API bearer tokens only.
    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    #: What the sign-in page calls the provider ("Sign in with <provider_name>").
    provider_name: str = Field(default="your organisation's account", min_length=1, max_length=80)
    #: The callback address registered with the provider.  None: this service's own address, as the request came
    #: in, followed by ``/pages/sign-in/oidc/callback`` (set it when a proxy in front changes scheme or host).
    redirect_uri: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    #: How the service proves itself at the token endpoint (both with the client secret).
    token_endpoint_auth_method: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("the scopes must include openid")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in ASYMMETRIC]
        if bad:
            raise ValueError(f"only asymmetric algorithms may be allowed, not {', '.join(bad)}")
        return value

    @field_validator("issuer", "jwks_uri", "redirect_uri")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is not None:
            _check_url(value)
        return value


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ValueError(f"{url!r} must be https (plain http only on loopback, for tests)")


def load_oidc_config(path: Path) -> OidcConfig:
    """The single sign-on configuration in ``path`` (YAML or JSON); :class:`OidcConfigError` naming every problem."""
    return load_yaml_model(path, OidcConfig, OidcConfigError, "single sign-on configuration")


@dataclass(frozen=True, slots=True)
class Grant:
    """What the provider's groups give someone here."""

    role: Role
    remit: Remit


class OidcValidator:
    """Checks tokens from one provider.  Keys are fetched on first use and cached; an unknown key id fetches the
    key set again (the provider rotated keys), at most once per ``cooldown`` seconds."""

    def __init__(self, config: OidcConfig, *, timeout: float = 5.0, cooldown: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        self.cooldown = cooldown
        self._client: jwt.PyJWKClient | None = None
        self._metadata: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (``issuer/.well-known/openid-configuration``), read once and kept;
        :class:`OidcError` when it cannot be read or names another issuer."""
        if self._metadata is not None:
            return self._metadata
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                metadata = json.loads(response.read(1_000_000))
        except (OSError, ValueError) as exc:
            raise OidcError(f"cannot read the provider's configuration at {url}: {exc}") from exc
        if not isinstance(metadata, dict):
            raise OidcError(f"the provider's configuration at {url} is not a JSON object")
        if metadata.get("issuer") != self.config.issuer:
            raise OidcError(f"the provider at {url} says its issuer is {metadata.get('issuer')!r}")
        self._metadata = metadata
        return metadata

    def endpoint(self, name: str) -> str:
        """An address from the discovery document (``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``),
        https (plain http only on loopback); :class:`OidcError` when missing or not."""
        url = self.metadata().get(name)
        if not isinstance(url, str):
            raise OidcError(f"the provider publishes no {name}")
        try:
            _check_url(url)
        except ValueError as exc:
            raise OidcError(str(exc)) from exc
        return url

    def _discover(self) -> str:
        if self.config.jwks_uri is not None:
            return self.config.jwks_uri
        return self.endpoint("jwks_uri")

    def _keys(self) -> jwt.PyJWKClient:
        if self._client is None:
            self._client = jwt.PyJWKClient(
                self._discover(), cache_keys=True, lifespan=3600, timeout=self.timeout, cooldown_duration=self.cooldown
            )
        return self._client

    def validate(self, token: str, *, nonce: str | None = None) -> dict[str, Any]:
        """The token's claims if it is genuine and current; :class:`OidcError` saying why not otherwise.

        Without ``nonce``, an access token for the API (audience: the configured ``audience``).  With ``nonce``,
        the ID token of the pages' sign-in: issued to ``client_id`` (and, if it names an authorised party, to
        that) for this sign-in's nonce."""
        cfg = self.config
        audience = cfg.audience
        required = ["exp", "iat", "iss", "aud", cfg.subject_claim]
        if nonce is not None:
            if cfg.client_id is None:
                raise OidcError("no client_id is configured for the pages' sign-in")
            audience = [cfg.client_id]
            required.append("nonce")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise OidcError(f"not a token: {exc}") from exc
        alg = header.get("alg")
        if alg not in cfg.algorithms:
            raise OidcError(f"algorithm {alg!r} is not allowed")
        if not isinstance(header.get("kid"), str):
            raise OidcError("the token names no key")
        try:
            key = self._keys().get_signing_key(header["kid"])
        except jwt.PyJWKClientError as exc:
            raise OidcError(f"no published key {header['kid']!r}: {exc}") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=cfg.algorithms,
                audience=audience,
                issuer=cfg.issuer,
                leeway=cfg.leeway_seconds,
                options={"require": required},
            )
        except jwt.InvalidTokenError as exc:
            raise OidcError(f"{exc.__class__.__name__}: {exc}") from exc
        if nonce is not None:
            said = claims.get("nonce")
            if not isinstance(said, str) or not hmac.compare_digest(said.encode(), nonce.encode()):
                raise OidcError("the ID token's nonce is not this sign-in's")
            azp = claims.get("azp")
            several = isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1
            if (azp is not None or several) and azp != cfg.client_id:
                raise OidcError("the ID token was issued to another party (azp)")
        return claims


def grant_for(claims: dict[str, Any], config: OidcConfig) -> Grant:
    """The role and remit the token's groups map to; :class:`OidcError` when none, or more than one role."""
    if config.groups_claim not in claims and config.groups_claim in (claims.get("_claim_names") or {}):
        raise OidcError("too many groups to list in the token (group overage): map app roles instead")
    groups = claims.get(config.groups_claim) or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise OidcError(f"claim {config.groups_claim!r} is not a list of ids")
    roles = {config.roles[g] for g in groups if g in config.roles}
    if not roles:
        raise OidcError("no mapped role")
    if len(roles) > 1:
        raise OidcError(f"more than one mapped role ({', '.join(sorted(r.value for r in roles))})")
    remits = [config.remit[g] for g in groups if g in config.remit]
    remit = Remit.of([c for r in remits for c in r.la], [c for r in remits for c in r.agencies])
    return Grant(roles.pop(), remit)


def audit_refused_sign_in(conn: Connection, why: str, address: str, actor: Actor | None = None) -> None:
    """Record a refused single sign-on (``why`` names no secret and no token; ``actor`` when known)."""
    where = (address or "unknown")[:64]
    entry = AuditEntry(
        actor or Actor(None, "-", None), "sign_in", REFUSED, detail=f"single sign-on: {why}; from {where}"
    )
    append(conn, entry)


def sign_in_oidc(
    conn: Connection,
    token: str,
    validator: OidcValidator,
    address: str,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
) -> Principal | Refusal:
    """The principal for a provider's token, or why not: an access token for the API, or with ``nonce`` the ID
    token of the pages' sign-in (see :meth:`OidcValidator.validate`).

    The account is found by the provider's subject (``issuer|subject``); a new person gets one when the
    configuration provisions, else is refused.  The account's role and remit follow the provider's groups at
    every sign-in.  Audited either way; call inside a transaction that commits either way."""
    cfg = validator.config
    at = now_utc(now)
    where = (address or "unknown")[:64]
    system = Actor.system("oidc")

    def refuse(actor: Actor, why: str, answer: Refusal) -> Refusal:
        audit_refused_sign_in(conn, why, where, actor)
        return answer

    try:
        claims = validator.validate(token, nonce=nonce)
    except OidcError as exc:
        return refuse(Actor(None, "-", None), str(exc)[:300], Refusal.INVALID)
    subject = claims.get(cfg.subject_claim)
    raw_name = claims.get(cfg.username_claim) or subject
    if not isinstance(subject, str) or not subject or not isinstance(raw_name, str):
        return refuse(Actor(None, "-", None), "no subject or username in the token", Refusal.INVALID)
    username = raw_name.strip().lower()[:64]
    external_id = f"{cfg.issuer}|{subject}"
    try:
        grant = grant_for(claims, cfg)
    except OidcError as exc:
        return refuse(Actor(None, username, None), str(exc), Refusal.NOT_AUTHORISED)
    row = conn.execute(select(s.user_account.c.id).where(s.user_account.c.external_id == external_id)).first()
    user: User | None = get_user_by_id(conn, int(row[0])) if row is not None else None
    display = claims.get(cfg.name_claim) if isinstance(claims.get(cfg.name_claim), str) else None
    if user is None:
        if not cfg.provision:
            return refuse(Actor(None, username, None), "unknown user", Refusal.NOT_AUTHORISED)
        try:
            user = create_user(
                conn,
                username=username,
                role=grant.role,
                remit=grant.remit,
                actor=system,
                display_name=display,
                external_id=external_id,
                now=at,
            )
        except ValueError as exc:  # the username is taken by another account, or not valid here
            return refuse(Actor(None, username, None), f"cannot provision: {exc}", Refusal.NOT_AUTHORISED)
    if user.disabled:
        return refuse(Actor(user.id, user.username, user.role.value), "account disabled", Refusal.NOT_AUTHORISED)
    if (user.role, user.remit) != (grant.role, grant.remit) or (display and display != user.display_name):
        user = update_user(
            conn, user.username, actor=system, role=grant.role, remit=grant.remit, display_name=display, now=at
        )
    conn.execute(update(s.user_account).where(s.user_account.c.id == user.id).values(last_sign_in_at=at))
    principal = user.principal("oidc")
    how = "single sign-on at the pages" if nonce is not None else "single sign-on"
    append(conn, AuditEntry(principal.actor, "sign_in", detail=f"{how}; from {where}"))
    return principal
