"""The ``matching`` command.

Errors end the command with a non-zero exit and one readable line (plus, for contract
problems, the list of problems); never a traceback.  Set ``MATCHING_DEBUG=1`` to see one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from matching.access import Actor, Remit, Role
from matching.allocation.deadline import MIN_SECONDS
from matching.contract.validate import ContractError, Problem, ValidationReport, validate_folder
from matching.domain import Scope
from matching.taxonomy import TaxonomyError, load_taxonomy
from matching.wording import counted

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Decision support for placing children in care with foster carers (England).",
)
out = Console()
err = Console(stderr=True)


@app.callback()
def _each_command() -> None:
    """Decision support for placing children in care with foster carers (England)."""
    # Rich reads COLUMNS once, when a console is made; this module's consoles are made at import, so a
    # width set for this run (by the shell or a test runner) is read again here.
    columns = os.environ.get("COLUMNS", "")
    for console in (out, err):
        console.width = int(columns) if columns.isdigit() else console.width


TaxonomyOpt = Annotated[Path | None, typer.Option(help="Needs-skills taxonomy YAML (default: the shipped one).")]
TruthOpt = Annotated[
    Path | None, typer.Option(help="Generator truth (folder or placement_truth.csv): adds the ceiling.")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except ContractError as exc:
        _print_problems(exc.report, limit=200)
        _fail(str(exc).split("; first:")[0] + " (nothing was imported)")
    except TaxonomyError as exc:
        _fail(str(exc))
    except Exception as exc:
        if os.environ.get("MATCHING_DEBUG"):
            raise
        _fail(f"{exc.__class__.__name__}: {exc}")


def _store_with_children() -> Engine:
    """The store, or the command ends with one line saying it is empty and how to fill it."""
    from matching.store.engine import open_store
    from matching.store.queries import holds_children

    engine = open_store()
    with engine.connect() as conn:
        if not holds_children(conn):
            _fail(
                f"the store ({engine.url.render_as_string(hide_password=True)}) holds no children yet: import some with "
                "`matching import DIR` or `matching import-903 DIR --la CODE` (`make db` builds the bundled authority)"
            )
    return engine


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal and not os.environ.get("MATCHING_PROGRESS"),
    )


def _placement_date(on: str | None, engine: Engine) -> date:
    """The --on option as a date, or the store's "as at" date (the day after its last record, never after today:
    the same default as the API and the pages); a bad date ends the command with one line."""
    from matching.store.queries import as_at

    if not on:
        with engine.connect() as conn:
            return as_at(conn)
    try:
        return date.fromisoformat(on)
    except ValueError:
        _fail(f"--on {on!r} is not a date YYYY-MM-DD")


def _print_problems(report: ValidationReport, limit: int | None) -> None:
    shown: list[Problem] = report.problems if limit is None else report.problems[:limit]
    for p in shown:
        lead = "      ↳ " if p.cause else "  "
        err.print(f"{lead}{p}", highlight=False, markup=False, soft_wrap=True)
    if limit is not None and len(report.problems) > limit:
        err.print(f"  … and {len(report.problems) - limit} more (use --all or --report FILE for every one)")


class OutcomeProcessName(StrEnum):
    """The generator's outcome processes (``matching.synth.outcomes.OUTCOME_PROCESSES``)."""

    standard = "standard"
    interacting = "interacting"


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the contract files to.")],
    las: Annotated[int, typer.Option(min=1, max=400, help="Local authorities (150 = all of England).")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same bytes.")] = 2024,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: 2 for 4+ LAs).")] = None,
    outcome_process: Annotated[
        OutcomeProcessName,
        typer.Option(
            help="How placement outcomes are generated: 'standard' (additive, monotone) or 'interacting' "
            "(thresholds, interactions, unrecorded household and child effects). Recorded in truth/generator.json."
        ),
    ] = OutcomeProcessName.standard,
) -> None:
    """Write a synthetic England (or one local authority) in the data contract's formats."""
    from matching.synth.generator import generate as run

    with _friendly_errors(), _progress() as bar:
        task = bar.add_task("generating local authorities", total=las)
        summary = run(
            out_dir,
            las=las,
            seed=seed,
            workers=workers,
            outcome_process=outcome_process.value,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    written = sum(v for k, v in summary.rows.items() if k != "placement_truth")
    out.print(
        f"wrote {written:,} rows for "
        f"{summary.rows['children']:,} children and {summary.rows['households']:,} households "
        f"({las} LA{'s' if las > 1 else ''}, seed {seed}, {outcome_process.value} outcomes) to {out_dir}"
    )


@app.command()
def validate(
    folder: Annotated[Path, typer.Argument(help="Folder of contract CSV files.")],
    taxonomy: TaxonomyOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="List every problem (default: the first 200).")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write every problem to this CSV file.")] = None,
) -> None:
    """Check a folder against the data contract and list every problem (exit 1 if any)."""
    with _friendly_errors():
        tax = load_taxonomy(taxonomy)
        with _progress() as bar:
            task = bar.add_task("checking", total=None)
            result = validate_folder(
                folder, taxonomy=tax, progress=lambda name: bar.update(task, description=f"checking {name}")
            )
        for w in result.warnings:
            err.print(f"  warning: {w}", highlight=False, markup=False)
        if report is not None:
            _write_problems(report, result.problems)
        if not result.ok:
            _print_problems(result, None if all_ else 200)
            _fail(f"{len(result.problems)} problem{'s' if len(result.problems) != 1 else ''} in {folder}")
        counts = ", ".join(f"{k} {v:,}" for k, v in result.row_counts.items())
        out.print(f"ok: {folder} meets the data contract ({counts})")


def _write_problems(path: Path, problems: list[Problem]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "row", "column", "value", "expected", "code"])
        for p in problems:
            w.writerow(
                [
                    p.file,
                    p.row if p.row is not None else "",
                    p.column or "",
                    p.value if p.value is not None else "",
                    p.expected,
                    p.code,
                ]
            )


@app.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="Folder of contract CSV files.")],
    taxonomy: TaxonomyOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="List every problem (default: the first 200).")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write every problem to this CSV file.")] = None,
) -> None:
    """Validate and import a folder, all or nothing; re-importing the same files changes nothing."""
    from matching.store.engine import open_store
    from matching.store.importer import import_folder

    with _friendly_errors(), _listing_problems(all_, report):
        tax = load_taxonomy(taxonomy)
        engine = open_store()
        with _progress() as bar:
            check = bar.add_task("checking", total=None)
            write = bar.add_task("importing", total=None, visible=False)

            def on_write(name: str, done: int, total: int) -> None:
                bar.update(check, visible=False)
                bar.update(write, visible=True, description=f"importing {name}", completed=done, total=total)

            result = import_folder(
                engine,
                folder,
                taxonomy=tax,
                progress=on_write,
                validation_progress=lambda n: bar.update(check, description=f"checking {n}"),
            )
        counts = ", ".join(f"{k} {v:,}" for k, v in result.rows.items())
        out.print(f"imported {folder} into {engine.url.render_as_string(hide_password=True)}: {counts}")


@contextmanager
def _listing_problems(all_: bool, report: Path | None) -> Iterator[None]:
    """A contract failure inside: every problem listed (or the first 200) and written to ``report``, then one line."""
    try:
        yield
    except ContractError as exc:
        if report is not None:
            _write_problems(report, exc.report.problems)
        _print_problems(exc.report, None if all_ else 200)
        _fail(str(exc).split("; first:")[0] + " (nothing was imported)")


@app.command()
def calibration(
    folder: Annotated[Path, typer.Argument(help="Folder of generated contract files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the generated shares beside the published targets (domain.md §7); exit 1 if any is out."""
    from matching.synth.calibration import calibration_table

    with _friendly_errors():
        if not (folder / "children.csv").exists():
            _fail(f"{folder} has no children.csv: give a folder written by 'matching generate'")
        rows = calibration_table(folder)
        if as_json:
            out.print_json(json.dumps([r.as_dict() for r in rows]))
        else:
            table = Table(title=f"Calibration of {folder}")
            for col in ("measure", "generated", "target", "tolerance", "n", "ok", "source"):
                table.add_column(col, justify="right" if col in ("generated", "target", "tolerance", "n") else "left")
            for r in rows:
                table.add_row(
                    r.measure,
                    f"{r.generated:.3f}",
                    f"{r.target:.3f}",
                    f"±{r.tolerance:.3f}",
                    f"{r.n:,}",
                    "ok" if r.ok else "[red]OUT[/]",
                    r.source,
                )
            out.print(table)
        if not all(r.ok for r in rows):
            _fail("some shares are outside their tolerance")


@app.command()
def match(
    child: Annotated[str | None, typer.Option("--child", help="Rank carer households for this child.")] = None,
    carer: Annotated[str | None, typer.Option("--carer", help="Rank waiting children for this household.")] = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="How many candidates (at most 100, as the API).")] = 10,
    on: Annotated[
        str | None,
        typer.Option(
            help="Placement date YYYY-MM-DD (default: the store's as-at date, the day after its last record)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    excluded: Annotated[bool, typer.Option("--excluded", help="With --child: list every ruled-out household.")] = False,
    near_misses: Annotated[
        bool | None,
        typer.Option(
            "--near-misses/--no-near-misses", help="Households failing one rule only (default: when few are eligible)."
        ),
    ] = None,
) -> None:
    """Ranked carer households for a child (--child) or waiting children for a household (--carer)."""
    from matching.domain import Scope
    from matching.fit_config import load_fit_config
    from matching.pools import load_pool
    from matching.ranking import render, service

    if (child is None) == (carer is None):
        _fail("give exactly one of --child ID or --carer ID")
    with _friendly_errors():
        cfg, tax = load_fit_config(), load_taxonomy()
        engine = _store_with_children()
        when = _placement_date(on, engine)
        scope = Scope.everything()
        with engine.connect() as conn:
            if child is not None:
                try:
                    request = service.request_for_child(conn, scope=scope, child_id=child, on=when)
                except service.NotFoundError as exc:
                    _fail(str(exc))
                with _progress() as bar:
                    bar.add_task("loading carer households", total=None)
                    pool = load_pool(conn, scope=scope, taxonomy=tax, cfg=cfg)
                result = service.rank_households(
                    pool=pool, request=request, top=top, with_excluded=excluded, near_misses=near_misses
                )
                if as_json:
                    out.print_json(json.dumps(result.as_dict()))
                else:
                    render.print_result(out, result)
            else:
                assert carer is not None
                try:
                    household, found, excl, considered = service.rank_children_for_household(
                        conn, scope=scope, household_id=carer, on=when, cfg=cfg, taxonomy=tax, top=top
                    )
                except service.NotFoundError as exc:
                    _fail(str(exc))
                payload = render.children_payload(household, found, excl, considered, when)
                if as_json:
                    out.print_json(json.dumps(payload))
                else:
                    render.print_children(out, payload)


@app.command()
def allocate(
    la: Annotated[str | None, typer.Option("--la", help="Waiting children of this local authority.")] = None,
    region: Annotated[str | None, typer.Option(help="Waiting children of this region.")] = None,
    on: Annotated[
        str | None,
        typer.Option(
            help="Placement date YYYY-MM-DD (default: the store's as-at date, the day after its last record)."
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            min=MIN_SECONDS,
            help="Time limit in seconds for the whole command: reading, building, solving and reporting.",
        ),
    ] = 10.0,
    seed: Annotated[int, typer.Option(help="Solver random seed.")] = 2024,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Solver workers.")] = 2,
    min_fit: Annotated[float, typer.Option(min=0, max=100, help="Leave out pairs below this fit score.")] = 0.0,
    max_distance: Annotated[
        float | None, typer.Option(min=0, help="Leave out pairs further from home (miles).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON to this file.")] = None,
    objective: Annotated[
        str, typer.Option(help="total (children placed, then fit) or fairness (then the worst-off child's fit).")
    ] = "total",
    keep_current: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Children with carers already move only for this many more fit points."),
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="Rows of each list shown (0: every row).")] = 50,
    no_worse_than_fcfs: Annotated[
        bool,
        typer.Option(
            "--no-worse-than-fcfs/--children-first",
            help="Either objective: never let the children first come first served also places fare worse (mean "
            "fit, miles, out of area), even at the cost of a few children placed (the default); --children-first "
            "places the most children whatever it does to them.",
        ),
    ] = True,
) -> None:
    """Allocate the waiting children of an area to vacancies at once (a proposal, with the baselines): who goes
    where, who is left out and why, what would place them, against first come first served."""
    from matching.allocation.deadline import Deadline

    deadline = Deadline.start(time_limit)  # the whole command, from here (loading the solver's libraries too)
    from matching.allocation.report import quality_words
    from matching.allocation.service import allocate as run
    from matching.allocation.service import area_scope
    from matching.allocation.solver import SolverSettings
    from matching.fit_config import load_fit_config

    if la is not None and region is not None:
        _fail("give at most one of --la and --region")
    if objective not in ("total", "fairness"):
        _fail(f"--objective {objective!r} is not one of total, fairness")
    with _friendly_errors():
        engine = _store_with_children()
        when = _placement_date(on, engine)
        with engine.connect() as conn:
            try:
                scope = area_scope(conn, la_code=la, region=region)
            except LookupError as exc:
                _fail(str(exc))
            with _progress() as bar:
                bar.add_task("building the instance and solving", total=None)
                instance, result = run(
                    conn,
                    scope=scope,
                    on=when,
                    cfg=load_fit_config(),
                    taxonomy=load_taxonomy(),
                    settings=SolverSettings(
                        time_limit, seed, workers, objective=objective, no_worse_than_first_come=no_worse_than_fcfs
                    ),
                    min_fit=min_fit,
                    max_distance_miles=max_distance,
                    keep_current=keep_current,
                    deadline=deadline,
                )
        payload = result.as_dict(instance)
        if out_file is not None:
            out_file.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        if as_json:
            # Plain JSON: rich's highlighting took 11 s on a national result, well past the time limit.
            typer.echo(json.dumps(payload, indent=2))
            return
        groups = sum(1 for u in instance.units if u.size > 1)
        children = sum(u.size for u in instance.units)
        out.print(
            f"[bold]Allocation[/] of {counted(children, 'waiting child', 'waiting children')}"
            + (f" ({counted(groups, 'sibling group')} among them)" if groups else "")
            + f" to {counted(len(instance.households), 'household')} with room "
            f"({counted(len(instance.arcs), 'eligible pairing')}): {quality_words(payload)} "
            f"Took {payload['seconds']['total']:.1f} s of the {time_limit:g} s limit. A proposal for a named "
            "officer: nothing here changes a placement.",
            highlight=False,
        )
        for note in payload["notes"]:
            out.print(f"  Note: {note}", markup=False, highlight=False)
        table = Table()
        for col in (
            "",
            "placed",
            "of",
            "mean fit",
            "worst fit",
            "sibling groups together",
            "mean miles",
            "out of area",
        ):
            table.add_column(col, justify="left" if not col else "right")
        rows = [
            ("this allocation", payload["summary"]),
            *[(k.replace("_", " "), v) for k, v in payload["baselines"].items()],
        ]
        for name, s in rows:
            table.add_row(
                name,
                str(s["placed"]),
                str(s["waiting"]),
                f"{s['mean_fit']:.1f}",
                f"{s['worst_fit']:.1f}",
                f"{s['siblings_together']} of {s['sibling_groups']}",
                "-" if s["mean_distance_miles"] is None else f"{s['mean_distance_miles']:.1f}",
                str(s["out_of_area"]),
            )
        out.print(table)
        _print_like_for_like(payload.get("like_for_like") or {})
        _print_allocation_lists(payload, show)


def _print_like_for_like(cmp: dict[str, Any]) -> None:
    """Ours against first come, first served on the children both place, and the rest apart."""
    if not cmp:
        return
    table = Table(title="Like for like with first come, first served", title_justify="left")
    for i, col in enumerate(("children", "placed by", "children", "mean fit", "mean miles", "out of area")):
        table.add_column(col, justify="left" if i < 2 else "right")  # words, then figures
    both = cmp["both"]
    rows = [
        ("placed by both", "this allocation", both["ours"]),
        ("", "first come, first served", both["first_come_first_served"]),
        ("placed only by this allocation", "this allocation", cmp["only_ours"]),
        ("placed only by first come, first served", "first come, first served", cmp["only_first_come_first_served"]),
    ]
    for who, by, f in rows:
        table.add_row(
            who,
            by,
            str(f["children"]),
            "-" if f["mean_fit"] is None else f"{f['mean_fit']:.1f}",
            "-" if f["mean_distance_miles"] is None else f"{f['mean_distance_miles']:.1f}",
            str(f["out_of_area"]),
        )
    out.print(table)


def _print_allocation_lists(payload: dict[str, Any], show: int) -> None:
    """Who goes where, who is left out and why, and what would place them; each list says what it leaves out."""

    def more(rows: list[Any], what: str) -> None:
        if show and len(rows) > show:
            out.print(f"  …and {len(rows) - show:,} more {what} (--show 0 shows every row).", highlight=False)

    moves = payload["assignments"]
    if moves:
        table = Table(title="Who would go where")
        for col in ("child", "household", "fit score", "miles from home", "placed with", "to confirm"):
            table.add_column(col, overflow="fold")
        together: dict[str, list[str]] = {}
        for m in moves:
            together.setdefault(m["unit_id"], []).append(m["child_id"])
        for m in moves[: show or None]:
            others = [c for c in together[m["unit_id"]] if c != m["child_id"]]
            table.add_row(
                m["child_id"],
                m["household_id"],
                f"{m['score']:.1f}",
                "-" if m.get("distance_miles") is None else f"{m['distance_miles']:.1f}",
                ", ".join(others) or "-",
                "; ".join(m["warnings"]) or "-",
            )
        out.print(table)
        more(moves, "children placed")
    unplaced = payload["unplaced"]
    if unplaced:
        out.print(f"{counted(len(unplaced), 'child', 'children')} without a household in this proposal:")
        for u in unplaced[: show or None]:
            out.print(f"  {u['child_id']}: {u['detail']}", markup=False, highlight=False)
        more(unplaced, "children")
    levers = payload["levers"]
    if levers:
        out.print("What would place the children left out:")
        for lever in levers[: show or None]:
            out.print(f"  {lever['suggestion']}.", markup=False, highlight=False)
        more(levers, "suggestions")


def _training_scope(la: list[str] | None) -> Scope:
    return Scope.everything() if not la else Scope(la_codes=frozenset(la))


@app.command()
def train(
    la: Annotated[
        list[str] | None, typer.Option("--la", help="Learn from this local authority's history only (repeatable).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Models folder (default: models/).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and the estimator.")] = 2024,
    truth: TruthOpt = None,
    open_as_lasted: Annotated[
        bool, typer.Option("--open-as-lasted", help="Count placements open over a year as having lasted.")
    ] = False,
    target: Annotated[
        str, typer.Option(help="stability (any foster placement, 12 months) or step-down (from residential, 52 weeks).")
    ] = "stability",
    learner: Annotated[
        str,
        typer.Option(
            help="boosting (the shipped learner), logistic (regularised logistic regression) or boosting-large."
        ),
    ] = "boosting",
    compare_learners: Annotated[
        bool,
        typer.Option(
            "--compare-learners",
            help="Also fit every other learner on the same split; write the comparison into the metadata and card.",
        ),
    ] = False,
) -> None:
    """Fit a model on the store's history (placement stability, or step-down success); write a hashed artefact."""
    from matching.stability.artefact import models_dir
    from matching.stability.estimator import LEARNERS
    from matching.stability.train import TARGETS, InsufficientHistoryError
    from matching.stability.train import train as run

    kind = target.replace("-", "_")
    if kind not in TARGETS:
        _fail(f"--target {target!r} is not one of stability, step-down")
    learner_name = learner.replace("-", "_")
    if learner_name not in LEARNERS:
        _fail(f"--learner {learner!r} is not one of {', '.join(n.replace('_', '-') for n in LEARNERS)}")

    with _friendly_errors():
        engine = _store_with_children()
        root = out_dir or models_dir()
        with engine.connect() as conn, _progress() as bar:
            task = bar.add_task("training", total=None)
            try:
                result = run(
                    conn,
                    scope=_training_scope(la),
                    out_root=root,
                    seed=seed,
                    truth=truth,
                    open_as_lasted=open_as_lasted,
                    source="local authorities " + ", ".join(sorted(la)) if la else "the whole store",
                    progress=lambda msg: bar.update(task, description=msg),
                    target=TARGETS[kind],
                    learner=learner_name,
                    compare=compare_learners,
                )
            except InsufficientHistoryError as exc:
                _fail(f"cannot train: {exc}; matching stays rules-only")
        r = result.metadata["metrics"]
        out.print(
            f"[bold]{target} model {result.version}[/] ({learner_name} learner) written to {result.folder}",
            highlight=False,
        )
        _trust_trained(engine, result.folder)
        _print_scores(r)
        if "learner_comparison" in result.metadata:
            _print_learners(result.metadata["learner_comparison"])
        _print_gate(result.metadata["gate"])


def _trust_trained(engine: Any, folder: Path) -> None:
    """Record what training wrote as trusted in the store it trained from (audited), and say so."""
    from matching.stability.trust import TrustError, trust

    try:
        with engine.begin() as conn:
            record, _ = trust(conn, folder, actor=_cli_actor(), note="written by matching train from this store")
    except TrustError as exc:
        err.print(f"[bold yellow]warning:[/] written, but not trusted in this store: {exc}", highlight=False)
        return
    out.print(
        f"trusted in this store (model.joblib SHA-256 {record.model_sha256}); another store loads it only after "
        f"`matching models trust {folder}`",
        highlight=False,
        soft_wrap=True,
    )


def _num(x: object, spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def _print_scores(r: dict[str, Any]) -> None:
    table = Table(title=f"held-out placements: {r['n']:,}")
    for col in ("", "ROC AUC", "PR AUC", "Brier", "ECE"):
        table.add_column(col, justify="left" if not col else "right")
    for name in ("model", "baseline", "ceiling"):
        sc = r.get(name)
        if isinstance(sc, dict):
            table.add_row(name, *(f"{sc[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")))
    out.print(table)
    d = r["model_minus_baseline_auc"]
    out.print(f"model - baseline ROC AUC: {d['difference']:+.4f} (95% CI {d['ci_low']:+.4f} to {d['ci_high']:+.4f})")
    if r.get("model_over_ceiling_auc") is not None:
        out.print(f"model AUC / ceiling AUC: {r['model_over_ceiling_auc']:.1%}")
    cal = r.get("calibration")
    if cal:
        out.print(
            f"model ECE {_num(cal['ece'], '.4f')}; by chance alone at {cal['n']:,} placements "
            f"{_num(cal['ece_chance'], '.4f')} (ratio {_num(cal['ratio'], '.2f')}: near 1 is chance)"
        )
    out.print(f"worst group ECE: {r['worst_group_ece']}")
    groups = Table(title="by group (ceiling: AUC of the true probability within the group)")
    for col in ("attribute", "group", "n", "ROC AUC", "95% CI", "ceiling AUC", "ECE", "ECE by chance"):
        groups.add_column(col, justify="left" if col in ("attribute", "group", "95% CI") else "right")
    for g in r["groups"]:
        ci = "n/a" if g["ci_low"] is None else f"{g['ci_low']:.3f} to {g['ci_high']:.3f}"
        groups.add_row(
            g["attribute"], g["group"], f"{g['n']:,}", _num(g["roc_auc"]), ci, _num(g.get("ceiling_auc")),
            _num(g["ece"], ".4f"), _num(g.get("ece_chance"), ".4f"),
        )  # fmt: skip
    out.print(groups)
    for gap in r["group_auc_gaps"]:
        line = (
            f"largest AUC gap by {gap['attribute']}: {gap['gap']:+.3f} ({gap['highest']} vs {gap['lowest']}; "
            f"95% CI {gap['ci_low']:+.3f} to {gap['ci_high']:+.3f})"
        )
        if gap.get("ceiling_gap"):
            c, a = gap["ceiling_gap"], gap["model_adds"]
            line += (
                f"; in the data {c['gap']:+.3f} ({c['ci_low']:+.3f} to {c['ci_high']:+.3f}); "
                f"added by the model {a['gap']:+.3f} ({a['ci_low']:+.3f} to {a['ci_high']:+.3f})"
            )
        out.print(line, highlight=False)
    proxies = r.get("proxy_strength") or {}
    if proxies:
        said = ", ".join(f"{k} {_num(v.get('roc_auc'))}" for k, v in proxies.items())
        out.print(
            f"proxy strength (held-out ROC AUC of the characteristic learned from the features; 0.5 none, "
            f"1.0 exact): {said}",
            highlight=False,
        )
    if r.get("gate"):
        _print_gate(r["gate"])


def _print_learners(lc: dict[str, Any]) -> None:
    pairs = lc["score_pairs"]
    table = Table(title=f"learners on the same split ({lc['n_test']:,} held out)")
    for col in ("learner", "ROC AUC", "ECE", "ECE by chance", "Brier", "minus baseline (95% CI)", "fit s",
                f"score {pairs:,} ms"):  # fmt: skip
        table.add_column(col, justify="left" if col == "learner" else "right")
    for row in lc["learners"]:
        c, d = row["calibration"], row["minus_baseline_auc"]
        table.add_row(
            row["learner"], f"{row['roc_auc']:.4f}", _num(c["ece"], ".4f"), _num(c["ece_chance"], ".4f"),
            f"{row['brier']:.4f}", f"{d['difference']:+.4f} ({d['ci_low']:+.4f} to {d['ci_high']:+.4f})",
            f"{row['fit_seconds']:.1f}", f"{row[f'score_{pairs}_pairs_ms']:.1f}",
        )  # fmt: skip
    out.print(table)
    v = lc["verdict"]
    if "lead" in v:
        lead = v["lead"]
        out.print(
            f"best held-out ROC AUC: {v['best_auc']}, {lead['difference']:+.4f} over {v['runner_up']} "
            f"(95% CI {lead['ci_low']:+.4f} to {lead['ci_high']:+.4f}; "
            f"{'shown' if v['lead_shown'] else 'not shown'} to be above zero)",
            highlight=False,
        )


def _print_gate(g: dict[str, Any]) -> None:
    out.print(("[green]" if g["shown"] else "[bold yellow]") + g["reason"] + "[/]", highlight=False)


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="Model version (default: the latest).")] = None,
    models: Annotated[Path | None, typer.Option("--models", help="Models folder (default: models/).")] = None,
    la: Annotated[list[str] | None, typer.Option("--la", help="The local authorities it was trained on.")] = None,
    truth: TruthOpt = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write the report (default: reports/).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    target: Annotated[str, typer.Option(help="stability or step-down.")] = "stability",
) -> None:
    """Score a model's held-out placements again from the store: model, baseline, ceiling and groups."""
    from matching.stability.artefact import ArtefactError, load_model
    from matching.stability.train import evaluate as run
    from matching.store.engine import open_store

    with _friendly_errors():
        engine = open_store()
        with engine.connect() as conn:
            try:  # trusted in this store, or never unpickled
                loaded = load_model(models, version, kind=target.replace("-", "_"), conn=conn)
            except ArtefactError as exc:
                _fail(str(exc))
        where = out_dir or Path("reports") / target.replace("-", "_") / loaded.version
        with engine.connect() as conn, _progress() as bar:
            task = bar.add_task("evaluating", total=None)
            report = run(
                conn,
                scope=_training_scope(la),
                loaded=loaded,
                out_dir=where,
                truth=truth,
                progress=lambda msg: bar.update(task, description=msg),
            )
        if as_json:
            keys = ("model", "baseline", "ceiling", "groups")
            payload = {k: report[k] for k in keys} | {
                k: v for k, v in report.items() if k not in keys
            }  # the four keys first
            out.print_json(json.dumps(payload))
            return
        out.print(f"[bold]Evaluation of {loaded.version}[/]: {where}/evaluation.json, reliability.png")
        _print_scores(report)


@app.command("ssda903-docs")
def ssda903_docs(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the rules table.")] = Path(
        "docs/ssda903-rules.md"
    ),
) -> None:
    """Regenerate the SSDA903 rules-by-year document from the rule table."""
    from matching.ssda903.rules import render_docs

    out_path.write_text(render_docs(), encoding="utf-8")
    out.print(f"Wrote {out_path}")


@app.command("import-903")
def import_903(
    folder: Annotated[Path, typer.Argument(help="Folder of SSDA903 CSV files (any names) and/or the XML form.")],
    la: Annotated[str, typer.Option("--la", help="The local authority making the return (already in the store).")],
    year: Annotated[
        str | None,
        typer.Option(help="Collection year, e.g. 2025-26 (default: the latest year holding 1% of the episode dates)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every problem and warning here as CSV.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="List every problem (default: the first 200).")] = False,
) -> None:
    """Import an SSDA903 return: codes checked by collection year, every problem listed, all or nothing."""
    from matching.ssda903 import rules
    from matching.ssda903.importer import import_903 as run
    from matching.ssda903.importer import infer_year
    from matching.ssda903.report import write_report
    from matching.store.engine import open_store

    with _friendly_errors():
        try:
            which = rules.collection_year(year) if year else infer_year(folder)
        except ValueError as exc:
            _fail(str(exc))
        if which is None:
            from matching.ssda903.read import read_folder

            found = read_folder(folder)
            listed = ValidationReport(folder, problems=found.problems)
            if report is not None:
                write_report(report, found.problems, found.warnings)
            _print_problems(listed, None if all_ else 200)
            for name, why in found.skipped:
                err.print(f"  skipped {name}: {why}", highlight=False, markup=False)
            _fail(f"{folder}: no SSDA903 episodes with dates found, so no collection year (nothing was imported)")
        engine = open_store()
        try:
            with _progress() as bar:
                bar.add_task(f"importing the {rules.year_label(which)} return", total=None)
                result, converted = run(engine, folder, la_code=la, year=which)
        except ContractError as exc:
            if report is not None:
                write_report(report, exc.report.problems, exc.report.warnings)
            _print_problems(exc.report, None if all_ else 200)
            n = len(exc.report.problems)
            where = f"; all of them in {report}" if report is not None else ""
            _fail(
                f"{n:,} problem{'s' if n != 1 else ''} in the {rules.year_label(which)} SSDA903 return in {folder} "
                f"(nothing was imported){where}"
            )
        if report is not None:
            write_report(report, [], converted.warnings)
        kids = converted.tables["children"]
        ceased = int((kids["ceased"].astype(str) != "").sum()) if "ceased" in kids else 0
        out.print(
            f"Imported the {rules.year_label(which)} SSDA903 return of {la}: {converted.children:,} children "
            f"({ceased:,} ceased to be looked after), {converted.episodes:,} episodes, {converted.placements:,} "
            f"placements, {result.rows.get('sdq_scores', 0):,} SDQ scores, "
            f"{result.rows.get('missing_episodes', 0):,} missing episodes, {converted.uasc:,} UASC",
            highlight=False,
        )
        if converted.outcomes:
            out.print(
                f"  {converted.outcomes:,} outcomes of recorded decisions read from the return (started or ended)",
                highlight=False,
            )
        for name, why in converted.skipped:
            out.print(f"  skipped {name}: {why}", highlight=False, markup=False)
        dropped = {k: v for k, v in converted.not_stored.items() if v}
        if dropped:
            text = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in dropped.items())
            out.print(f"  not stored (children with no episode and no history in the store): {text}", highlight=False)
        if converted.warnings:
            out.print(
                f"  {len(converted.warnings):,} warnings" + (f" (in {report})" if report else " (see --report FILE)"),
                highlight=False,
            )


@app.command()
def sufficiency(
    scenario_file: Annotated[Path, typer.Option("--scenario", help="Scenario YAML (see data/scenarios/).")],
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster on all cores).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, max=256, help="Local worker processes (0: no Dask, in this process).")
    ] = None,
    simulations: Annotated[int | None, typer.Option(min=1, help="Override the scenario's number of futures.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write summary.json, futures.csv, bottlenecks.csv, report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate demand and supply over the horizon, allocate each future, and report unmet demand and bottlenecks."""
    from matching.sufficiency.scenario import ScenarioError, load_scenario
    from matching.sufficiency.service import figure, run_scenario, write_outputs

    with _friendly_errors():
        try:
            scenario = load_scenario(scenario_file)
            if simulations is not None:
                scenario = scenario.model_copy(update={"simulations": simulations})
        except ScenarioError as exc:
            _fail(str(exc))
        engine = _store_with_children()
        with engine.connect() as conn, _progress() as bar:
            task = bar.add_task(f"simulating {scenario.name}", total=None)
            try:
                result = run_scenario(
                    conn, scenario, scheduler=scheduler, workers=workers,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
            except ScenarioError as exc:
                _fail(str(exc))
        if out_dir is not None:
            write_outputs(result, out_dir)
        payload = result.as_dict()
        if as_json:
            out.print_json(json.dumps(payload))
            return
        h = payload["summary"]["headline"]
        out.print(
            f"[bold]{scenario.name}[/]: {', '.join(result.las)}, {scenario.horizon_months} months, "
            f"{scenario.simulations} futures",
            highlight=False,
        )
        what_if = payload["what_if"]
        if what_if is None:
            for key in ("demand", "placed", "unmet", "residential", "cost"):
                e = h[key]
                unit = f" (£ over {scenario.horizon_months} months)" if key == "cost" else ""
                out.print(f"  {key:12s} {e['mean']:>14,.1f} ± {e['mc_error']:,.2f} "
                          f"(90% of futures: {e['low']:,.0f} to {e['high']:,.0f}){unit}", highlight=False)  # fmt: skip
            out.print("  ± is the standard error of the average over the futures: how far it could move with more "
                      "futures (very likely within twice that).", highlight=False)  # fmt: skip
        else:
            table = Table(title=f"{scenario.name} against its baseline, future by future "
                          f"(children over the {scenario.horizon_months} months; cost in £)")  # fmt: skip
            for col in ("", "baseline", "what-if", "difference ± standard error", "90% of futures"):
                table.add_column(col, justify="right" if col else "left")
            for line in what_if["lines"]:
                money = line["measure"] == "cost"
                table.add_row(
                    line["label"], figure(line["baseline"], money), figure(line["what_if"], money),
                    f"{figure(line['difference'], money, signed=True)} ± {figure(line['standard_error'], money, places=2)}",
                    f"{figure(line['futures_90'][0], money, signed=True)} to "
                    f"{figure(line['futures_90'][1], money, signed=True)}",
                )  # fmt: skip
            out.print(table)
            out.print(f"  {what_if['moves_caused_by_lever']['text']}", highlight=False, markup=False)
            out.print(f"  {what_if['how_to_read']}", highlight=False, markup=False)
            rates = payload["summary"]["weekly_cost"]
            out.print(f"  Placement cost: £{rates['foster']:,.0f} a week in foster care and £{rates['residential']:,.0f}"
                      " a week in a children's home, from each placement to the end of the horizon.",
                      highlight=False, markup=False)  # fmt: skip
        for b in payload["summary"]["bottlenecks"][:5]:
            out.print(f"  - {b['text']}", highlight=False)


@app.command()
def waiting(
    la: Annotated[str | None, typer.Option("--la", help="Only this local authority's children.")] = None,
    urgency: Annotated[str | None, typer.Option(help="today, within_5_days or over_5_days.")] = None,
    placement_type: Annotated[str | None, typer.Option("--placement-type", help="e.g. long_term, step_down.")] = None,
    age_min: Annotated[int | None, typer.Option("--age-min", min=0, max=17)] = None,
    age_max: Annotated[int | None, typer.Option("--age-max", min=0, max=17)] = None,
    need: Annotated[str | None, typer.Option(help="Only children with this need (a taxonomy code).")] = None,
    child: Annotated[str | None, typer.Option("--child", help="Children whose id starts with this.")] = None,
    min_days_waiting: Annotated[
        int | None, typer.Option("--min-days-waiting", min=0, help="Referred at least this many days ago.")
    ] = None,
    on: Annotated[str | None, typer.Option(help="Date YYYY-MM-DD (default: the store's as-at date).")] = None,
    show: Annotated[int, typer.Option(min=0, help="Rows shown (0: every one).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every row).")] = False,
) -> None:
    """Children waiting for a placement: open referrals, most urgent first, then longest waiting."""
    from matching.ranking.waiting import URGENCY_LABELS, WaitingFilter, waiting_list

    if urgency is not None and urgency not in URGENCY_LABELS:
        _fail(f"--urgency {urgency!r} is not one of {', '.join(URGENCY_LABELS)}")
    if need is not None and need not in load_taxonomy().needs:
        _fail(f"--need {need!r} is not a need in the taxonomy (data/taxonomy)")
    if age_min is not None and age_max is not None and age_min > age_max:
        _fail(f"--age-min {age_min} is above --age-max {age_max}: they are reversed")
    with _friendly_errors():
        engine = _store_with_children()
        when = _placement_date(on, engine)
        where = WaitingFilter(la, urgency, placement_type, age_min, age_max, need, child, min_days_waiting)
        with engine.connect() as conn:
            entries = waiting_list(conn, scope=Scope.everything(), on=when, where=where)
        if as_json:
            out.print_json(json.dumps([e.as_dict() for e in entries]))
            return
        out.print(
            f"[bold]{counted(len(entries), 'child', 'children')} waiting[/] on {when.isoformat()}", highlight=False
        )
        table = Table()
        for col in ("child", "authority", "urgency", "referred", "days waiting", "age", "placement", "needs"):
            table.add_column(col, overflow="fold")
        for e in entries[: show or None]:
            d = e.as_dict()
            needs = ", ".join(f"{n.replace('_', ' ')} {v}" for n, v in list(d["needs"].items())[:3])
            table.add_row(
                d["child_id"] + (f" (with {', '.join(d['siblings'])})" if d["siblings"] else ""),
                d["la_code"],
                d["urgency_label"],
                d["referral_date"],
                str(d["days_waiting"]),
                str(d["age"]),
                d["placement_type"].replace("_", " "),
                needs if d["needs_assessed"] else "not assessed",
            )
        out.print(table)
        if show and len(entries) > show:
            out.print(f"…and {len(entries) - show:,} more (--show 0 shows every row).", highlight=False)


@app.command("step-down")
def step_down(
    child: Annotated[str | None, typer.Option("--child", help="Assess one child.")] = None,
    on: Annotated[
        str | None, typer.Option(help="Assessment date YYYY-MM-DD (default: the store's as-at date).")
    ] = None,
    stage: Annotated[str | None, typer.Option(help="Only children at this stage.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list of children).")] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the cohort CSV here.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the HTML report here.")] = None,
    show: Annotated[int, typer.Option(min=0, help="Children shown in the table (0: every child).")] = 40,
) -> None:
    """Step-down readiness of children in children's homes: stage, evidence, blockers, actions, families, cost;
    then a cohort-wide proposal that keeps within every family's vacancies."""
    from matching.stepdown.assess import STAGE_LABELS, STAGES, assess_cohort
    from matching.stepdown.report import cohort_csv, cohort_html, offers_text

    if stage is not None and stage not in STAGES:
        _fail(f"--stage {stage!r} is not one of {', '.join(STAGES)}")
    with _friendly_errors():
        engine = _store_with_children()
        when = _placement_date(on, engine)
        with engine.connect() as conn, _progress() as bar:
            bar.add_task("assessing", total=None)
            cohort = assess_cohort(conn, scope=Scope.everything(), on=when, child_id=child)
        if child is not None and not cohort.children:
            _fail(f"{child} is not in a residential placement (or recently stepped down), or does not exist")
        if csv_file is not None:
            csv_file.write_text(cohort_csv(cohort), encoding="utf-8")
        if report is not None:
            report.write_text(cohort_html(cohort), encoding="utf-8")
        chosen = [a for a in cohort.children if stage is None or a.stage == stage]
        if as_json:
            out.print_json(json.dumps([a.as_dict() for a in chosen]))
            return
        counts = cohort.counts()
        out.print(
            f"[bold]Step-down readiness[/] on {cohort.assessed_on}: {counted(len(cohort.children), 'child')}; "
            + ", ".join(f"{STAGE_LABELS[s]} {counts[s]}" for s in STAGES),
            highlight=False,
        )
        out.print(cohort.model_note, highlight=False)
        costs = cohort.costs()
        out.print(
            f"Weekly cost now £{costs['weekly_now']:,}; with every family option taken £"
            f"{costs['weekly_if_ready_children_move']:,} (£{costs['annual_difference']:,} a year).",
            highlight=False,
        )
        table = Table()
        for col in ("child", "stage", "score", "wishes", "first blocker / next action", "options", "£/wk now→option"):
            table.add_column(col, overflow="fold")
        order = {s: i for i, s in enumerate(STAGES)}
        ordered = sorted(chosen, key=lambda a: (-order[a.stage], -a.score, a.child_id))
        for a in ordered[: show or None]:
            table.add_row(
                a.child_id,
                STAGE_LABELS[a.stage],
                f"{a.score:.0f}",
                a.wishes,
                "\n".join([*a.blockers[:1], *a.actions[:1]]),
                "\n".join(
                    f"{c.kind} {c.household_id or ''}".strip()
                    + ("" if c.offered_to_others is None else f" {offers_text(c)}")
                    for c in a.candidates
                ),
                f"{a.weekly_cost_now:,.0f}"
                + ("" if a.weekly_cost_candidate is None else f" → {a.weekly_cost_candidate:,.0f}"),
            )
        out.print(table)
        if show and len(ordered) > show:
            out.print(
                f"…and {counted(len(ordered) - show, 'more child')} (--show 0 shows every child).", highlight=False
            )
        proposal = cohort.proposal
        if proposal is not None and child is None:
            out.print(
                f"\n[bold]A proposal within every family's vacancies[/] ({proposal.status}): "
                f"{counted(len(proposal.moves), 'ready child')} with a family or going home, "
                f"{len(proposal.unplaced)} without. {proposal.note}",
                highlight=False,
            )
            moves = Table()
            for col in ("child", "proposed", "fit score"):
                moves.add_column(col, overflow="fold")
            for m in proposal.moves:
                moves.add_row(
                    m.child_id,
                    f"{m.kind.replace('_', ' ')} {m.household_id or ''}".strip(),
                    "" if m.score is None else f"{m.score:.0f}",
                )
            for u in proposal.unplaced:
                moves.add_row(u["child_id"], "no family in this proposal", u["detail"])
            out.print(moves)


@app.command("contract-docs")
def contract_docs(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the Markdown.")] = Path("docs/data-format.md"),
) -> None:
    """Write the data-format document rendered from the contract spec."""
    from matching.contract.docs import render_markdown

    with _friendly_errors():
        out_file.write_text(render_markdown(), encoding="utf-8")
        out.print(f"wrote {out_file}")


@app.command()
def stats() -> None:
    """Rows in each table of the store."""
    from matching.store.engine import open_store
    from matching.store.queries import count_rows

    with _friendly_errors():
        engine = open_store()
        with engine.connect() as conn:
            counts = count_rows(conn)
        table = Table(title=f"Store {engine.url.render_as_string(hide_password=True)}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in counts.items():
            table.add_row(name, f"{n:,}")
        out.print(table)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback only unless MATCHING_ENVIRONMENT=production).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Serve the API and pages on http://HOST:PORT (docs at /docs); says how to sign in."""
    import uvicorn

    from matching.accounts.demo import is_production

    production = is_production(os.environ.get("MATCHING_ENVIRONMENT", "development"))
    if not production and host not in ("127.0.0.1", "localhost", "::1"):
        _fail(
            f"refusing to bind {host}: in development the service binds to 127.0.0.1 only "
            "(set MATCHING_ENVIRONMENT=production, with its settings, to serve others)"
        )
    with _friendly_errors():
        from api.app import create_app
        from matching.accounts.production import ProductionConfigError

        try:
            service = create_app()
        except ProductionConfigError as exc:
            _fail(str(exc))
        _model_lines(service.state.engine, service.state.pools.taxonomy)
        if not production:
            _sign_in_hint(service.state.engine, f"http://{f'[{host}]' if ':' in host else host}:{port}")
        uvicorn.run(service, host=host, port=port, log_level="info")


@app.command()
def activity(
    seed: Annotated[int, typer.Option(help="Seed of the generated activity (recorded in the output).")] = 2024,
    months: Annotated[int, typer.Option(min=1, max=120, help="How far back the stream goes.")] = 30,
) -> None:
    """Generate the bundled authority's activity (referrals sent, carers' answers, offers, decisions, plans and
    outcomes) by the demonstration accounts, so the pages and the monitoring have something in them; once per
    store, never in production."""
    from matching.accounts.demo import BUNDLED_LA, DEMO_ACCOUNTS, is_production
    from matching.fit_config import load_fit_config
    from matching.pools import load_pool
    from matching.store import queries
    from matching.store.engine import open_store
    from matching.synth.activity import demo_actors, generate_activity

    if is_production(os.environ.get("MATCHING_ENVIRONMENT", "development")):
        _fail("generated activity is never written in production")
    with _friendly_errors():
        engine = open_store()
        with engine.begin() as conn:
            actors = demo_actors(conn)
            if actors is None:
                _fail("the demonstration accounts are missing: run `matching users demo` first")
            remit = next(d for d in DEMO_ACCOUNTS if d.role is Role.PLACEMENT_OFFICER).remit
            taxonomy, cfg = load_taxonomy(), load_fit_config()
            pool = load_pool(
                conn, scope=Scope(la_codes=remit.la_codes, agency_codes=remit.agency_codes), taxonomy=taxonomy, cfg=cfg
            )
            summary = generate_activity(
                conn,
                la_code=BUNDLED_LA,
                pool=pool,
                cfg=cfg,
                taxonomy=taxonomy,
                actors=actors,
                on=queries.as_at(conn),
                seed=seed,
                months=months,
            )
    out.print(f"{summary.text()} (seed {seed})", highlight=False)


def _model_lines(engine: Any, taxonomy: Any) -> None:
    """One line per learned model: in use and how it is trusted, or rules-only and why (nothing unpickled)."""
    from matching.stability.scorer import model_status

    with engine.connect() as conn:
        for line in model_status(conn, taxonomy=taxonomy):
            err.print(line, highlight=False, markup=False, soft_wrap=True)


def _sign_in_hint(engine: Any, base: str) -> None:
    """How to sign in to a development server: the demonstration accounts, and where their passwords are."""
    from matching.accounts.demo import DEMO_ACCOUNTS, demo_accounts_enabled

    with engine.connect() as conn:
        enabled = set(demo_accounts_enabled(conn))
    err.print(
        f"Home page: {base}/pages/home (sign in at {base}/pages/sign-in; API documents at {base}/docs).",
        highlight=False,
        soft_wrap=True,
    )
    if not enabled:
        err.print(
            "  No demonstration account: `matching users demo` adds one per role, or "
            "`matching users add NAME --role ROLE --la CODE --agency CODE` adds yours.",
            highlight=False,
            soft_wrap=True,
        )
        return
    for d in DEMO_ACCOUNTS:
        if d.username in enabled:
            las = ", ".join(sorted(d.remit.la_codes)) or "-"
            agencies = ", ".join(sorted(d.remit.agency_codes)) or "-"
            err.print(
                f"  {d.username:<20} {d.role.label:<20} authorities {las}; agencies {agencies}",
                highlight=False,
                soft_wrap=True,
            )
    err.print(
        "  Development passwords: src/matching/accounts/demo.py (DEMO_ACCOUNTS), also in docs/access.md. "
        f'API clients: `matching tokens issue demo.placement --name "my script"`, then '
        f'`curl -H "Authorization: Bearer pm_..." {base}/v1/children`.',
        highlight=False,
        soft_wrap=True,
    )


# --- accounts, tokens, audit trail and subject access (issue 16) ----------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="User accounts: add, list, disable, enable, reset a password.")
tokens_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for API clients: issue, list, revoke.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify its chain, show a child's history.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
models_app = typer.Typer(
    no_args_is_help=True, help="Model artefacts this store trusts to be loaded: trust, list, revoke (audited)."
)
app.add_typer(models_app, name="models")


def _cli_actor() -> Actor:
    """The shell user running the command, as the audit trail records them."""
    import getpass

    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "unknown"
    return Actor.system(f"cli:{who}"[:64])


@contextmanager
def _account_errors() -> Iterator[None]:
    """An account, token or configuration refused: its own one line, no class name."""
    from matching.accounts.users import AccountError

    try:
        yield
    except (AccountError, ValueError) as exc:
        if os.environ.get("MATCHING_DEBUG"):
            raise
        _fail(str(exc))


def _read_password(from_stdin: bool, what: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            _fail("no password on standard input")
        return line.rstrip("\r\n")
    value: str = typer.prompt(what, hide_input=True, confirmation_prompt=True, err=True)
    return value


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="How they sign in (lower case).")],
    role: Annotated[
        str, typer.Option(help="placement_officer, fostering_officer, commissioning_lead, auditor, administrator.")
    ],
    la: Annotated[
        list[str] | None, typer.Option("--la", help="Authority code in their remit (repeat or comma-separate).")
    ] = None,
    agency: Annotated[
        list[str] | None, typer.Option("--agency", help="Agency code in their remit (repeat or comma-separate).")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Add every authority of this region in the store to the remit.")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Their name as the pages show it.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="Single sign-on only: no password.")] = False,
    external_id: Annotated[str | None, typer.Option(help="Single sign-on identity (issuer|subject) to link.")] = None,
) -> None:
    """Add a user account (prompts for a password unless --password-stdin or --no-password)."""
    from matching.accounts.users import authorities_of_region, codes, create_user, unknown_codes
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors():
        password = None if no_password else _read_password(password_stdin, f"password for {username}")
        engine = open_store()
        with engine.begin() as conn:
            las = codes(la or [])
            if region:
                found = authorities_of_region(conn, region)
                if not found:
                    _fail(f"no authority of region {region!r} in the store")
                las |= found
            remit = Remit(las, codes(agency or []))
            user = create_user(
                conn,
                username=username,
                role=role,
                remit=remit,
                actor=_cli_actor(),
                display_name=display_name,
                password=password,
                external_id=external_id,
            )
            unknown = unknown_codes(conn, remit)
        for code in unknown:
            err.print(
                f"  warning: {code} is not in the store yet (the user sees nothing of it until it is)", highlight=False
            )
        if remit.empty and user.role.value in ("placement_officer", "fostering_officer", "commissioning_lead"):
            err.print("  warning: no --la or --agency: this user sees nothing", highlight=False)
        out.print(f"added {user.username} ({user.role.label})", highlight=False)


@users_app.command("list")
def users_list() -> None:
    """Every user account: role, remit, state."""
    from matching.accounts.users import list_users
    from matching.store.engine import open_store

    with _friendly_errors():
        with open_store().connect() as conn:
            users = list_users(conn)
        table = Table(title=f"{len(users)} user{'s' if len(users) != 1 else ''}")
        for col in ("username", "name", "role", "authorities", "agencies", "sign-in", "state", "last signed in"):
            table.add_column(col)
        for u in users:
            table.add_row(
                u.username,
                u.display_name,
                u.role.label,
                ", ".join(sorted(u.remit.la_codes)) or "-",
                ", ".join(sorted(u.remit.agency_codes)) or "-",
                "/".join(m for m, on in (("password", u.has_password), ("sso", u.external_id)) if on) or "-",
                "disabled" if u.disabled else "active",
                _when(u.last_sign_in_at),
            )
        out.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: no more sign-in; its sessions and tokens are revoked."""
    from matching.accounts.users import disable_user
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors(), open_store().begin() as conn:
        user = disable_user(conn, username, actor=_cli_actor())
    out.print(f"disabled {user.username}; their sessions and tokens are revoked", highlight=False)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again (its old sessions and tokens stay revoked)."""
    from matching.accounts.users import enable_user
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors(), open_store().begin() as conn:
        user = enable_user(conn, username, actor=_cli_actor())
    out.print(f"enabled {user.username}", highlight=False)


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Give an account a new password; its sessions and tokens are revoked."""
    from matching.accounts.users import reset_password
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors():
        password = _read_password(password_stdin, f"new password for {username}")
        with open_store().begin() as conn:
            user = reset_password(conn, username, password, actor=_cli_actor())
    out.print(f"new password set for {user.username}; their sessions and tokens are revoked", highlight=False)


@users_app.command("demo")
def users_demo() -> None:
    """Add one demonstration account per role for the bundled authority (never in production)."""
    from matching.accounts.demo import seed_demo_accounts
    from matching.store.engine import open_store

    environment = os.environ.get("MATCHING_ENVIRONMENT", "development")
    with _friendly_errors(), _account_errors():
        from matching.accounts.demo import DemoAccountsRefusedError

        try:
            with open_store().begin() as conn:
                created = seed_demo_accounts(conn, environment=environment, actor=_cli_actor())
        except DemoAccountsRefusedError as exc:
            _fail(str(exc))
    if not created:
        out.print("the demonstration accounts are there already")
    for d in created:
        out.print(f"{d.username:<20} {d.role.label:<20} password {d.password}", highlight=False)


@tokens_app.command("issue")
def tokens_issue(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    days: Annotated[int | None, typer.Option(min=1, help="Lifetime in days (default 90).")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Permission to grant (repeat; default: all of the role's).")
    ] = None,
    max_days: Annotated[int, typer.Option(envvar="MATCHING_TOKEN_MAX_DAYS", help="Longest lifetime allowed.")] = 365,
) -> None:
    """Issue a bearer token: printed once on standard output, never shown again."""
    from matching.accounts.tokens import TokenPolicy, issue_token
    from matching.accounts.users import codes
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors(), open_store().begin() as conn:
        issued = issue_token(
            conn,
            username,
            name=name,
            actor=_cli_actor(),
            scopes=sorted(codes(scope)) if scope else None,
            days=days,
            policy=TokenPolicy(max_days=max_days),
        )
    err.print(
        f"token {issued.id} {issued.name!r} for {username}, until {_when(issued.expires_at)}; "
        "copy it now, it is not shown again:",
        highlight=False,
    )
    print(issued.token)


@tokens_app.command("list")
def tokens_list(
    username: Annotated[str | None, typer.Argument(help="One user's tokens (default: all).")] = None,
) -> None:
    """Tokens, newest first (never the tokens themselves)."""
    from matching.accounts.tokens import list_tokens
    from matching.store.engine import open_store

    with _friendly_errors():
        with open_store().connect() as conn:
            tokens = list_tokens(conn, username)
        table = Table(title=f"{len(tokens)} token{'s' if len(tokens) != 1 else ''}")
        for col in ("id", "user", "name", "scopes", "expires", "last used", "state"):
            table.add_column(col)
        for t in tokens:
            state = "revoked" if t.revoked_at else "active" if t.active() else "expired"
            table.add_row(
                str(t.id),
                t.username,
                t.name,
                ", ".join(sorted(t.scopes)),
                _when(t.expires_at),
                _when(t.last_used_at),
                state,
            )
        out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="The token's number (see `tokens list`).")]) -> None:
    """Revoke a token."""
    from matching.accounts.tokens import revoke_token
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors(), open_store().begin() as conn:
        info = revoke_token(conn, token_id, actor=_cli_actor())
    out.print(f"revoked token {info.id} {info.name!r} of {info.username}", highlight=False)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit trail's chain of hashes; exit 1 naming the first bad entry."""
    from matching.audit import head, verify
    from matching.store.engine import open_store

    with _friendly_errors():
        with open_store().connect() as conn:
            broken = verify(conn)
            last = head(conn)
        if broken is not None:
            _fail(f"the audit trail is broken at {broken}")
        out.print(f"ok: {last[0]:,} audit entries chained; last hash {last[1]}", highlight=False)


@audit_app.command("show")
def audit_show(
    child: Annotated[str, typer.Option("--child", help="The child's id.")],
    purpose: Annotated[str | None, typer.Option(help="Why you are looking (recorded).")] = None,
) -> None:
    """Who has looked at this child's records, when and why."""
    from matching.audit import AuditEntry, append, entries_for_child
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors():
        with open_store().begin() as conn:
            entries = entries_for_child(conn, child)
            append(conn, AuditEntry(_cli_actor(), "audit.show", child_ids=[child], purpose=purpose))
        if not entries:
            out.print(f"no one has looked at child {child}'s records", highlight=False)
            return
        table = Table(title=f"Who has looked at child {child}")
        for col in ("#", "when", "who", "role", "what", "why", "outcome"):
            table.add_column(col)
        for e in entries:
            table.add_row(str(e.seq), _when(e.at), e.username, e.role or "-", e.action, e.purpose or "-", e.outcome)
        out.print(table)


@app.command("export-child")
def export_child_cmd(
    child_id: Annotated[str, typer.Argument(help="The child's id.")],
    out_file: Annotated[Path, typer.Option("--out", help="Zip archive to write.")],
    purpose: Annotated[str | None, typer.Option(help="Why (default: subject access request).")] = None,
) -> None:
    """Everything the store holds about one child, and who looked at it, in one zip (UK GDPR Article 15)."""
    from matching.audit.subject_access import DEFAULT_PURPOSE, export_child
    from matching.store.engine import open_store

    with _friendly_errors(), _account_errors():
        with open_store().begin() as conn:
            summary = export_child(conn, child_id, out_file, actor=_cli_actor(), purpose=purpose or DEFAULT_PURPOSE)
        if summary is None:
            _fail(f"no child {child_id!r} in the store")
        rows = sum(summary.rows.values())
        out.print(f"wrote {out_file}: {rows} records and {summary.audit_entries} audit entries", highlight=False)


# --- model artefacts the store trusts (issue 17) ------------------------------------------------------------


@contextmanager
def _trust_errors() -> Iterator[None]:
    from matching.stability.artefact import ArtefactError
    from matching.stability.trust import TrustError

    try:
        yield
    except (TrustError, ArtefactError) as exc:
        if os.environ.get("MATCHING_DEBUG"):
            raise
        _fail(str(exc))


@models_app.command("trust")
def models_trust(
    paths: Annotated[
        list[Path],
        typer.Argument(help="A model version folder (models/stability/VERSION), or a models folder: its LATEST ones."),
    ],
    expect: Annotated[
        str | None,
        typer.Option(help="The SHA-256 model.joblib must have (as `matching train` printed it); one artefact only."),
    ] = None,
    reinstate: Annotated[bool, typer.Option("--reinstate", help="Trust a revoked artefact again.")] = False,
) -> None:
    """Record artefacts as trusted in this store, so the service may load them (nothing is unpickled here).

    Trust only what you have checked: a model file runs code when it is loaded."""
    from matching.stability.artefact import label
    from matching.stability.trust import artefact_folders, trust
    from matching.store.engine import open_store

    with _friendly_errors(), _trust_errors():
        folders = [f for p in paths for f in artefact_folders(p)]
        if expect is not None and len(folders) != 1:
            _fail(f"--expect checks one artefact; {len(folders)} were named")
        with open_store().begin() as conn:
            done = [
                trust(
                    conn, f, actor=_cli_actor(), note=f"matching models trust {f}", expect=expect, reinstate=reinstate
                )
                for f in folders
            ]
        for record, new in done:
            said = "trusted" if new else f"already trusted (by {record.trusted_by})"
            out.print(
                f"{said}: {label(record.kind)} model {record.version} (model.joblib SHA-256 {record.model_sha256})",
                highlight=False,
                soft_wrap=True,
            )


@models_app.command("list")
def models_list() -> None:
    """Every trusted or revoked artefact in this store, and what the service would load from the models folder."""
    from matching.stability.artefact import label, models_dir
    from matching.stability.scorer import model_status
    from matching.stability.trust import records, when
    from matching.store.engine import open_store

    with _friendly_errors():
        with open_store().connect() as conn:
            rows = records(conn)
            status = model_status(conn, taxonomy=load_taxonomy())
        table = Table(title=f"{len(rows)} trusted artefact record{'s' if len(rows) != 1 else ''} in this store")
        for col in ("#", "kind", "version", "model.joblib SHA-256", "trusted", "state", "how"):
            table.add_column(col)
        for r in rows:
            state = f"revoked by {r.revoked_by}, {when(r.revoked_at)}" if r.revoked else "trusted"
            table.add_row(
                str(r.id), label(r.kind), r.version, r.model_sha256, f"{r.trusted_by}, {when(r.trusted_at)}",
                state, r.note or "-",
            )  # fmt: skip
        out.print(table)
        out.print(f"In {models_dir()}:", highlight=False)
        for line in status:
            out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


@models_app.command("revoke")
def models_revoke(
    what: Annotated[
        str, typer.Argument(help="A version, a model.joblib SHA-256 (12 digits or more) or a version folder.")
    ],
) -> None:
    """Stop trusting an artefact: the service falls back to the rules within seconds and says why."""
    from matching.stability.artefact import label
    from matching.stability.trust import revoke
    from matching.store.engine import open_store

    with _friendly_errors(), _trust_errors(), open_store().begin() as conn:
        revoked = revoke(conn, what, actor=_cli_actor())
    for r in revoked:
        out.print(
            f"revoked: {label(r.kind)} model {r.version} (model.joblib SHA-256 {r.model_sha256})", highlight=False
        )


def main() -> None:
    """Entry point of the ``matching`` command."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
