"""Need coverage: the fast path for yes/no flags equals the definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.coverage import CoverageTables
from matching.taxonomy import load_taxonomy

TABLES = CoverageTables.from_taxonomy(load_taxonomy())


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.floats(0, 1), st.floats(0, 1))
def test_flag_path_equals_the_definition(seed: int, rows: int, p_course: float, p_exp: float) -> None:
    rng = np.random.default_rng(seed)
    cur = rng.random((rows, len(TABLES.course_ids))) < p_course
    exp = rng.random((rows, len(TABLES.need_ids))) < p_exp
    fast = TABLES.need_coverage(cur, exp)
    slow = TABLES.need_coverage(cur.astype(float), exp.astype(float))
    assert np.array_equal(fast, slow)
    assert np.array_equal(TABLES.need_coverage(cur[0], exp[0]), slow[0])
