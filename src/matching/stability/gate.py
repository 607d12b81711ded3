"""Whether a learned estimate may be shown: the one place that decides.

A learned estimate (placement stability, or step-down success) is shown to users only while its
held-out advantage over the rules-only baseline is shown to be above zero: the lower end of the 95%
paired bootstrap interval of (model ROC AUC − baseline ROC AUC) on the held-out children
(``metrics.model_minus_baseline_auc.ci_low``) must be above zero.  Otherwise the service withholds
the estimate and says why, in the same words everywhere (ranked matches, step-down, API, CLI).

:func:`decide` reads only a model's metadata, so training records the decision it will meet in
service, and :func:`matching.stability.scorer.load_scorer` applies it before a model is used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The advantage's interval must lie above this (a difference in ROC AUC).
MIN_ADVANTAGE = 0.0

_NAMES = {"stability": "stability estimate", "step_down": "step-down estimate"}


def _signed(x: float) -> str:
    """+0.004, −0.010 (a true minus sign, as the notes are read by people)."""
    return f"{x:+.3f}".replace("-", "\u2212")


@dataclass(frozen=True)
class GateDecision:
    """Shown or withheld, and the sentence that says why."""

    shown: bool
    reason: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    rule: str = (
        "shown only while the 95% interval of its held-out ROC AUC advantage over the rules-only score is above zero"
    )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for the training metadata and reports)."""
        return asdict(self)


def decide(metadata: dict[str, Any]) -> GateDecision:
    """The gate's decision for a model's metadata (a training's ``metadata.json``, or one with ``metrics``)."""
    name = _NAMES.get(str(metadata.get("kind", "stability")), "learned estimate")
    diff = (metadata.get("metrics") or {}).get("model_minus_baseline_auc")
    if not isinstance(diff, dict) or diff.get("ci_low") is None:
        return GateDecision(
            False,
            f"{name} withheld: its training recorded no held-out comparison with the rules-only score; "
            "retrain with `matching train`",
            None,
            None,
            None,
        )
    d, lo, hi = float(diff["difference"]), float(diff["ci_low"]), float(diff["ci_high"])
    said = (
        f"on held-out placements its advantage over the rules-only score was {_signed(d)} "
        f"(95% interval {_signed(lo)} to {_signed(hi)})"
    )
    if lo > MIN_ADVANTAGE:
        return GateDecision(True, f"{name} shown: {said}", d, lo, hi)
    return GateDecision(False, f"{name} withheld: {said}, not shown to be above zero", d, lo, hi)
