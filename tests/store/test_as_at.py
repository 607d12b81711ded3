"""One date for every service (issue 18, item 1): the store's "as at" date, the day after its last record,
never after today.  Before, matching defaulted to today (18-year-olds waiting, "needed today" referrals nine
months old), step-down to the month after the last progress record, and any date was accepted, giving
"-6580 weeks" on the step-down page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from matching.cli import app
from matching.domain import Scope
from matching.stepdown.assess import assess_cohort
from matching.store.engine import open_store
from matching.store.queries import as_at, data_dates


def test_the_day_after_the_last_record_never_after_today(history_store: tuple[Engine, Path], tmp_path: Path) -> None:
    empty = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    with empty.connect() as conn:
        assert as_at(conn, today=date(2030, 1, 1)) == date(2030, 1, 1)
    engine, _ = history_store
    with engine.connect() as conn:
        span = data_dates(conn)
        assert span is not None
        last = span[1]
        assert as_at(conn, today=last + timedelta(days=300)) == last + timedelta(days=1)
        assert as_at(conn, today=last) == last  # records up to today: answers for today


def test_no_negative_durations_on_an_early_date(history_store: tuple[Engine, Path]) -> None:
    engine, _ = history_store
    with engine.connect() as conn:
        early = as_at(conn) - timedelta(days=400)
        cohort = assess_cohort(conn, scope=Scope.everything(), on=early)
    text = " ".join(
        [i.value for a in cohort.children for i in a.indicators] + [x for a in cohort.children for x in a.actions]
    )
    assert not re.search(r"-\d+ (weeks|months)", text), re.search(r".{40}-\d+ (weeks|months).{20}", text)


def test_every_command_answers_for_the_same_date(history_store: tuple[Engine, Path], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine, _ = history_store
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    with engine.connect() as conn:
        when = as_at(conn).isoformat()
    waiting = CliRunner().invoke(app, ["waiting", "--show", "1"], env={"COLUMNS": "200"})
    assert f"waiting on {when}" in waiting.output
    step_down = CliRunner().invoke(app, ["step-down", "--show", "1"], env={"COLUMNS": "200"})
    assert f"on {when}" in step_down.output
