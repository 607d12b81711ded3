"""The recommendation snapshot: exactly what the service showed for a referral when a decision was made (the
ranking with its scores, explanations and warnings, why the others were ruled out, the model and the fit
weights in use, the data's as-at date), frozen as canonical JSON and addressed by its SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from matching.ranking.explanation import MatchResult

#: The snapshot format (a new format gets a new number; old snapshots keep theirs).  2: the offers on the
#: referral, each with its explanation (or the rules it breaks), and the best-ranked offer.
SNAPSHOT_FORMAT = 2


class SnapshotTamperedError(ValueError):
    """A stored snapshot's content no longer has the hash it was stored under."""


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """The one byte string a payload hashes as: keys sorted, no spaces, UTF-8, no NaN."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the payload's canonical JSON."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def shown_for(payload: Mapping[str, Any], household_id: str) -> dict[str, Any] | None:
    """How a snapshot ``payload`` showed ``household_id``: among the ranked households, or as a ranked offer
    further down; None if it was not ranked."""
    for c in (payload.get("ranking") or {}).get("candidates") or ():
        if c.get("household_id") == household_id:
            return dict(c)
    for o in payload.get("offers") or ():
        if o.get("household_id") == household_id and o.get("explanation") is not None:
            return dict(o["explanation"])
    return None


@dataclass(frozen=True)
class RecommendationSnapshot:
    """A payload and its hash; :meth:`verify` says whether they still agree."""

    payload: Mapping[str, Any]
    sha256: str

    @classmethod
    def of(
        cls,
        result: MatchResult,
        *,
        taken_at: datetime,
        data_as_at: date,
        fit_config_version: int,
        fit_weights: Mapping[str, float],
        offers: Sequence[Mapping[str, Any]] = (),
    ) -> RecommendationSnapshot:
        """The snapshot of a ranking as it was shown (the result as the API answers it, with the versions), and the
        offers on the referral as they were compared (``household_id``, ``agency_code``, ``rank``, ``explanation``
        or ``ruled_out``), best-ranked first."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "taken_at": taken_at.isoformat(),
            "data_as_at": data_as_at.isoformat(),
            "fit_config_version": fit_config_version,
            "fit_weights": {k: float(v) for k, v in sorted(fit_weights.items())},
            "ranking": result.as_dict(),
            "offers": [dict(o) for o in offers],
        }
        # A round trip through JSON makes the payload exactly what the store will hand back.
        plain = json.loads(canonical_json(payload))
        return cls(plain, digest(plain))

    @property
    def referral_id(self) -> str:
        """The referral the ranking answered."""
        return str(self.payload["ranking"]["referral_id"])

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """The ranked households as shown, best first."""
        return list(self.payload["ranking"]["candidates"])

    @property
    def offers(self) -> list[dict[str, Any]]:
        """The offers on the referral as compared, best-ranked first (none in a format 1 snapshot)."""
        return list(self.payload.get("offers", []))

    @property
    def best_offer(self) -> str | None:
        """The best-ranked offer's household, if any offer was ranked."""
        ranked = [o for o in self.offers if o.get("rank") is not None]
        return min(ranked, key=lambda o: (o["rank"], o["household_id"]))["household_id"] if ranked else None

    @property
    def best_ranked(self) -> str | None:
        """The household a decision is measured against: the best-ranked offer when carers offered, else the
        household ranked first (if any was eligible)."""
        if self.offers:
            return self.best_offer
        return self.candidates[0]["household_id"] if self.candidates else None

    def candidate(self, household_id: str) -> dict[str, Any] | None:
        """How ``household_id`` was shown (among the ranked households, or as a ranked offer further down), or
        None if it was not ranked."""
        return shown_for(self.payload, household_id)

    def verify(self) -> None:
        """Raise :class:`SnapshotTamperedError` if the payload does not hash to :attr:`sha256`."""
        if digest(self.payload) != self.sha256:
            raise SnapshotTamperedError(f"recommendation snapshot {self.sha256[:12]} does not match its hash")
