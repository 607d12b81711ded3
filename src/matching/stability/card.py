"""The model card: what the stability estimate is for, what it is not for, and how good it is."""

from __future__ import annotations

from typing import Any


def _row(name: str, s: dict[str, float] | None) -> str:
    if s is None:
        return f"| {name} | n/a | n/a | n/a | n/a |"
    return f"| {name} | {s['roc_auc']:.3f} | {s['pr_auc']:.3f} | {s['brier']:.4f} | {s['ece']:.4f} |"


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def model_card(meta: dict[str, Any]) -> str:
    """The MODEL_CARD.md text for a trained model's metadata."""
    r = meta["metrics"]
    td = meta["training_data"]
    diff = r["model_minus_baseline_auc"]
    step_down = meta.get("kind") == "step_down"
    if step_down:
        head = [
            f"# Model card: step-down success estimate `{meta['version']}`",
            "",
            "## What it estimates",
            "",
            "For a child moving from a children's home (or residential home or school) to this foster family, "
            "the probability that the family placement ends **unplanned within 52 weeks** (SSDA903 "
            "REASON_PLACE_CHANGE CREQB, CREQO, CHILD, ALLEG, STAND, CLOSE or APPRR). Step-down success "
            '("still in the family placement at 52 weeks", graduation in Stepping into Family Living) is one '
            "minus it. It learns only from past placements that followed directly on residential care.",
            "",
            "## Intended use",
            "",
            "- Shown beside the rules-based readiness assessment and each candidate family, never instead of "
            "them: the stage a child is at comes from the indicators, not from this estimate.",
            "- A prompt for the step-down plan: what support would make this move last?",
            "",
        ]
    else:
        head = [
            f"# Model card: placement stability estimate `{meta['version']}`",
            "",
            "## What it estimates",
            "",
            "The probability that a foster placement of this child with this carer household ends **unplanned "
            "within 12 months** of starting (SSDA903 REASON_PLACE_CHANGE CREQB, CREQO, CHILD, ALLEG, STAND, "
            "CLOSE or APPRR), from what the record shows on the day the placement would start.",
            "",
            "## Intended use",
            "",
            "- One scored factor among the ranked matches for a child, shown to the practitioner as a "
            "probability with the band of what happened to similar past placements.",
            "- A prompt for the matching conversation: what support would make this placement last?",
            "",
        ]
    lines = [
        *head,
        "## Out of scope",
        "",
        "- **Never an automatic decision.** A named officer decides every placement; the estimate does "
        "not place, exclude or rule out any child or household.",
        "- Not a judgement of a child or of carers; not for approval, deregistration, or performance "
        "management of carers or staff.",
        "- Not for children's homes, supported accommodation or placements with parents: it learns only "
        "from foster placements with a household in the data.",
        "- Not valid outside the population it was trained on: retrain on the authority's own history.",
        "",
        "## Training data",
        "",
        f"- Source: {td['source']} (SHA-256 of the training table `{td['sha256']}`).",
        f"- {td['placements']:,} past placements of {td['children']:,} children, started "
        f"{td['first_start']} to {td['last_start']}; {td['unplanned_rate']:.1%} ended unplanned within 12 months.",
        f"- Open placements: {td['open_placements']}.",
        f"- Split: {meta['split']['method']}, {meta['split']['test_size']:.0%} of children held out "
        f"(seed {meta['split']['seed']}): {meta['split']['train']:,} training and {meta['split']['test']:,} "
        "held-out placements. No child is on both sides.",
        f"- Features ({len(meta['features'])}): the child (age, moves, time in care, residential history, "
        "needs and their severity, SDQ, legal status, sibling situation), the household (experience, "
        "training current on the start date, other children, agency type, track record before the start) "
        "and the pair (need coverage from the taxonomy, distance from home and school, in area, kinship, "
        "preferred ages, preference conflicts, aggression with a young child, identity, age gap). "
        "**Sex, ethnicity, disability and UASC status are not features**; they are used only to report "
        "results by group.",
        "- Point in time: every feature of a past placement is read from the records as they stood on its "
        "start date: needs from the assessments dated by then (unknown when the store holds only later "
        "ones), risks from the referrals dated by then, the carers' experience from the placements with them "
        "that had ended by then, the children living there from the placements open then, training current "
        "then. Fields the store holds only as they are now (legal status, school, the carers' preferred ages, "
        '"will not consider" list and number, connected-person approvals) are **left out of training** '
        "(unknown in every past placement, so the model cannot use them); live scoring still fills them, as "
        "for a new placement now is its start date.",
        f"- Estimator: {meta['estimator']['class']} (histogram gradient boosting, "
        f"{meta['estimator']['iterations']} iterations, {meta['estimator']['params']['calibration']} "
        "calibration on out-of-fold predictions grouped by child). Seed "
        f"{meta['seed']}; scikit-learn {meta['libraries']['scikit-learn']}.",
        "",
        "## How good it is (held-out placements)",
        "",
        f"{r['n']:,} held-out placements, {r['unplanned_rate']:.1%} unplanned within 12 months.",
        "",
        "| | ROC AUC | PR AUC | Brier | ECE |",
        "|---|---:|---:|---:|---:|",
        _row("model", r["model"]),
        _row("rules-only baseline (fit score)", r["baseline"]),
        _row("true probability (ceiling, synthetic data only)", r["ceiling"]),
        "",
        f"- Model minus baseline, ROC AUC: **{diff['difference']:+.3f}** (95% bootstrap interval "
        f"{diff['ci_low']:+.3f} to {diff['ci_high']:+.3f}).",
    ]
    if r.get("model_over_ceiling_auc") is not None:
        lines.append(f"- Model AUC as a share of the ceiling's: **{r['model_over_ceiling_auc']:.1%}**.")
    lines += [
        f"- Worst calibration error in any group: {_f(r['worst_group_ece'])}.",
        "",
        "The reliability plot is `reliability.png`; the held-out predictions are `predictions.csv.gz`, from "
        "which every figure here can be recomputed (`matching evaluate`).",
        "",
        "## Results by group",
        "",
        "ECE by chance is the calibration error a perfectly calibrated model would show on that many "
        "placements: a small group's ECE near it is noise, not miscalibration.",
        "",
        "| attribute | group | n | ROC AUC | 95% interval | ECE | ECE by chance |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for g in r["groups"]:
        ci = "n/a" if g["ci_low"] is None else f"{g['ci_low']:.3f} to {g['ci_high']:.3f}"
        lines.append(
            f"| {g['attribute']} | {g['group']} | {g['n']:,} | {_f(g['roc_auc'])} | {ci} | {_f(g['ece'])} "
            f"| {_f(g.get('ece_chance'))} |"
        )
    lines += ["", "Largest AUC gap between groups of each attribute:", ""]
    for gap in r["group_auc_gaps"]:
        lines.append(
            f"- {gap['attribute']}: {gap['highest']} vs {gap['lowest']}: {gap['gap']:.3f} "
            f"(95% interval {gap['ci_low']:+.3f} to {gap['ci_high']:+.3f})"
        )
    lines += [
        "",
        "Groups under 30 placements, or with only one outcome, are listed without metrics: too few to say.",
        "",
        "## Limitations",
        "",
        "- The outcome is recorded endings. A placement that lasted but was unhappy counts as a success; "
        "a planned move that was really a breakdown recorded as planned counts as a success too.",
        "- It learns from the placements that were made, not from the ones that were not: pairs no "
        "practitioner would choose are outside its experience, and its estimates for them are guesses.",
        "- Kinship placements are rare in the history it learned from, so its estimates for connected "
        "carers are the least reliable.",
        "- Needs are as assessed now, not as they were when older placements began.",
        "- On synthetic data the ceiling shows what the record could tell at best; real records are "
        "noisier, and real performance will be lower.",
        "",
        "## A caution",
        "",
        "What Works for Children's Social Care (2020), *Machine learning in children's services: does it "
        "work?*, found that none of the models it tested reached even a modest threshold of good "
        "performance. This estimate is shown beside the rules and the practitioner's judgement, with its "
        "uncertainty, and it is compared against a simple baseline every time it is trained. If it stops "
        "beating the baseline on an authority's own data, give it no weight.",
        "",
    ]
    return "\n".join(lines)
