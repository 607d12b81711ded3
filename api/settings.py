"""The service's settings, from the environment (prefix ``MATCHING_``) and ``DATABASE_URL``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service configuration.  Until authentication lands, the remit is set here for the whole service."""

    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    environment: str = "development"
    #: Comma-separated LA codes this deployment may see (empty: all).
    scope_las: str = ""
    #: Comma-separated agency codes this deployment may see (empty: all).
    scope_agencies: str = ""
    #: Allocation requests with more waiting children are refused (413).
    allocation_max_children: int = 20_000
    #: Allocations of at most this many waiting children answer directly instead of as a job.
    allocation_direct_max_children: int = 200


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
