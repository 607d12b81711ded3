"""Plain words for people, codes for machines (issue 18, item 11): the terminal says what a rule or a
placement code means; the JSON keeps the codes."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from matching import codes
from matching.eligibility.rules import RULE_CODES, RULE_LABELS, rule_label
from matching.fit_config import load_fit_config
from matching.ranking.pool import HouseholdPool
from matching.ranking.render import print_result
from matching.ranking.service import rank_households
from matching.taxonomy import load_taxonomy
from tests.factories import make_household, make_request, make_terms


def test_every_rule_and_every_place_code_has_plain_words() -> None:
    assert set(RULE_LABELS) == set(RULE_CODES)
    assert all("_" not in label for label in RULE_LABELS.values())
    assert set(codes.PLACE | codes.PLACE_LEGACY) <= set(codes.PLACE_LABELS)
    assert codes.place_label("K2") == "children's home (K2)"


def test_the_terminal_names_the_rules_in_words_and_the_json_keeps_the_codes() -> None:
    young = make_household(household_id="H-young", terms=make_terms(age_min=0, age_max=4))
    result = rank_households(pool=HouseholdPool([young], load_taxonomy(), load_fit_config()), request=make_request())
    buffer = StringIO()
    print_result(Console(file=buffer, width=300), result)
    text = buffer.getvalue()
    assert rule_label("terms_age") in text
    assert "terms_age" not in text
    assert result.as_dict()["excluded_counts"] == {"terms_age": 1}


def test_a_skills_bottleneck_names_the_need_and_the_course_as_the_taxonomy_spells_them() -> None:
    from matching.sufficiency.run import _skills_text

    tax = load_taxonomy()
    need = next(n for n, d in tax.needs.items() if d.courses)
    text = _skills_text(0.4, "11-15", need)
    assert tax.needs[need].label.lower() in text
    assert tax.courses[tax.best_course(need)].label in text
    assert "_" not in text


def test_what_meets_a_need_reads_as_the_taxonomy_spells_it() -> None:
    tax = load_taxonomy()
    assert tax.provider_label("pace_ddp") == tax.courses["pace_ddp"].label
    assert tax.provider_label("experience:trauma_attachment") == (
        "experience of " + tax.needs["trauma_attachment"].label.lower()
    )
