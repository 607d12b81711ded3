"""The stability estimate at matching time: a verified model, the children's records, and the bands.

:func:`load_scorer` returns the scorer, or ``None`` with the reason when no usable model is
there (missing, tampered, other library versions, another taxonomy); matching then ranks on
the rules alone and says so.  It never raises for a model problem.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import Connection

from matching.domain import Scope
from matching.eligibility.request import MatchRequest
from matching.ranking.explanation import StabilityEstimate
from matching.ranking.pool import HouseholdPool
from matching.stability import gate
from matching.stability.artefact import ArtefactError, LoadedModel, load_model
from matching.stability.features import ChildHistory, Records, candidate_features, child_histories, feature_names
from matching.store import queries
from matching.taxonomy import Taxonomy

log = logging.getLogger(__name__)


class StabilityScorer:
    """Scores (child, household) pairs with a loaded model; knows each child's placement record."""

    def __init__(self, loaded: LoadedModel, histories: dict[str, ChildHistory], records: Records) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.histories = histories
        self.records = records
        bands = loaded.metadata.get("bands", [])
        self._edges = np.array([b["p_low"] for b in bands][1:], dtype=float)
        self._bands = bands

    def p_unplanned(self, pool: HouseholdPool, req: MatchRequest, idx: np.ndarray) -> np.ndarray:
        """P(unplanned ending within 12 months) for the request's child with each household at ``idx``."""
        if len(idx) == 0:
            return np.zeros(0)
        child = req.child
        x = candidate_features(pool, req, np.asarray(idx), self.histories.get(child.child_id), self.records)
        return np.asarray(self.loaded.model.predict_unplanned(x.to_numpy()), dtype=np.float64)

    def estimate(self, p_unplanned: float) -> StabilityEstimate:
        """The estimate with the band of held-out placements given a similar estimate (lasting rates)."""
        if not self._bands:
            return StabilityEstimate(1 - p_unplanned, 0.0, 1.0, self.version)
        band = self._bands[int(np.searchsorted(self._edges, p_unplanned, side="right"))]
        return StabilityEstimate(
            1 - p_unplanned,
            1 - band["ci_high"],
            1 - band["ci_low"],
            self.version,
            estimates_low=min(1 - p_unplanned, 1 - band["p_high"]),
            estimates_high=max(1 - p_unplanned, 1 - band["p_low"]),
        )


def load_scorer(
    conn: Connection,
    *,
    scope: Scope,
    taxonomy: Taxonomy,
    root: Path | None = None,
    child_ids: Iterable[str] | None = None,
    kind: str = "stability",
    records_from: StabilityScorer | None = None,
) -> tuple[StabilityScorer | None, str]:
    """The scorer of the ``kind`` model for ``scope`` (or only for ``child_ids``), or None and why not."""
    try:
        loaded = load_model(root, kind=kind)
    except ArtefactError as exc:
        log.warning("stability model not loaded: %s", exc)
        return None, str(exc)
    if loaded.metadata.get("features") != feature_names(taxonomy.need_ids):
        reason = f"stability model {loaded.version!r} was trained with other features (another taxonomy): retrain it"
        log.warning(reason)
        return None, reason
    decision = gate.decide(loaded.metadata)  # shown only while it beats the rules-only score on held-out data
    if not decision.shown:
        log.warning(decision.reason)
        return None, decision.reason
    if records_from is not None:  # the same children's records, already read for another model
        histories, records = records_from.histories, records_from.records
    else:
        ids = None if child_ids is None else sorted(set(child_ids))
        # Every placement in scope: the households' experience and the children living with them come from
        # them, as in training; the children's own moves only from theirs.
        placements = queries.all_placements(conn, scope=scope)
        wanted = None if ids is None else set(ids)
        histories = child_histories([p for p in placements if wanted is None or p.child_id in wanted])
        records = Records(
            queries.dated_needs(conn, scope=scope),
            queries.dated_risks(conn, scope=scope, child_ids=ids),
            tuple(placements),
            queries.child_births(conn, scope=scope),
        )
    return StabilityScorer(loaded, histories, records), f"{kind.replace('_', '-')} model {loaded.version}"
