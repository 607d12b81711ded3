"""What a caller may see: the local authorities and fostering agencies in its remit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """The caller's remit, passed to every store query.

    ``la_codes`` limits children (by responsible authority); ``agency_codes`` limits carer
    households (by approving agency).  ``None`` means no limit: only for administrative jobs
    (import, generation, national sufficiency runs), never for an ordinary user.
    """

    la_codes: frozenset[str] | None = None
    agency_codes: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Scope:
        """No limit (administrative use)."""
        return cls()

    @classmethod
    def for_local_authority(cls, la_code: str, agency_codes: frozenset[str] | None = None) -> Scope:
        """One authority's children, and the given agencies' households (all when None)."""
        return cls(la_codes=frozenset({la_code}), agency_codes=agency_codes)

    def sees_child(self, la_code: str) -> bool:
        """True if a child of ``la_code`` is in remit."""
        return self.la_codes is None or la_code in self.la_codes

    def sees_household(self, agency_code: str) -> bool:
        """True if a household of ``agency_code`` is in remit."""
        return self.agency_codes is None or agency_code in self.agency_codes

    def narrowed(self, *, la_codes: Iterable[str] | None = None, agency_codes: Iterable[str] | None = None) -> Scope:
        """This scope limited further to ``la_codes`` and ``agency_codes`` (None: no further limit on that side).

        The result is the intersection, so it never sees more than this scope: narrowing a user's scope to an
        area gives the part of the area in their remit."""

        def meet(mine: frozenset[str] | None, more: Iterable[str] | None) -> frozenset[str] | None:
            if more is None:
                return mine
            wanted = frozenset(more)
            return wanted if mine is None else mine & wanted

        return Scope(la_codes=meet(self.la_codes, la_codes), agency_codes=meet(self.agency_codes, agency_codes))
