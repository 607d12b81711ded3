"""Roles and permissions: codes for logic, plain words for people, and the one table joining them."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """Something a signed-in person may do.  Routes ask for one with :func:`matching.access.require`."""

    READ_CHILDREN = "read_children"
    MATCH = "match"
    REFER = "refer"
    DECIDE = "decide"
    MONITOR = "monitor"
    STEP_DOWN = "step_down"
    READ_HOUSEHOLDS = "read_households"
    READ_REFERRALS = "read_referrals"
    ANSWER_REFERRALS = "answer_referrals"
    ALLOCATE = "allocate"
    SUFFICIENCY = "sufficiency"
    READ_AUDIT = "read_audit"
    MANAGE_USERS = "manage_users"
    IMPORT_DATA = "import_data"
    EXPORT_SUBJECT_ACCESS = "export_subject_access"

    @property
    def label(self) -> str:
        """What the permission allows, in plain words."""
        return PERMISSION_LABELS[self]


class Role(StrEnum):
    """A person's job in the service; each role carries a fixed set of permissions (:data:`ROLE_PERMISSIONS`)."""

    PLACEMENT_OFFICER = "placement_officer"
    PLACEMENT_MANAGER = "placement_manager"
    FOSTERING_OFFICER = "fostering_officer"
    COMMISSIONING_LEAD = "commissioning_lead"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        """The role's name for people."""
        return ROLE_LABELS[self][0]

    @property
    def description(self) -> str:
        """What someone in the role does here, in a sentence."""
        return ROLE_LABELS[self][1]

    @property
    def permissions(self) -> frozenset[Permission]:
        """The role's permissions."""
        return ROLE_PERMISSIONS[self]


PERMISSION_LABELS: dict[Permission, str] = {
    Permission.READ_CHILDREN: "see the records of children in their authorities",
    Permission.MATCH: "find and rank carers for a child",
    Permission.REFER: "send and manage referrals for a child",
    Permission.DECIDE: "record the decision a named officer made on a referral, and what happened after",
    Permission.MONITOR: "read how decisions and placements went in their authorities (monitoring)",
    Permission.STEP_DOWN: "assess children in residential care for a move to a family",
    Permission.READ_HOUSEHOLDS: "see the carer households of their agencies",
    Permission.READ_REFERRALS: "see the referrals sent to their agencies",
    Permission.ANSWER_REFERRALS: "record their carers' answers and offers on referrals sent to their agencies, "
    "and confirm changes to their carers' terms",
    Permission.ALLOCATE: "run batch allocations for their authorities",
    Permission.SUFFICIENCY: "run sufficiency plans for their authorities",
    Permission.READ_AUDIT: "read the audit trail",
    Permission.MANAGE_USERS: "add, change and disable user accounts",
    Permission.IMPORT_DATA: "import data files",
    Permission.EXPORT_SUBJECT_ACCESS: "export everything held about a child in their authorities, for a subject access request",
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.PLACEMENT_OFFICER: (
        "Placement officer",
        "Finds placements for an authority's children: matches, referrals and step-down.",
    ),
    Role.PLACEMENT_MANAGER: (
        "Placement manager",
        "Decides as the named officer: compares the offers on a referral, records the decision and agrees the "
        "placement plan.",
    ),
    Role.FOSTERING_OFFICER: (
        "Fostering officer",
        "Looks after an agency's carer households and the referrals sent to it.",
    ),
    Role.COMMISSIONING_LEAD: (
        "Commissioning lead",
        "Plans allocation and sufficiency across their authorities or region.",
    ),
    Role.AUDITOR: ("Auditor", "Reads the audit trail, and nothing else."),
    Role.ADMINISTRATOR: (
        "Administrator",
        "Manages user accounts and imports, and answers subject access requests; never browses children's records.",
    ),
}

#: The one table of who may do what.  A permission not listed for a role is refused.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PLACEMENT_OFFICER: frozenset(
        {
            Permission.READ_CHILDREN,
            Permission.MATCH,
            Permission.REFER,
            Permission.DECIDE,
            Permission.MONITOR,
            Permission.STEP_DOWN,
            Permission.READ_HOUSEHOLDS,
        }
    ),
    Role.PLACEMENT_MANAGER: frozenset(
        {
            Permission.READ_CHILDREN,
            Permission.MATCH,
            Permission.DECIDE,
            Permission.MONITOR,
            Permission.READ_HOUSEHOLDS,
        }
    ),
    Role.FOSTERING_OFFICER: frozenset(
        {Permission.READ_HOUSEHOLDS, Permission.READ_REFERRALS, Permission.ANSWER_REFERRALS}
    ),
    Role.COMMISSIONING_LEAD: frozenset({Permission.ALLOCATE, Permission.SUFFICIENCY, Permission.MONITOR}),
    Role.AUDITOR: frozenset({Permission.READ_AUDIT}),
    Role.ADMINISTRATOR: frozenset({Permission.MANAGE_USERS, Permission.IMPORT_DATA, Permission.EXPORT_SUBJECT_ACCESS}),
}
