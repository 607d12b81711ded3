"""What a caller may see: the local authorities and fostering agencies in its remit."""

from __future__ import annotations

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
