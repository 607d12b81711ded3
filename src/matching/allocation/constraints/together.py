"""Who can live together: a unit with a limit leaves nobody in the household that the limit rules out.

Every rule of every child on who they can live alongside, and every risk they pose to others, is a
range of ages it rules out (:class:`matching.eligibility.together.Limit`).  For a household and a
range, ``N`` counts the children placed in units with a child of an age in that range.  A unit with
a child holding that limit adds ``N + (C - own) x <= C``, where ``C`` is the household's free places
and ``own`` the unit's own children counted in ``N``: placed, it leaves ``N`` nothing but itself;
not placed, the row is implied by the room (``N`` is at most the free places).  "Must be the only
child" is left to the room, where such a unit weighs the whole room
(:mod:`~matching.allocation.constraints.room`).  Limits between siblings of one unit are the care
plan's to weigh, shown as warnings; they never bar the unit, and a unit's own children are never
counted against it.

One row per restricted pair (a unit's usable arc and one of its ranges), instead of one per
conflicting pair of pairs (millions nationally).  (Sharing ``N`` through an integer variable made
CP-SAT slower here, so each row spells its terms out.)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matching.allocation.constraints.rows import Rows, chosen, rows_of
from matching.allocation.constraints.usable import usable
from matching.allocation.instance import AllocationInstance, Unit, arc_array
from matching.eligibility.together import Limit, age_mask, forbidden_mask

FAMILY = "together"


def spans(unit: Unit) -> list[tuple[int, int]]:
    """The age ranges (lo, hi) that ``unit`` rules out for other units in its household: every limit of every
    child, except "only child", which the room weighs."""
    return sorted({(lim.lo, lim.hi) for lims in unit.limits for lim in lims if lim.kind != "solo"})


def rows(instance: AllocationInstance, ok: np.ndarray | None = None) -> Rows:
    """``sum(size[j] * x[j] for counted j) + (C - own) * x[k] <= C`` for every usable arc ``k`` and every range
    its unit rules out, where the counted arcs are the usable arcs into the same household of units with a
    child aged in the range (``ok``: :func:`usable`, if already known).  Each row is about (household, arc
    ``k``, lo, hi); rows in order of household, range, then ``k``; terms in arc order, ``k`` last when its
    own children are not counted."""
    ok = usable(instance) if ok is None else ok
    unit_spans = [spans(u) for u in instance.units]
    ranges = sorted({s for ss in unit_spans for s in ss})
    index = {s: i for i, s in enumerate(ranges)}
    # hits[s, u]: unit u has a child aged in range s
    range_bits = np.array([forbidden_mask([[Limit("range", lo, hi)]]) for lo, hi in ranges], dtype=np.int64)
    age_bits = np.array([age_mask(u.ages) for u in instance.units], dtype=np.int64)
    hits = (range_bits[:, None] & age_bits[None, :]) != 0
    sizes = np.array([u.size for u in instance.units], dtype=np.int64)
    caps = np.array([r.vacancies for r in instance.households], dtype=np.int64)
    unit, home = arc_array(instance, "unit"), arc_array(instance, "household")
    arcs = np.flatnonzero(ok)
    arcs = arcs[np.argsort(home[arcs], kind="stable")]  # by household, then arc
    at = np.searchsorted(home[arcs], np.arange(len(caps) + 1))
    # every restricted pair (household, range, arc k), sorted: one row each
    n_spans = np.array([len(ss) for ss in unit_spans], dtype=np.int64)
    span_ids = np.array([index[s] for ss in unit_spans for s in ss], dtype=np.int64)
    first_span = np.cumsum(n_spans) - n_spans
    per_arc = n_spans[unit[arcs]]
    k = np.repeat(arcs, per_arc)
    s = span_ids[np.repeat(first_span[unit[arcs]], per_arc) + _offsets(per_arc)]
    h = home[k]
    order = np.lexsort((k, s, h))
    k, s, h = k[order], s[order], h[order]
    # each (household, range) group's counted arcs, in arc order
    new_group = np.diff(h * max(1, len(ranges)) + s, prepend=-1) != 0
    group = np.cumsum(new_group) - 1
    g_h, g_s = h[new_group], s[new_group]
    size_h = at[g_h + 1] - at[g_h]
    inside = arcs[np.repeat(at[g_h], size_h) + _offsets(size_h)]
    counted_here = hits[np.repeat(g_s, size_h), unit[inside]]
    counted = inside[counted_here]
    n_counted = np.bincount(np.repeat(np.arange(len(g_h)), size_h)[counted_here], minlength=len(g_h))
    first_counted = np.cumsum(n_counted) - n_counted
    # each row: its group's counted arcs (``k``'s own weight C when counted), then ``k`` with C when not
    lens = n_counted[group]
    own_outside = ~hits[s, unit[k]]
    row_ids = np.arange(len(k))
    terms = counted[np.repeat(first_counted[group], lens) + _offsets(lens)]
    entry_row = np.repeat(row_ids, lens)
    coefs = sizes[unit[terms]]
    own = terms == k[entry_row]
    coefs[own] = caps[h[entry_row[own]]]  # own + (C - own)
    about = np.column_stack([h, k, np.array(ranges, dtype=np.int64).reshape(-1, 2)[s]])
    return rows_of(
        FAMILY,
        np.concatenate([entry_row, row_ids[own_outside]]),
        np.concatenate([terms, k[own_outside]]),
        np.concatenate([coefs, caps[h[own_outside]]]),
        caps[h],
        about,
    )


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """0, 1, ..., n - 1 for each n of ``lengths``, one after the other."""
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def violations(instance: AllocationInstance, assignment: Mapping[int, int]) -> list[str]:
    """The units that ``assignment`` (unit -> arc index) places with children their limits rule out, in words."""
    family = rows(instance)
    x = chosen(instance, assignment)
    out = []
    for r in family.broken(x):
        h, k, lo, hi = family.about[r].tolist()
        me = instance.arcs[k].unit
        entries = family.arc[family.starts[r] : family.starts[r + 1]].tolist()
        others = sorted({instance.units[instance.arcs[j].unit].unit_id for j in entries if x[j] and j != k})
        out.append(
            f"{instance.households[h].household_id}: {instance.units[me].unit_id} rules out children aged {lo}-{hi}, "
            f"and {', '.join(others)} live there with them"
        )
    return out
