"""CP-SAT with an assignment's values fixed: does the model, or one constraint family's rows, accept it?"""

from __future__ import annotations

from types import ModuleType

from ortools.sat.python import cp_model

from matching.allocation.constraints.rows import chosen
from matching.allocation.instance import AllocationInstance
from matching.allocation.model import add_rows, build_model


def fixed_status(instance: AllocationInstance, assignment: dict[int, int], family: ModuleType | None = None) -> int:
    """CP-SAT's status on the whole model (or on ``family``'s rows alone) with every arc fixed to its value under
    ``assignment``: FEASIBLE or OPTIMAL when it accepts the assignment, INFEASIBLE when it does not."""
    if family is None:
        model, x = build_model(instance)
    else:
        model = cp_model.CpModel()
        x = [model.new_bool_var(f"x{k}") for k in range(len(instance.arcs))]
        add_rows(model, x, family.rows(instance))
    for var, value in zip(x, chosen(instance, assignment).tolist(), strict=True):
        model.add(var == value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    return solver.solve(model)


def accepts(instance: AllocationInstance, assignment: dict[int, int], family: ModuleType | None = None) -> bool:
    """Whether the model (or ``family``'s rows alone) has a solution with exactly the arcs of ``assignment``."""
    return fixed_status(instance, assignment, family) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
