"""Who can live together: feasible and infeasible cases, by the family's rows, the whole model and the validator."""

from __future__ import annotations

from matching.allocation.constraints import room as room_family
from matching.allocation.constraints import together
from matching.allocation.validate import violations
from tests.allocation.factories import instance, make_unit, room, unit
from tests.allocation.fixing import accepts


def test_children_whose_limits_allow_each_other() -> None:
    # The teenager lives only with older children; the sibling pair's elder poses a risk of sexual harm to younger
    # children, the younger sibling included (the care plan's to weigh, never a bar), but not to the older teenager.
    siblings = make_unit("Sib", ("S1", "S2"), (12, 8), per_child=[("any", ("sexual_harm",))])
    inst = instance(
        [unit("Teen", age=14, live="only_older"), unit("Older", age=16), siblings],
        [room("H", vacancies=3), room("G", vacancies=2)],
        [(0, 0, 50), (1, 0, 50), (2, 1, 50)],
    )
    fine = {0: 0, 1: 1, 2: 2}
    assert together.rows(inst).about.tolist() == [[0, 0, 0, 14], [1, 2, 0, 11]]
    assert together.violations(inst, fine) == []
    assert violations(inst, fine) == []
    assert accepts(inst, fine, together)
    assert accepts(inst, fine)


def test_children_a_limit_rules_out_are_refused() -> None:
    inst = instance(
        [
            unit("Teen", age=14, live="only_older"),
            unit("Young", age=9),
            unit("Harm", age=10, risks=("physical_harm",)),
            unit("Toddler", age=3),
        ],
        [room("H", vacancies=3), room("G", vacancies=3)],
        [(0, 0, 50), (1, 0, 50), (2, 1, 50), (3, 1, 50)],
    )
    with_teen, with_toddler = {0: 0, 1: 1}, {2: 2, 3: 3}
    assert together.violations(inst, with_teen) == [
        "H: Teen rules out children aged 0-14, and Young live there with them"
    ]
    assert together.violations(inst, with_toddler) == [
        "G: Harm rules out children aged 0-4, and Toddler live there with them"
    ]
    for wrong in (with_teen, with_toddler):
        assert room_family.violations(inst, wrong) == []  # room enough: the rule is together's alone
        assert violations(inst, wrong)
        assert not accepts(inst, wrong, together)
        assert not accepts(inst, wrong)
