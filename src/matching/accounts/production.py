"""The start-up check for production: the API calls :func:`check_production` with its settings and refuses to
start on any problem.  Pure logic: no settings object, no store."""

from __future__ import annotations

from collections.abc import Collection

from matching.accounts.demo import is_production

#: The signing secret a development setup ships with; production must set its own.
DEFAULT_SIGNING_SECRET = "development-only-signing-secret-change-me"
MIN_SECRET_LENGTH = 32
SIGN_IN_METHODS = frozenset({"password", "oidc"})


class ProductionConfigError(RuntimeError):
    """The service is configured for production but not ready for it; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("refusing to start in production: " + "; ".join(problems))
        self.problems = problems


def production_problems(
    *,
    environment: str,
    signing_secret: str | None,
    sign_in_methods: Collection[str],
    allowed_hosts: Collection[str],
    demo_accounts: Collection[str] = (),
    oidc_client_id: str | None = None,
    oidc_client_secret: str | None = None,
) -> list[str]:
    """What stops these settings from running in production (empty when ready, or not production).

    ``oidc_client_id`` is the single sign-on configuration's client id (the pages' sign-in), which needs
    ``oidc_client_secret``."""
    if not is_production(environment):
        return []
    problems = []
    if not signing_secret or signing_secret == DEFAULT_SIGNING_SECRET:
        problems.append("set a signing secret of your own (not the development default)")
    elif len(signing_secret) < MIN_SECRET_LENGTH:
        problems.append(f"the signing secret needs at least {MIN_SECRET_LENGTH} characters")
    methods = {m.strip().lower() for m in sign_in_methods if m.strip()}
    if not methods:
        problems.append("configure a sign-in method (password or oidc)")
    elif unknown := sorted(methods - SIGN_IN_METHODS):
        problems.append(f"unknown sign-in method {', '.join(unknown)}")
    if "oidc" in methods and oidc_client_id and not oidc_client_secret:
        problems.append(
            "single sign-on at the pages (client_id) needs its client secret in MATCHING_OIDC_CLIENT_SECRET"
        )
    if methods == {"oidc"} and not oidc_client_id:
        problems.append(
            "with single sign-on as the only method, the pages need its client_id in MATCHING_OIDC_CONFIG "
            "(otherwise nobody can sign in at the pages)"
        )
    hosts = [h.strip() for h in allowed_hosts if h.strip()]
    if not hosts:
        problems.append("list the allowed hosts")
    elif any(h == "*" for h in hosts):
        problems.append("the allowed hosts may not be '*'")
    if demo_accounts:
        problems.append(f"disable the demonstration accounts ({', '.join(sorted(demo_accounts))})")
    return problems


def check_production(
    *,
    environment: str,
    signing_secret: str | None,
    sign_in_methods: Collection[str],
    allowed_hosts: Collection[str],
    demo_accounts: Collection[str] = (),
    oidc_client_id: str | None = None,
    oidc_client_secret: str | None = None,
) -> None:
    """Raise :class:`ProductionConfigError` listing every problem if production settings are not ready."""
    problems = production_problems(
        environment=environment,
        signing_secret=signing_secret,
        sign_in_methods=sign_in_methods,
        allowed_hosts=allowed_hosts,
        demo_accounts=demo_accounts,
        oidc_client_id=oidc_client_id,
        oidc_client_secret=oidc_client_secret,
    )
    if problems:
        raise ProductionConfigError(problems)
