"""The needs-skills taxonomy is validated on load; a service can supply its own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from matching.taxonomy import DEFAULT_TAXONOMY_PATH, TaxonomyError, load_taxonomy

REQUIRED_NEEDS = {
    "trauma_attachment",
    "emotional_regulation",
    "physical_aggression",
    "self_harm",
    "sexualised_behaviour",
    "sexual_exploitation",
    "criminal_exploitation",
    "going_missing",
    "substance_misuse",
    "eating_difficulties",
    "autism",
    "learning_disability",
    "physical_disability_medical",
    "education_exclusion",
    "offending",
    "shame_behaviours",
}


def test_default_taxonomy_covers_the_need_domains() -> None:
    tax = load_taxonomy()
    assert set(tax.need_ids) >= REQUIRED_NEEDS
    assert {
        "secure_base",
        "pace_ddp",
        "theraplay",
        "social_pedagogy",
        "foundations_for_attachment",
        "de_escalation_pbs",
        "self_harm_awareness",
        "cse_cce_awareness",
        "autism_awareness",
        "first_aid_medical",
        "tsd_standards",
    } <= set(tax.course_ids)
    assert tax.best_course("self_harm") == "self_harm_awareness"


def test_course_expiry() -> None:
    tax = load_taxonomy()
    assert tax.course_expiry("tsd_standards", date(2020, 1, 1)) is None
    assert tax.course_expiry("de_escalation_pbs", date(2020, 1, 1)) == date(2021, 12, 31)


def test_a_service_can_supply_its_own(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text())
    raw["needs"]["gaming_addiction"] = {"label": "Gaming", "courses": {"tsd_standards": 0.3}}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert "gaming_addiction" in load_taxonomy(path).need_ids


def test_every_inconsistency_is_reported(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text())
    raw["needs"]["self_harm"]["courses"]["yoga"] = 0.5
    raw["needs"]["autism"]["experience"] = ["unicorns"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    assert "yoga" in str(info.value)
    assert "unicorns" in str(info.value)


def test_weights_out_of_range_and_bad_yaml(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text())
    raw["needs"]["self_harm"]["courses"]["self_harm_awareness"] = 1.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaxonomyError, match=r"needs\.self_harm"):
        load_taxonomy(path)
    path.write_text("needs: [unclosed")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(path)
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.yaml")
