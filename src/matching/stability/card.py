"""The model card: what the stability estimate is for, what it is not for, and how good it is."""

from __future__ import annotations

from typing import Any


def _row(name: str, s: dict[str, float] | None) -> str:
    if s is None:
        return f"| {name} | n/a | n/a | n/a | n/a |"
    return f"| {name} | {s['roc_auc']:.3f} | {s['pr_auc']:.3f} | {s['brier']:.4f} | {s['ece']:.4f} |"


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _ci(d: dict[str, Any]) -> str:
    return f"{d['gap']:+.3f} (95% interval {d['ci_low']:+.3f} to {d['ci_high']:+.3f})"


#: What a reader should take from each attribute's proxy strength, beyond the general sentence.
_PROXY_NOTES = {
    "age_band": "age is a feature by design (needs and risks differ by age), so the age band is recovered "
    "almost exactly; the question is only whether results differ by age band (above)",
    "ethnicity_group": "the pair features same ethnic group, same religion and shared language carry it",
}


def _estimator(meta: dict[str, Any]) -> str:
    e = meta["estimator"]
    what = e.get("description") or (
        f"histogram gradient boosting, {e['params'].get('calibration', 'isotonic')} calibration on out-of-fold "
        "predictions grouped by child"
    )
    chosen = f" ({e['learner']} learner)" if e.get("learner") else ""
    extra = f", C = {e['C']:g}" if e.get("C") is not None else ""
    return (
        f"- Estimator: {e['class']}{chosen}: {what}; {e['iterations']} iterations{extra}. Seed "
        f"{meta['seed']}; scikit-learn {meta['libraries']['scikit-learn']}."
    )


def _gate(meta: dict[str, Any]) -> list[str]:
    g = meta.get("gate")
    if not g:
        return []
    verdict = "**Shown to users.**" if g["shown"] else "**Withheld from users.**"
    return [
        "## Shown or withheld",
        "",
        f"A learned estimate is {g['rule']}. {verdict} {g['reason'][0].upper()}{g['reason'][1:]}.",
        "",
        "The service reads this from the metadata when it loads the model: a withheld estimate is not used in "
        "ranking and not shown beside any family, and every ranked list, step-down cohort and API response "
        "says so in these words.",
        "",
    ]


#: How the service decides to load an artefact (matching.stability.trust), the same in every card.
LOADING = [
    "## Loading",
    "",
    "Unpickling `model.joblib` runs code, so the service loads this model only when the SHA-256 of "
    "`model.joblib` and of `metadata.json` is trusted where the models folder cannot vouch for itself: in its "
    "store (`matching train` records what it writes in the store it trained from; anywhere else an "
    "administrator runs `matching models trust FOLDER`, audited, and `matching models revoke` withdraws it) or "
    "in the deployment's `MATCHING_TRUSTED_MODELS`. The MANIFEST beside the model catches accidents only. An "
    "untrusted, revoked or changed artefact is never unpickled: the service works on the rules alone and says "
    "why. `matching models list` shows the digests trusted and what the service would load.",
    "",
]


def _proxies(r: dict[str, Any]) -> list[str]:
    proxies = r.get("proxy_strength")
    if not proxies:
        return []
    lines = [
        "## How well the features stand in for protected characteristics",
        "",
        "Sex, ethnicity, disability and UASC status are not features, but other features can carry them (a "
        "proxy). A quick classifier learned each characteristic from the model's features on the training "
        "placements and was scored on the held-out children: 0.5 means the features say nothing of it, 1.0 "
        "that they reveal it exactly. **The model can use such a proxy even though the characteristic "
        "itself is not a feature**, so a high figure is a reason to read the results by group above with "
        "care, not proof that the model treats a group differently.",
        "",
        "| characteristic | proxy strength (held-out ROC AUC) | measured as | note |",
        "|---|---:|---|---|",
    ]
    for attribute, p in proxies.items():
        lines.append(
            f"| {attribute} | {_f(p.get('roc_auc'))} | {p.get('method', 'n/a')} over {len(p.get('groups', []))} "
            f"groups | {_PROXY_NOTES.get(attribute, '')} |"
        )
    return [*lines, ""]


def _learners(meta: dict[str, Any]) -> list[str]:
    lc = meta.get("learner_comparison")
    used = meta["estimator"].get("learner", "boosting")
    if not lc:
        return [
            "## Why this learner",
            "",
            f"This model uses the {used} learner. The learners were not compared in this training run; "
            "`matching train --compare-learners` fits each on the same split and writes the comparison here "
            "(`benchmarks/bench_stability.py` does it on synthetic England).",
            "",
        ]
    pairs = lc["score_pairs"]
    lines = [
        "## Why this learner",
        "",
        f"Each learner fitted on the same training placements and scored on the same {lc['n_test']:,} held-out "
        f"ones. Scoring time is {lc['score_time_is']}, for {pairs:,} pairs.",
        "",
        "| learner | ROC AUC | ECE | ECE by chance | Brier | minus baseline (95% interval) | fit s | "
        f"score {pairs:,} pairs ms |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in lc["learners"]:
        c, d = row["calibration"], row["minus_baseline_auc"]
        mark = " (used)" if row["learner"] == used else ""
        lines.append(
            f"| {row['learner']}{mark} | {row['roc_auc']:.3f} | {_f(c['ece'])} | {_f(c['ece_chance'])} | "
            f"{row['brier']:.4f} | {d['difference']:+.3f} ({d['ci_low']:+.3f} to {d['ci_high']:+.3f}) | "
            f"{row['fit_seconds']:.1f} | {row[f'score_{pairs}_pairs_ms']:.1f} |"
        )
    v = lc["verdict"]
    if "lead" in v:
        lead = v["lead"]
        shown = "a lead shown to be above zero" if v["lead_shown"] else "a lead not shown to be above zero"
        said = (
            f"The best held-out ROC AUC was the {v['best_auc']} learner's, {lead['difference']:+.3f} over the "
            f"{v['runner_up']} learner's (95% paired interval {lead['ci_low']:+.3f} to {lead['ci_high']:+.3f}): "
            f"{shown}."
        )
    else:
        said = f"Only the {v['best_auc']} learner was fitted."
    advice = ""
    if v.get("lead_shown") and v["best_auc"] != used:
        advice = (
            f" On this history the measurement favours the {v['best_auc']} learner: `matching train --learner "
            f"{v['best_auc'].replace('_', '-')}` trains it."
        )
    lines += ["", f"{said} This model uses the {used} learner.{advice}", ""]
    return lines


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
        f"- From recorded outcomes (decisions whose placement was recorded as started): "
        f"{td.get('from_recorded_outcomes', 0):,} of the placements; "
        f"{td.get('recorded_outcomes_already_imported', 0):,} recorded placements were already in the imported "
        "history and are counted once.",
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
        _estimator(meta),
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
    cal = r.get("calibration")
    if cal:
        ratio = "n/a" if cal["ratio"] is None else f"{cal['ratio']:.2f}"
        lines.append(
            f"- Calibration error (ECE) {_f(cal['ece'])}; a perfectly calibrated model would show "
            f"{_f(cal['ece_chance'])} on {cal['n']:,} placements by chance alone (ratio {ratio}: near 1 is "
            "chance, well above 1 is miscalibration)."
        )
    lines += [
        f"- Worst calibration error in any group: {_f(r['worst_group_ece'])}.",
        "",
        "The reliability plot is `reliability.png`; the held-out predictions are `predictions.csv.gz`, from "
        "which every figure here can be recomputed (`matching evaluate`).",
        "",
        "## Results by group",
        "",
        "ECE by chance is the calibration error a perfectly calibrated model would show on that many "
        "placements: a small group's ECE near it is noise, not miscalibration. The ceiling AUC (synthetic data "
        "only) is the AUC of the generator's true probability within the group: how well that group's outcomes "
        "can be told apart at best. A group where even the ceiling is low is hard to predict, not badly served.",
        "",
        "| attribute | group | n | ROC AUC | 95% interval | ceiling AUC | ECE | ECE by chance |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for g in r["groups"]:
        ci = "n/a" if g["ci_low"] is None else f"{g['ci_low']:.3f} to {g['ci_high']:.3f}"
        lines.append(
            f"| {g['attribute']} | {g['group']} | {g['n']:,} | {_f(g['roc_auc'])} | {ci} | "
            f"{_f(g.get('ceiling_auc'))} | {_f(g['ece'])} | {_f(g.get('ece_chance'))} |"
        )
    lines += ["", "Largest AUC gap between groups of each attribute:", ""]
    for gap in r["group_auc_gaps"]:
        line = (
            f"- {gap['attribute']}: {gap['highest']} vs {gap['lowest']}: {gap['gap']:.3f} "
            f"(95% interval {gap['ci_low']:+.3f} to {gap['ci_high']:+.3f})"
        )
        if gap.get("ceiling_gap"):
            line += (
                f"; in the data (the ceiling's gap between the same groups) {_ci(gap['ceiling_gap'])}; "
                f"**added by the model** {_ci(gap['model_adds'])}"
            )
        lines.append(line)
    lines += [
        "",
        "Groups under 30 placements, or with only one outcome, are listed without metrics: too few to say. "
        "A gap the model adds whose interval spans zero is not shown to be the model's doing.",
        "",
        *_proxies(r),
        *_learners(meta),
        *_gate(meta),
        *LOADING,
        "## Limitations",
        "",
        "- The outcome is recorded endings. A placement that lasted but was unhappy counts as a success; "
        "a planned move that was really a breakdown recorded as planned counts as a success too.",
        "- It learns from the placements that were made, not from the ones that were not: pairs no "
        "practitioner would choose are outside its experience, and its estimates for them are guesses.",
        "- Kinship placements are rare in the history it learned from, so its estimates for connected "
        "carers are the least reliable.",
        "- Needs and risks are read as at each start only as far as the records are dated: where a store keeps "
        "only the latest assessment, older placements' needs are unknown and the model learns less from them.",
        "- On synthetic data the ceiling shows what the record could tell at best; real records are "
        "noisier, and real performance will be lower.",
        "",
        "## A caution",
        "",
        "What Works for Children's Social Care (2020), *Machine learning in children's services: does it "
        "work?*, found that none of the models it tested reached even a modest threshold of good "
        "performance. This estimate is shown beside the rules and the practitioner's judgement, with its "
        "uncertainty, and it is compared against a simple baseline every time it is trained. If it stops "
        'beating the baseline on an authority\'s own data, the service withholds it (see "Shown or withheld" '
        "above) and ranks on the rules alone.",
        "",
    ]
    return "\n".join(lines)
