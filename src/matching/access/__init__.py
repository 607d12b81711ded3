"""Who may do what: roles, permissions, the signed-in :class:`Principal` and :func:`require`.

Pure logic, no store: accounts (``matching.accounts``) build principals, routes call :func:`require` and pass
:meth:`Principal.scope` to every store query.
"""

from matching.access.principal import AccessDeniedError, Actor, Method, NotSignedInError, Principal, Remit, require
from matching.access.roles import PERMISSION_LABELS, ROLE_LABELS, ROLE_PERMISSIONS, Permission, Role

__all__ = [
    "PERMISSION_LABELS",
    "ROLE_LABELS",
    "ROLE_PERMISSIONS",
    "AccessDeniedError",
    "Actor",
    "Method",
    "NotSignedInError",
    "Permission",
    "Principal",
    "Remit",
    "Role",
    "require",
]
