"""Roles, permissions and remit: one table, one check, and a remit never widens to everything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.access import (
    ROLE_PERMISSIONS,
    AccessDeniedError,
    NotSignedInError,
    Permission,
    Principal,
    Remit,
    Role,
    require,
)
from matching.domain import Scope

codes = st.frozensets(st.text(alphabet="LAI-0123456789", min_size=1, max_size=8), max_size=4)


def principal(role: Role, remit: Remit | None = None, granted: frozenset[Permission] | None = None) -> Principal:
    return Principal(1, "alice", role, remit or Remit(), granted=granted)


@given(role=st.sampled_from(list(Role)), las=codes, agencies=codes)
def test_a_principal_never_scopes_to_everything(role: Role, las: frozenset[str], agencies: frozenset[str]) -> None:
    scope = principal(role, Remit(las, agencies)).scope()
    assert scope.la_codes is not None
    assert scope.agency_codes is not None
    assert scope.la_codes == las
    assert scope.agency_codes == agencies


def test_no_remit_sees_nothing() -> None:
    scope = principal(Role.PLACEMENT_OFFICER).scope()
    assert scope == Scope(la_codes=frozenset(), agency_codes=frozenset())
    assert not scope.sees_child("L001")
    assert not scope.sees_household("LA-L001")


def test_a_remit_is_always_two_sets_of_codes() -> None:
    with pytest.raises(TypeError):
        Remit(None, frozenset())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Remit(frozenset({""}), frozenset())
    with pytest.raises(TypeError):
        Principal(1, "a", Role.AUDITOR, None)  # type: ignore[arg-type]
    assert Remit.of([" L001", "", "L002"], ["LA-L001"]) == Remit(frozenset({"L001", "L002"}), frozenset({"LA-L001"}))


def test_roles_hold_what_the_issue_says() -> None:
    p = ROLE_PERMISSIONS
    officer = {Permission.READ_CHILDREN, Permission.MATCH, Permission.STEP_DOWN, Permission.DECIDE, Permission.MONITOR}
    assert officer <= p[Role.PLACEMENT_OFFICER]
    assert p[Role.FOSTERING_OFFICER] == {
        Permission.READ_HOUSEHOLDS,
        Permission.READ_REFERRALS,
        Permission.ANSWER_REFERRALS,
    }
    # The named officer decides; they neither send referrals nor assess step-down (issue 20).
    assert p[Role.PLACEMENT_MANAGER] == {
        Permission.READ_CHILDREN,
        Permission.MATCH,
        Permission.DECIDE,
        Permission.MONITOR,
        Permission.READ_HOUSEHOLDS,
    }
    assert p[Role.COMMISSIONING_LEAD] == {Permission.ALLOCATE, Permission.SUFFICIENCY, Permission.MONITOR}
    assert p[Role.AUDITOR] == {Permission.READ_AUDIT}
    assert p[Role.ADMINISTRATOR] == {Permission.MANAGE_USERS, Permission.IMPORT_DATA, Permission.EXPORT_SUBJECT_ACCESS}
    children = {Permission.READ_CHILDREN, Permission.MATCH, Permission.STEP_DOWN, Permission.REFER, Permission.DECIDE}
    for role in (Role.AUDITOR, Role.ADMINISTRATOR, Role.FOSTERING_OFFICER):
        assert not children & p[role], role
    assert set(p) == set(Role)
    for role in Role:
        assert role.label[0].isupper()
        assert role.description
    for perm in Permission:
        assert perm.label


@given(role=st.sampled_from(list(Role)), perm=st.sampled_from(list(Permission)))
def test_require_allows_exactly_the_roles_permissions(role: Role, perm: Permission) -> None:
    who = principal(role)
    if perm in ROLE_PERMISSIONS[role]:
        assert require(who, perm) is who
    else:
        with pytest.raises(AccessDeniedError, match="may not"):
            require(who, perm)


def test_require_without_a_principal_is_not_signed_in() -> None:
    with pytest.raises(NotSignedInError):
        require(None, Permission.READ_CHILDREN)


@given(granted=st.frozensets(st.sampled_from(list(Permission))), role=st.sampled_from(list(Role)))
def test_a_token_narrows_and_never_widens_the_role(granted: frozenset[Permission], role: Role) -> None:
    who = principal(role, granted=granted)
    assert who.permissions == granted & ROLE_PERMISSIONS[role]
    assert principal(role, granted=frozenset()).permissions == frozenset()


def test_the_actor_is_what_the_audit_trail_records() -> None:
    actor = principal(Role.AUDITOR).actor
    assert (actor.user_id, actor.username, actor.role) == (1, "alice", "auditor")
