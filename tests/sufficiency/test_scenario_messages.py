"""A scenario's mistakes in words that say what to change (issue 18, item 7)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from matching.sufficiency.scenario import Recruit


def test_reversed_ages_are_called_reversed() -> None:
    with pytest.raises(ValidationError, match=r"ages \[17, 11\] are reversed") as caught:
        Recruit(households=5, ages=(17, 11))
    assert "within 0-17" not in str(caught.value)


def test_an_age_out_of_range_is_named() -> None:
    with pytest.raises(ValidationError, match=r"within 0-17 \(19 is not\)"):
        Recruit(households=5, ages=(11, 19))
    assert Recruit(households=5, ages=(11, 17)).ages == (11, 17)
