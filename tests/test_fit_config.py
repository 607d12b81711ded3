"""The fit weights file is validated on load; a service can supply its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from matching.fit_config import DEFAULT_FIT_CONFIG_PATH, FACTORS, FitConfigError, load_fit_config


def write(tmp_path: Path, change: dict) -> Path:  # type: ignore[type-arg]
    raw = yaml.safe_load(DEFAULT_FIT_CONFIG_PATH.read_text())
    for key, value in change.items():
        section, _, field = key.partition(".")
        if field:
            raw[section][field] = value
        else:
            raw[section] = value
    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_weights_add_up_to_100() -> None:
    cfg = load_fit_config()
    assert set(cfg.weights) == set(FACTORS)
    assert sum(cfg.weights.values()) == pytest.approx(100)


def test_a_service_can_reweight(tmp_path: Path) -> None:
    cfg = load_fit_config(
        write(
            tmp_path,
            {
                "weights": {
                    "needs": 50,
                    "locality": 10,
                    "household_fit": 15,
                    "track_record": 15,
                    "identity": 10,
                    "stability": 0,
                }
            },
        )
    )
    assert cfg.weights["needs"] == 50
    assert load_fit_config().with_weights(needs=30, stability=10).weights["stability"] == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights.needs": 45}, "add up to 100"),
        ({"weights.charm": 0}, "exactly"),
        ({"locality.home": 0.9}, "locality shares"),
        ({"rules.max_distance_miles": -1}, "rules.max_distance_miles"),
    ],
)
def test_bad_weights_are_refused_with_the_reason(tmp_path: Path, change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(FitConfigError, match=message):
        load_fit_config(write(tmp_path, change))
