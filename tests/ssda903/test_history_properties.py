"""Invariants of episodes into placements, for any sequence of a child's episodes."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.ssda903.importer import convert
from matching.ssda903.read import read_folder

HEADER = "CHILD,SEX,DOB,ETHNIC\nC1,1,01/05/2000,WBRI\n"
EPISODES = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"

episode = st.tuples(
    st.integers(0, 60),  # days after the previous episode's end before this one starts
    st.integers(1, 400),  # length
    st.sampled_from(["S", "L", "P", "T", "B", "U"]),
    st.sampled_from(["U4", "K2", "P1"]),
    st.sampled_from(["X1", "X1", "X1", "E8", "E13"]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(episode, min_size=1, max_size=8), st.booleans())
def test_placements_end_on_the_dec_of_their_last_episode(
    eps: list[tuple[int, int, str, str, str]], last_open: bool
) -> None:
    day, rows, decs = date(2010, 1, 1), [], set()
    for i, (gap, length, rne, place, rec) in enumerate(eps):
        start = day + timedelta(days=gap)
        end = start + timedelta(days=length)
        open_ = last_open and i == len(eps) - 1
        dec = "" if open_ else end.strftime("%d/%m/%Y")
        decs.add("" if open_ else end.isoformat())
        rows.append(f"C1,{start:%d/%m/%Y},{rne},C2,N1,{place},PR1,{dec},{'' if open_ else rec},\n")
        day = end
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "header.csv").write_text(HEADER)
        (folder / "episodes.csv").write_text(EPISODES + "".join(rows))
        conv = convert(read_folder(folder), la_code="L", year=2016)
    assert conv.problems == []
    pl = conv.tables["placements"]
    assert set(pl["end_date"]) <= decs  # every end is the DEC of an episode, never the next start
    assert (pl["end_date"] == "").sum() == (1 if last_open else 0)
    starts = list(pl["start_date"])
    assert starts == sorted(starts)
    kid = conv.tables["children"].iloc[0]
    assert (kid["ceased"] == "") == last_open
