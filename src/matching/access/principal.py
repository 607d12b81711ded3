"""Who is asking: the signed-in person (a :class:`Principal`), their remit, and the one permission check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from matching.access.roles import ROLE_PERMISSIONS, Permission, Role
from matching.domain import Scope

#: How a principal proved who they are (a page session keeps the method it was opened with).
Method = Literal["password", "token", "oidc"]


class NotSignedInError(PermissionError):
    """No principal: nobody is signed in (the API answers 401)."""


class AccessDeniedError(PermissionError):
    """The principal lacks the permission asked for (the API answers 403)."""

    def __init__(self, principal: Principal, permission: Permission) -> None:
        super().__init__(f"{principal.username} ({principal.role.label}) may not {permission.label}")
        self.principal = principal
        self.permission = permission


@dataclass(frozen=True, slots=True)
class Remit:
    """The local authorities whose children and the agencies whose households someone may see.

    Always two sets (possibly empty): an empty remit sees nothing, and no remit means everything."""

    la_codes: frozenset[str] = frozenset()
    agency_codes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("la_codes", "agency_codes"):
            value = getattr(self, name)
            if not isinstance(value, frozenset) or not all(isinstance(c, str) and c for c in value):
                raise TypeError(f"Remit.{name} must be a frozenset of codes, got {value!r}")

    @classmethod
    def of(cls, la_codes: Iterable[str] = (), agency_codes: Iterable[str] = ()) -> Remit:
        """A remit from any iterables of codes (blank entries dropped)."""
        return cls(
            frozenset(c.strip() for c in la_codes if c and c.strip()),
            frozenset(c.strip() for c in agency_codes if c and c.strip()),
        )

    @property
    def empty(self) -> bool:
        """True when the remit sees nothing."""
        return not self.la_codes and not self.agency_codes


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, as the audit trail records it: a user, or a system job (``user_id`` None)."""

    user_id: int | None
    username: str
    role: str | None

    @classmethod
    def system(cls, name: str) -> Actor:
        """A job or command acting without a signed-in user (e.g. ``cli:alice`` for a shell user)."""
        return cls(None, name, "system")


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person: who they are, their role, their remit and what this credential lets them do.

    ``granted`` narrows the role's permissions (a bearer token's scopes); ``None`` means all of the role's.
    A principal never holds more than its role allows, whatever a token or a caller claims."""

    user_id: int
    username: str
    role: Role
    remit: Remit
    display_name: str = ""
    method: Method = "password"
    granted: frozenset[Permission] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.remit, Remit):
            raise TypeError("Principal.remit must be a Remit")
        object.__setattr__(self, "role", Role(self.role))

    @property
    def permissions(self) -> frozenset[Permission]:
        """What this principal may do: the role's permissions, narrowed by ``granted``."""
        role = ROLE_PERMISSIONS[self.role]
        return role if self.granted is None else role & self.granted

    def scope(self) -> Scope:
        """The principal's remit as the store's :class:`~matching.domain.Scope`: never ``None`` (which means
        everything); an empty remit gives empty sets, which match nothing."""
        return Scope(la_codes=frozenset(self.remit.la_codes), agency_codes=frozenset(self.remit.agency_codes))

    def may(self, permission: Permission) -> bool:
        """True if the principal holds ``permission``."""
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        """The principal as the audit trail records them."""
        return Actor(self.user_id, self.username, self.role.value)


def require(principal: Principal | None, permission: Permission) -> Principal:
    """``principal`` if it holds ``permission``; :class:`NotSignedInError` for no principal, :class:`AccessDeniedError`
    when it lacks the permission."""
    if principal is None:
        raise NotSignedInError(f"sign in to {permission.label}")
    if permission not in principal.permissions:
        raise AccessDeniedError(principal, permission)
    return principal
