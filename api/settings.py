"""The service's settings, from the environment (prefix ``MATCHING_``) and ``DATABASE_URL``.

A user's remit is never a setting: it comes from their account (``matching users add``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from matching.accounts.demo import is_production
from matching.accounts.production import DEFAULT_SIGNING_SECRET
from matching.jobs.runner import default_workers

#: Hosts a development server answers to when none are configured: loopback, and the test client's.
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")


def _codes(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


class Settings(BaseSettings):
    """Service configuration.  In production (``MATCHING_ENVIRONMENT=production``) the service refuses to start
    unless the signing secret, the allowed hosts and the sign-in methods are set and no demonstration account
    is enabled."""

    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    environment: str = "development"
    #: Keys the sign-in form's CSRF token (before there is a session).  Production must set its own.
    signing_secret: str = DEFAULT_SIGNING_SECRET
    #: Comma-separated host names the service answers to (empty: loopback only, in development).
    allowed_hosts: str = ""
    #: Comma-separated sign-in methods: ``password`` (local accounts) and ``oidc`` (single sign-on).
    sign_in_methods: str = "password"
    #: The single sign-on configuration (YAML or JSON, see ``matching.accounts.oidc``), when ``oidc`` is a method.
    oidc_config: Path | None = None
    #: The client secret of the pages' single sign-on (the configuration's ``client_id``); never logged or shown.
    oidc_client_secret: SecretStr | None = None
    #: Seconds a bearer token's principal is kept in this process after the store confirmed it.  0 (the default):
    #: ask the store on every request (~0.4 ms on SQLite), so a token revoked or an account disabled elsewhere
    #: stops at once; a few seconds help only where the store is far away (a network round trip per request).
    token_cache_seconds: float = Field(default=0.0, ge=0, le=300)
    #: Allocation requests with more waiting children are refused (413).
    allocation_max_children: int = 20_000
    #: Allocations of at most this many waiting children answer directly instead of as a job.
    allocation_direct_max_children: int = 200
    # --- limits on what a caller controls (docs/limits.md) ---
    #: Request bodies larger than this are refused (413) before they are read.
    max_body_bytes: int = Field(default=65_536, ge=1024, le=16 * 1024 * 1024)
    #: Threads computing matches, step-down and their pages; further such requests wait their turn, while
    #: /health and light routes answer from the event loop and the ordinary thread pool.  The threads share one
    #: core (the GIL): more of them add no speed and slow the event loop; more cores need more processes.
    #: One by default: measured on the idle 2-core machine (make bench-service), one thread gave 210-225 matches/s
    #: and /health p99 47-108 ms at 64 clients, two gave 185-199 and 65-172 ms.
    worker_threads: int = Field(default=1, ge=1, le=64)
    #: Dates a caller may ask about (``on=``, ``placement_date``): the store's records, from the earliest to
    #: the latest (or today, if later), widened by this many days each side.
    date_window_days: int = Field(default=731, ge=0, le=36_500)
    #: The longest ``time_limit_seconds`` an allocation request may ask for.
    allocation_max_seconds: float = Field(default=60.0, gt=0, le=300)
    #: The most futures (``simulations``) a sufficiency run through the API may ask for.
    sufficiency_max_futures: int = Field(default=20_000, ge=1, le=100_000)
    #: The most new households a sufficiency scenario through the API may recruit, over all its recruit levers.
    sufficiency_max_recruits: int = Field(default=2_000, ge=0, le=200_000)
    #: Household pools kept in memory, one per remit (least recently used dropped first).
    pool_cache_size: int = Field(default=8, ge=1, le=1000)
    #: Other things kept between requests (step-down pools, one per remit and date; least recently used first).
    keyed_cache_size: int = Field(default=32, ge=1, le=10_000)

    # Jobs (allocations and sufficiency runs; see docs/jobs.md).  Each runs in a process of its own.
    #: Jobs run at once by this service process (default: half its cores, at least one).
    job_workers: int = Field(default_factory=default_workers, ge=1, le=256)
    #: Jobs of one user run at once (across the service's processes); more wait in the queue.
    job_workers_per_user: int = Field(default=2, ge=1, le=256)
    #: Jobs waiting to run, in all: beyond it a new job is refused (429 with Retry-After).
    job_queue_max: int = Field(default=20, ge=0, le=100_000)
    #: Jobs of one user waiting to run: beyond it their new job is refused (429 with Retry-After).
    job_queue_max_per_user: int = Field(default=5, ge=0, le=100_000)
    #: Days a job and its result are kept after it ends (done, failed, cancelled or interrupted), then deleted.
    job_keep_days: float = Field(default=7.0, gt=0, le=3650)
    #: A job process's address space in MiB (0: no cap); beyond it the job fails as out of memory.
    job_memory_mb: int = Field(default=8192, ge=0)
    #: The Retry-After (seconds) of a refusal when the queue is full.
    job_retry_after_seconds: int = Field(default=30, ge=1, le=3600)
    #: A Dask scheduler (``tcp://host:8786``) to run sufficiency jobs' futures on; none: in the job's process.
    sufficiency_scheduler: str | None = None

    @property
    def production(self) -> bool:
        """True in production."""
        return is_production(self.environment)

    @property
    def hosts(self) -> list[str]:
        """The host names the service answers to."""
        configured = _codes(self.allowed_hosts)
        return configured or ([] if self.production else list(DEVELOPMENT_HOSTS))

    @property
    def methods(self) -> list[str]:
        """The sign-in methods, lower case."""
        return [m.lower() for m in _codes(self.sign_in_methods)]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
