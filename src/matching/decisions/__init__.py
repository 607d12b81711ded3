"""Decisions on referrals: what the service showed (a recommendation snapshot, immutable and addressed by its
hash), and what a named officer decided on it, with the reasons the law and practice ask for.

Nothing here places a child: a decision is a record of a person's choice, checked for completeness.
"""

from matching.decisions.decision import (
    NO_HOUSEHOLD_REASONS,
    OVERRIDE_REASONS,
    Decision,
    DecisionDraft,
    DecisionError,
    DecisionOutcome,
    Problem,
    problems,
)
from matching.decisions.snapshot import RecommendationSnapshot, SnapshotTamperedError, canonical_json
from matching.decisions.store import decision_by_id, decisions_for, load_snapshot, record_decision, save_snapshot

__all__ = [
    "NO_HOUSEHOLD_REASONS",
    "OVERRIDE_REASONS",
    "Decision",
    "DecisionDraft",
    "DecisionError",
    "DecisionOutcome",
    "Problem",
    "RecommendationSnapshot",
    "SnapshotTamperedError",
    "canonical_json",
    "decision_by_id",
    "decisions_for",
    "load_snapshot",
    "problems",
    "record_decision",
    "save_snapshot",
]
