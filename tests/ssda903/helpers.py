"""Shared helpers of the SSDA903 tests: a store holding authorities, and the published samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from matching.store import schema
from matching.store.engine import make_engine, upgrade

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "ssda903-samples" / "csc-validator-be-903"


def samples() -> Path:
    """The published sample return; skipped locally when absent, a failure under CI."""
    if not SAMPLES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the SSDA903 samples are missing: {SAMPLES} (CI needs shared/ beside the project)")
        pytest.skip(f"no SSDA903 samples at {SAMPLES}")
    return SAMPLES


def store_with(path: Path, *las: str) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        for la in las:
            conn.execute(
                insert(schema.local_authority).values(
                    la_code=la, name=la, region="X", centre_easting=400_000, centre_northing=300_000, radius_miles=10
                )
            )
    return engine


def counts(engine: Engine, la: str | None = None) -> dict[str, int]:
    """Rows per table (or of one authority's children and what hangs off them)."""
    out: dict[str, int] = {}
    with engine.connect() as conn:
        c = schema.child
        for name, table in [*schema.TABLES.items(), ("ssda903_child", schema.ssda903_child)]:
            stmt = select(func.count()).select_from(table)
            if la is not None:
                if name == "children":
                    stmt = stmt.where(c.c.la_code == la)
                elif "child_id" in table.c:
                    stmt = stmt.where(table.c.child_id.in_(select(c.c.child_id).where(c.c.la_code == la)))
                else:
                    continue
            out[name] = conn.execute(stmt).scalar_one()
    return out


HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"


def write(folder: Path, header: str, episodes: str, **extra: str) -> Path:
    """A return folder: the Header and Episodes rows given (below their column names), and any other tables."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "header.csv").write_text(HEADER + header)
    (folder / "episodes.csv").write_text(EPISODES + episodes)
    for name, body in extra.items():
        (folder / f"{name}.csv").write_text(body)
    return folder
