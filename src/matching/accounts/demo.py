"""Demonstration accounts for development: one per role for the bundled authority, with known passwords.

The bundled synthetic authority is ``L001`` (Ashbury) with its in-house fostering service ``LA-L001``
and the independent agencies of its region, ``IFA001`` and ``IFA002`` (``matching.synth.geography``): the
households a placement officer of the authority may match its children with.  Never in production: :func:`seed_demo_accounts` refuses there, and
:func:`demo_accounts_enabled` lets a production start-up check refuse a store that holds any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from matching.access import Actor, Remit, Role
from matching.accounts.users import create_user, get_user

BUNDLED_LA = "L001"
BUNDLED_AGENCY = "LA-L001"
#: The independent fostering agencies of the bundled authority's region in the generated data.
BUNDLED_IFAS = ("IFA001", "IFA002")


class DemoAccountsRefusedError(RuntimeError):
    """Demonstration accounts asked for in production."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demonstration account and its development password."""

    username: str
    role: Role
    remit: Remit
    display_name: str
    password: str = field(repr=False)


#: The bundled authority's children, and the households of its own service and its region's agencies.
_BUNDLED = Remit(frozenset({BUNDLED_LA}), frozenset({BUNDLED_AGENCY, *BUNDLED_IFAS}))
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("demo.placement", Role.PLACEMENT_OFFICER, _BUNDLED, "Demo placement officer", "demo-placement-officer"),
    DemoAccount("demo.manager", Role.PLACEMENT_MANAGER, _BUNDLED, "Demo placement manager", "demo-placement-manager"),
    # An independent agency's officer: sees only the referrals sent to IFA001, and its own households.
    DemoAccount(
        "demo.agency",
        Role.FOSTERING_OFFICER,
        Remit(frozenset(), frozenset({BUNDLED_IFAS[0]})),
        "Demo agency officer",
        "demo-agency-officer",
    ),
    DemoAccount(
        "demo.fostering",
        Role.FOSTERING_OFFICER,
        Remit(frozenset(), frozenset({BUNDLED_AGENCY})),
        "Demo fostering officer",
        "demo-fostering-officer",
    ),
    DemoAccount(
        "demo.commissioning", Role.COMMISSIONING_LEAD, _BUNDLED, "Demo commissioning lead", "demo-commissioning-lead"
    ),
    # The auditor reads the trail of the bundled authority's children; the administrator answers its subject
    # access requests (and sees no child's records otherwise).
    DemoAccount("demo.auditor", Role.AUDITOR, Remit(frozenset({BUNDLED_LA})), "Demo auditor", "demo-auditor-password"),
    DemoAccount(
        "demo.admin", Role.ADMINISTRATOR, Remit(frozenset({BUNDLED_LA})), "Demo administrator", "demo-administrator"
    ),
)


def is_production(environment: str) -> bool:
    """True for the production environment (any case, spaces ignored)."""
    return environment.strip().lower() in ("production", "prod")


def seed_demo_accounts(
    conn: Connection, *, environment: str, actor: Actor, now: datetime | None = None
) -> list[DemoAccount]:
    """Create the demonstration accounts that do not exist yet (audited); the ones created.  Refuses in
    production (:class:`DemoAccountsRefusedError`).  Existing accounts are left as they are."""
    if is_production(environment):
        raise DemoAccountsRefusedError("demonstration accounts are never created in production")
    created = []
    for demo in DEMO_ACCOUNTS:
        if get_user(conn, demo.username) is None:
            create_user(
                conn,
                username=demo.username,
                role=demo.role,
                remit=demo.remit,
                actor=actor,
                display_name=demo.display_name,
                password=demo.password,
                now=now,
            )
            created.append(demo)
    return created


def demo_accounts_enabled(conn: Connection) -> list[str]:
    """The demonstration accounts present and not disabled (a production store should hold none)."""
    return [d.username for d in DEMO_ACCOUNTS if (u := get_user(conn, d.username)) is not None and not u.disabled]
