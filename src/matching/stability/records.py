"""The records as they stood on a date: a child's needs and risks, and each household's placements.

Everything a stability feature reads from a record that changes over time is read here "as at" a
date, for training (each past placement's start) and live scoring (the request's date) alike:

* :meth:`Records.needs_on` -- a child's needs from the assessments dated on or before the date;
* :meth:`Records.risks_on` -- the risks on referrals dated on or before the date;
* :class:`PlacementLog` -- for each household, the placements with it in the store: the endings
  before the date (its track record), the carers' experience (the needs, as assessed by the date,
  of the children whose placement there had ended) and the children placed there on the date.

A :class:`PlacementLog` answers for many (household, date) pairs at once.  Where many pairs share a
date (live scoring: one child against every household) it builds that date's table for every
household once and keeps the last few; otherwise it looks at each pair's household alone.  Both
give the same answer (a test checks this).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from matching.domain import PlacementEpisode

if TYPE_CHECKING:
    from matching.ranking.pool import HouseholdPool

#: A child's rated needs: (assessment date or None when undated, need, severity), oldest first.
DatedNeeds = tuple[tuple[date | None, str, int], ...]
#: A child's risks by referral: (referral date, risks to and from the child), oldest first.
DatedRisks = tuple[tuple[date, frozenset[str]], ...]

_YEAR = 365.25
_OPEN = 2**30  # the end day of a placement still open
_KEY = 2**31  # household position x _KEY + day: one sortable key
#: Pairs sharing a date above which that date's table for every household is built (and kept).
_TABLE_FROM = 256
_TABLES_KEPT = 4
#: (child, day) needs remembered at most; emptied when full (a server asked about many dates must not keep them all).
_NEEDS_KEPT = 100_000


@dataclass(frozen=True)
class Records:
    """The dated records features are read from "as at" a date (training and live scoring read them alike).

    ``placements`` are the store's placements (any, with or without a household) and ``births`` the birth
    month of each child in them: together they give each household's history (see :meth:`log`).
    """

    needs: Mapping[str, DatedNeeds]
    risks: Mapping[str, DatedRisks]
    placements: Sequence[PlacementEpisode] = ()
    births: Mapping[str, date] = field(default_factory=dict)
    _logs: dict[int, tuple[HouseholdPool, PlacementLog]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def needs_on(self, child_id: str, on: date, need_ids: Sequence[str]) -> np.ndarray:
        """Severity of each need as assessed on or before ``on``; all NaN when nothing was assessed by then.

        Ratings dated after ``on`` (or undated, so not shown to be in force) are ignored, as if not yet
        written; the latest rating of a need by then is in force (0 when it had gone); a need not rated by
        then is 0 when the child had an assessment by then.  When the store holds only later assessments,
        the profile on ``on`` is unknown (every need NaN), never today's.
        """
        pos = {n: j for j, n in enumerate(need_ids)}
        known = [(d, n, v) for d, n, v in self.needs.get(child_id, ()) if d is not None and d <= on]
        if not known:
            return np.full(len(need_ids), np.nan)
        out = np.zeros(len(need_ids))
        for _, n, v in sorted(known, key=lambda x: x[0]):  # oldest first: the latest rating of a need wins
            if n in pos:
                out[pos[n]] = v
        return out

    def risks_on(self, child_id: str, on: date) -> frozenset[str]:
        """Risks to and from the child recorded on referrals dated on or before ``on``."""
        out: frozenset[str] = frozenset()
        for d, items in self.risks.get(child_id, ()):
            if d <= on:
                out |= items
        return out

    def log(self, pool: HouseholdPool) -> PlacementLog:
        """The placements with the pool's households, indexed by pool position (built once per pool)."""
        held = self._logs.get(id(pool))
        if held is None or held[0] is not pool:
            if len(self._logs) >= 2:
                self._logs.pop(next(iter(self._logs)))
            held = self._logs[id(pool)] = (pool, PlacementLog(pool, self))
        return held[1]


NO_RECORDS = Records({}, {})


class PlacementLog:
    """Who was placed with each household, when, and how it ended; read as at any date."""

    def __init__(self, pool: HouseholdPool, records: Records) -> None:
        eps = [p for p in records.placements if p.household_id is not None and p.household_id in pool.index]
        eps.sort(key=lambda p: (pool.index[str(p.household_id)], p.start_date, p.placement_id))
        self.records = records
        self.need_ids = pool.tables.need_ids
        self.n_households = len(pool.households)
        self.hh = np.array([pool.index[str(p.household_id)] for p in eps], dtype=np.int64)
        self.child = np.array([p.child_id for p in eps], dtype=object)
        self.code_of = self._code = {c: i for i, c in enumerate(dict.fromkeys(p.child_id for p in eps))}
        self.child_code = np.array([self._code[p.child_id] for p in eps], dtype=np.int64)
        births = records.births
        self.birth = np.array(
            [births[p.child_id].toordinal() if p.child_id in births else _OPEN for p in eps], dtype=np.int64
        )
        self.start = np.array([p.start_date.toordinal() for p in eps], dtype=np.int64)
        self.end = np.array([p.end_date.toordinal() if p.end_date else _OPEN for p in eps], dtype=np.int64)
        self.unplanned = np.array([bool(p.unplanned_within(365)) for p in eps], dtype=bool)
        ended = self.end < _OPEN
        self._ended_keys = np.sort(self.hh[ended] * _KEY + self.end[ended])
        unpl = ended & self.unplanned
        self._unplanned_keys = np.sort(self.hh[unpl] * _KEY + self.end[unpl])
        self._first = np.searchsorted(self.hh, np.arange(self.n_households + 1))
        # Birth children of each household (birth day), from the household's members on file.
        kids = [[m.birth_month.toordinal() for m in h.members if m.kind == "birth_child"] for h in pool.households]
        width = max([len(k) for k in kids] + [1])
        self.birth_children = np.full((self.n_households, width), _OPEN, dtype=np.int64)
        for k, days in enumerate(kids):
            self.birth_children[k, : len(days)] = days
        self._tables: OrderedDict[int, DayTable] = OrderedDict()
        self._needs_memo: dict[tuple[str, int], np.ndarray] = {}

    # --- track record -------------------------------------------------------------------

    def endings(self, hh_idx: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Placements with each household that had ended by each day, and of those the unplanned ones."""
        hh_idx, days = np.asarray(hh_idx, dtype=np.int64), np.asarray(days, dtype=np.int64)
        lo, hi = hh_idx * _KEY, hh_idx * _KEY + days
        ended = np.searchsorted(self._ended_keys, hi, "right") - np.searchsorted(self._ended_keys, lo, "left")
        unpl = np.searchsorted(self._unplanned_keys, hi, "right") - np.searchsorted(self._unplanned_keys, lo, "left")
        return ended.astype(float), unpl.astype(float)

    # --- experience and the children living there ---------------------------------------------

    def needs_on(self, child_id: str, day: int) -> np.ndarray:
        """A child's needs as assessed by ``day`` (memoised: many pairs share a child and a day)."""
        key = (child_id, day)
        got = self._needs_memo.get(key)
        if got is None:
            if len(self._needs_memo) >= _NEEDS_KEPT:
                self._needs_memo.clear()
            got = self._needs_memo[key] = self.records.needs_on(child_id, date.fromordinal(day), self.need_ids)
        return got

    def experience(self, hh_idx: np.ndarray, days: np.ndarray) -> np.ndarray:
        """(pairs, needs) bool: the actionable needs, as assessed by the day, of the children whose placement
        with the household had ended by then -- the carers' experience on that day."""
        out = np.zeros((len(hh_idx), len(self.need_ids)), dtype=bool)
        for rows, day, table in self._by_day(days):
            if table is not None:
                out[rows] = table.experience[hh_idx[rows]]
                continue
            for r in rows:
                k = int(hh_idx[r])
                for pos in range(self._first[k], self._first[k + 1]):
                    if self.end[pos] <= day:
                        out[r] |= self.needs_on(str(self.child[pos]), day) >= 2
        return out

    def children_there(self, hh_idx: np.ndarray, days: np.ndarray, child_ids: np.ndarray) -> np.ndarray:
        """(pairs, k) ages in years of the other children under 18 living with the household on the day (its
        birth children and the children placed there then, never the pair's own child), NaN padded."""
        hh_idx, child_ids = np.asarray(hh_idx, dtype=np.int64), np.asarray(child_ids, dtype=object)
        blocks: list[tuple[np.ndarray, np.ndarray]] = []
        for rows, day, table in self._by_day(days):
            if table is not None:
                blocks.append((rows, table.ages_without(hh_idx[rows], child_ids[rows], self._code)))
                continue
            lists = []
            for r in rows:
                k = int(hh_idx[r])
                found = [(day - b) / _YEAR for b in self.birth_children[k] if b <= day]
                found += [
                    (day - self.birth[pos]) / _YEAR
                    for pos in range(self._first[k], self._first[k + 1])
                    if self.start[pos] <= day < self.end[pos]
                    and self.birth[pos] <= day
                    and self.child[pos] != child_ids[r]
                ]
                lists.append(found)
            blocks.append((rows, _padded(lists)))
        width = max([b.shape[1] for _, b in blocks] + [1])
        out = np.full((len(hh_idx), width), np.nan)
        for rows, b in blocks:
            out[rows, : b.shape[1]] = b
        out[out >= 18] = np.nan
        return out

    def _by_day(self, days: np.ndarray) -> list[tuple[np.ndarray, int, DayTable | None]]:
        """The pairs grouped by day, each group with that day's table for every household when it is large."""
        days = np.asarray(days, dtype=np.int64)
        uniq, inverse = np.unique(days, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
        out = []
        for j, day in enumerate(uniq):
            rows = order[bounds[j] : bounds[j + 1]]
            table = self.table(int(day)) if len(rows) >= _TABLE_FROM else None
            out.append((rows, int(day), table))
        return out

    def table(self, day: int) -> DayTable:
        """Every household on ``day``: its experience, track record and the children living there (the last
        few days kept: live scoring asks for the same date again and again)."""
        got = self._tables.get(day)
        if got is not None:
            self._tables.move_to_end(day)
            return got
        h, needs = self.n_households, len(self.need_ids)
        experience = np.zeros((h, needs), dtype=bool)
        ended = np.flatnonzero(self.end <= day)
        if len(ended):
            # Read without the memo: a date's table is built once, and a server asked for many dates must not
            # keep every child's needs for each of them.
            on, need_ids = date.fromordinal(day), self.need_ids
            actionable = {c: self.records.needs_on(c, on, need_ids) >= 2 for c in {str(self.child[p]) for p in ended}}
            bits = np.stack([actionable[str(self.child[p])] for p in ended])
            counts = np.zeros((h, needs), dtype=np.int64)
            np.add.at(counts, self.hh[ended], bits)
            experience = counts > 0
        n_ended = np.bincount(self.hh[ended], minlength=h).astype(float)
        n_unplanned = np.bincount(self.hh[ended[self.unplanned[ended]]], minlength=h).astype(float)
        born = self.birth_children <= day
        placed = np.flatnonzero((self.start <= day) & (day < self.end) & (self.birth <= day))
        per = np.bincount(self.hh[placed], minlength=h)
        width = int(born.sum(axis=1).max(initial=0) + per.max(initial=0)) or 1
        ages = np.full((h, width), np.nan)
        codes = np.full((h, width), -1, dtype=np.int64)
        slot = np.zeros(h, dtype=np.int64)
        for b, j in zip(*np.nonzero(born), strict=True):
            ages[b, slot[b]] = (day - self.birth_children[b, j]) / _YEAR
            slot[b] += 1
        for p in placed:
            k = int(self.hh[p])
            ages[k, slot[k]] = (day - int(self.birth[p])) / _YEAR
            codes[k, slot[k]] = self.child_code[p]
            slot[k] += 1
        ages[ages >= 18] = np.nan
        got = DayTable(experience, ages, codes, n_ended, n_unplanned)
        self._tables[day] = got
        if len(self._tables) > _TABLES_KEPT:
            self._tables.popitem(last=False)
        return got


@dataclass(frozen=True)
class DayTable:
    """Every household as the record stood on one day (rows are pool positions)."""

    experience: np.ndarray  # (households, needs) bool
    ages: np.ndarray  # (households, k) ages of the children under 18 living there, NaN padded
    codes: np.ndarray  # (households, k) the placed child's code in the log, -1 for a birth child or padding
    ended: np.ndarray  # placements there that had ended
    unplanned: np.ndarray  # of which ended unplanned within 12 months

    def ages_without(self, hh_idx: np.ndarray, child_ids: np.ndarray, code_of: Mapping[str, int]) -> np.ndarray:
        """The ages at these households, leaving out each pair's own child where it is placed there
        (``child_ids`` one per pair, or one for every pair)."""
        ages = self.ages[hh_idx]
        if len(child_ids) == 1:
            own = np.full(1, code_of.get(str(child_ids[0]), -2), dtype=np.int64)
        else:
            own = np.array([code_of.get(str(c), -2) for c in child_ids], dtype=np.int64)
        mine = self.codes[hh_idx] == own[:, None]
        if mine.any():
            ages = ages.copy()
            ages[mine] = np.nan
        return ages


def _padded(lists: list[list[float]]) -> np.ndarray:
    width = max([len(a) for a in lists] + [1])
    out = np.full((len(lists), width), np.nan)
    for r, a in enumerate(lists):
        out[r, : len(a)] = a
    return out
