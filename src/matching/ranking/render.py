"""Human-readable rendering of match results for the terminal (the JSON comes from ``as_dict``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from matching.domain import CarerHousehold
from matching.eligibility.rules import rule_label
from matching.ranking.explanation import MatchResult
from matching.ranking.service import ChildCandidate
from matching.wording import counted


def print_result(console: Console, result: MatchResult) -> None:
    """A ranked table with the top reasons and the gaps of each candidate, then the exclusions."""
    console.print(
        f"[bold]Matches for {result.child_id}[/] (referral {result.referral_id}, placement "
        f"{result.on.isoformat()}): {result.eligible} of {counted(result.considered, 'household')} eligible; "
        f"{result.model}."
    )
    for note in result.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    if result.candidates:
        table = Table(show_lines=True)
        for col in ("#", "household", "tier", "score", "miles", "why", "gaps for the placement plan", "warnings"):
            table.add_column(col, overflow="fold")
        for c in result.candidates:
            table.add_row(
                str(c.rank),
                f"{c.household_id}\n{c.agency_type.upper()} {c.agency_code}",
                c.tier_name.replace("_", " "),
                f"{c.as_dict()['score']:.1f}",
                "-" if c.distance_miles is None else f"{c.distance_miles:.1f}",
                "\n".join(c.top_reasons(2, always=("stability",) if c.stability else ())),
                "\n".join(g.action for g in c.gaps[:3]) or "none",
                ", ".join(sorted({w.code for w in c.warnings})) or "-",
            )
        console.print(table)
    else:
        console.print("[yellow]No eligible household.[/]")
    if result.excluded_counts:
        shown = "; ".join(
            f"{rule_label(k)}: {v}" for k, v in sorted(result.excluded_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        console.print(f"Ruled out (households; one may fail several rules): {shown}", highlight=False)
    if result.nearest_misses:
        console.print("Nearest misses (fail one rule only):")
        for m in result.nearest_misses[:5]:
            console.print(f"  {m.household_id} (score {m.score:.1f}): {m.reason}", markup=False, highlight=False)
    if result.excluded is not None:
        console.print(f"All {len(result.excluded)} ruled-out households:")
        for e in result.excluded:
            console.print(f"  {e.household_id}: " + " ".join(r.reason for r in e.failed), markup=False, highlight=False)


def children_payload(
    household: CarerHousehold, found: list[ChildCandidate], excluded: dict[str, int], considered: int, on: date
) -> dict[str, Any]:
    """The reverse query as a JSON-ready mapping."""
    return {
        "household_id": household.household_id,
        "vacancies": household.vacancies,
        "placement_date": on.isoformat(),
        "considered": considered,
        "candidates": [
            {
                "child_id": c.child_id,
                "referral_id": c.referral_id,
                "urgency": c.urgency,
                **{
                    k: v
                    for k, v in c.explanation.as_dict().items()
                    if k not in ("household_id", "agency_code", "agency_type", "vacancies")
                },
            }
            for c in found
        ],
        "excluded_counts": excluded,
    }


def print_children(console: Console, payload: dict[str, Any]) -> None:
    """A ranked table of the waiting children a household could care for."""
    console.print(
        f"[bold]Waiting children for {payload['household_id']}[/] ({counted(payload['vacancies'], 'vacancy', 'vacancies')}): "
        f"{len(payload['candidates'])} shown of {payload['considered']} waiting."
    )
    table = Table(show_lines=True)
    for col in ("#", "child", "urgency", "score", "miles", "gaps for the placement plan"):
        table.add_column(col, overflow="fold")
    for c in payload["candidates"]:
        table.add_row(
            str(c["rank"]),
            c["child_id"],
            c["urgency"],
            f"{c['score']:.1f}",
            "-" if c["distance_miles"] is None else f"{c['distance_miles']:.1f}",
            "\n".join(g["action"] for g in c["gaps"][:3]) or "none",
        )
    console.print(table)
    if payload["excluded_counts"]:
        console.print(
            "Not shown because (children): "
            + "; ".join(f"{rule_label(k)}: {v}" for k, v in payload["excluded_counts"].items()),
            highlight=False,
        )
