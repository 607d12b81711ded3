"""The stability estimate at matching time: a verified model, the children's records, and the bands.

:func:`load_scorer` returns the scorer, or ``None`` with the reason when no usable model is
there (missing, not trusted by the store, other library versions, another taxonomy, withheld by the
gate); matching then ranks on the rules alone and says so.  It never raises for a model problem, and
it unpickles a model only once every check has passed.  :func:`model_status` says the same for each
kind of model without unpickling anything (``matching serve`` prints it at start-up).
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
from matching.stability.artefact import KINDS, ArtefactError, LoadedModel, VerifiedArtefact, label, verify_model
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


def _withheld(verified: VerifiedArtefact, taxonomy: Taxonomy) -> str | None:
    """Why a trusted artefact is not used (another taxonomy, or the gate), or None when it is."""
    if verified.metadata.get("features") != feature_names(taxonomy.need_ids):
        return (
            f"{label(verified.kind)} model {verified.version!r} was trained with other features (another taxonomy): "
            "retrain it"
        )
    decision = gate.decide(verified.metadata)  # shown only while it beats the rules-only score on held-out data
    return None if decision.shown else decision.reason


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
    """The scorer of the ``kind`` model for ``scope`` (or only for ``child_ids``), or None and why not.

    The model must be trusted in the store behind ``conn`` (:mod:`matching.stability.trust`)."""
    try:
        verified = verify_model(root, kind=kind, conn=conn)
        reason = _withheld(verified, taxonomy)
        if reason is not None:
            log.warning(reason)
            return None, reason
        loaded = verified.load()
    except ArtefactError as exc:
        log.warning("%s model not loaded: %s", label(kind), exc)
        return None, str(exc)
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


def model_status(conn: Connection, *, taxonomy: Taxonomy, root: Path | None = None) -> list[str]:
    """One line for each kind of model: in use (and how it is trusted), or rules-only and why; nothing is
    unpickled."""
    lines = []
    for kind in KINDS:
        name = f"{label(kind)} model"
        rules_only = "readiness is rules-only" if kind == "step_down" else "ranking is rules-only"
        try:
            verified = verify_model(root, kind=kind, conn=conn)
        except ArtefactError as exc:
            lines.append(f"{name}: not loaded, {rules_only}: {exc}")
            continue
        reason = _withheld(verified, taxonomy)
        if reason is None:
            lines.append(f"{name} {verified.version}: in use ({verified.trusted})")
        else:
            lines.append(f"{name} {verified.version}: {verified.trusted}, but {rules_only}: {reason}")
    return lines
