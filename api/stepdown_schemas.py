"""Response shapes of the step-down routes (documented in OpenAPI; the routes return these fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Stage = Literal["not_yet_ready", "building_readiness", "ready_to_start_matching", "in_transition", "stepped_down"]


class IndicatorOut(BaseModel):
    """One readiness indicator with its evidence."""

    name: str
    label: str
    status: Literal["met", "not_met", "not_known"]
    weight: float
    required: bool
    value: str
    trend: str | None
    threshold: str
    action: str | None


class CandidateOut(BaseModel):
    """A family option for a ready child."""

    kind: Literal["foster", "kin", "return_home"]
    household_id: str | None
    agency_type: str | None
    score: float | None
    distance_miles: float | None
    weekly_cost: float
    plan: list[str] = Field(description="What the placement plan would need: training and support.")
    p_lasting: float | None = Field(description="Stability estimate when a model is loaded.")
    p_success: float | None = Field(
        description="Step-down estimate (still there at 52 weeks) when a model is loaded and shown (see `model`)."
    )
    offered_to_others: int | None = Field(
        default=None, description="How many other ready children of the cohort this family is offered to."
    )
    vacancies: int | None = Field(default=None, description="The family's free places.")


class StepDownOut(BaseModel):
    """One child's step-down readiness."""

    child_id: str
    stage: Stage
    indicators: list[IndicatorOut]
    blockers: list[str] = Field(description="What stands in the way; the care plan and the child's view first.")
    actions: list[str]
    candidates: list[CandidateOut]
    weekly_cost_now: float
    weekly_cost_candidate: float | None
    annual_saving: float | None
    la_code: str
    place: str
    score: float
    wishes: str
    note: str | None


class ChildStepDownOut(StepDownOut):
    """One child's step-down readiness, with the learned estimate's status."""

    model: str = Field(
        description="The learned step-down estimate in use, or why it is withheld and readiness is rules-only."
    )


class ProposedMoveOut(BaseModel):
    """One ready child in the cohort-wide proposal."""

    child_id: str
    kind: Literal["foster", "kin", "return_home"]
    household_id: str | None
    score: float | None


class ProposalOut(BaseModel):
    """Who could go where across the cohort within every family's vacancies (the allocation engine)."""

    status: str = Field(description="The allocation's status: optimal, or feasible with a gap.")
    moves: list[ProposedMoveOut]
    unplaced: list[dict[str, str]] = Field(description="Ready children without a family in the proposal, and why.")
    note: str


class CohortOut(BaseModel):
    """The cohort on one date: counts by stage, costs, and the children (filtered by stage if asked)."""

    assessed_on: str
    model: str = Field(description="The learned step-down estimate in use, or why readiness is rules-only.")
    counts: dict[str, int]
    costs: dict[str, float]
    children: list[StepDownOut]
    proposal: ProposalOut | None = Field(
        default=None, description="A cohort-wide proposal that keeps within every family's vacancies."
    )
