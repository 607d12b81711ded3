"""Job kinds for the tests (module-level, so a job's process finds them by name)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from matching.jobs.kinds import Progress


def long_solve(
    engine: Engine, parameters: Mapping[str, Any], progress: Progress, _o: Mapping[str, Any]
) -> dict[str, Any]:
    """A CP-SAT solve that takes minutes: the shortest Golomb ruler with 12 marks (proving 85 optimal is slow)."""
    from ortools.sat.python import cp_model

    marks, top = 12, 120
    model = cp_model.CpModel()
    x = [model.new_int_var(0, top, f"x{i}") for i in range(marks)]
    model.add(x[0] == 0)
    diffs = []
    for i in range(marks):
        for j in range(i + 1, marks):
            d = model.new_int_var(1, top, f"d{i}_{j}")
            model.add(d == x[j] - x[i])
            diffs.append(d)
    model.add_all_different(diffs)
    for i in range(marks - 1):
        model.add(x[i] < x[i + 1])
    model.minimize(x[-1])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(parameters.get("seconds", 120))
    solver.parameters.num_workers = 1
    progress(10, "solving")
    started = time.monotonic()
    status = solver.solve(model)
    return {"status": solver.status_name(status), "seconds": time.monotonic() - started}


def sleeper(engine: Engine, parameters: Mapping[str, Any], progress: Progress, _o: Mapping[str, Any]) -> dict[str, Any]:
    """Reports progress every tenth of a second for ``seconds``, then answers (no CPU to speak of)."""
    seconds = float(parameters.get("seconds", 60))
    started = time.monotonic()
    while (spent := time.monotonic() - started) < seconds:
        progress(int(100 * spent / seconds), "sleeping")
        time.sleep(0.1)
    return {"slept": seconds, "child_id": parameters.get("child_id")}


def hog(engine: Engine, parameters: Mapping[str, Any], progress: Progress, _o: Mapping[str, Any]) -> dict[str, Any]:
    """Asks for ``mb`` MiB at once (calloc'd: no page is touched, so without a cap it costs no time)."""
    import numpy as np

    progress(10, "eating")
    block = np.zeros(int(parameters["mb"]) * 1024 * 1024, dtype=np.uint8)
    return {"got": int(block.size)}


def boom(engine: Engine, parameters: Mapping[str, Any], progress: Progress, _o: Mapping[str, Any]) -> dict[str, Any]:
    """Fails with a message that quotes its input."""
    raise ValueError(f"cannot place child {parameters['child_id']}")
