"""Loading a YAML settings file into a validated pydantic model, with every problem in one message."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], error: type[ValueError], what: str) -> M:
    """``path`` parsed as YAML and validated as ``model``; ``error`` names the file and every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise error(f"{path}: invalid {what}: {details}") from exc
