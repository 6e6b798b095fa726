"""The service's settings: environment variables prefixed SUPPLYBID_, or a .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment, in one place."""

    model_config = SettingsConfigDict(env_prefix="SUPPLYBID_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/supplybid.db"
    """A SQLAlchemy URL: sqlite:///... or postgresql+psycopg://..."""
    sqlite_busy_timeout_s: float = 30.0
    """How long a SQLite writer waits for the database lock before giving up."""
    idempotency_ttl_hours: int = 24
    """How long an Idempotency-Key is remembered (API.md: at least 24 hours)."""
    idempotency_stale_after_s: int = 300
    """An in-flight idempotent request older than this is taken as crashed and may be retried."""
    job_queue: Literal["auto", "embedded", "procrastinate"] = "auto"
    """Where solves run: auto is embedded on SQLite and procrastinate on PostgreSQL."""
    worker_heartbeat_s: float = 10.0
    """How often a `supplybid worker` tells PostgreSQL it is alive."""
    stalled_after_s: float = 30.0
    """A job whose worker has not sent a heartbeat for this long is retried by another."""
    stalled_check_cron: str = "* * * * * */10"
    """When workers look for stalled jobs (cron with seconds as the sixth field)."""
    solve_delay_s: float = 0.0
    """Test hook: seconds a job waits after marking its allocation running, before solving."""

    # The audit log (README, "The audit log and the database roles")
    owner_database_url: str | None = None
    """The owner's URL (PostgreSQL): `supplybid db upgrade` migrates and grants with it.

    The app's own role (`database_url`) then owns nothing and may only append to the
    audit log. Unset, migrations run with `database_url` (one role: SQLite, or development).
    """
    audit_key: SecretStr | None = Field(default=None, min_length=32)
    """The key of the audit chain's HMAC (finance holds it; e.g. `openssl rand -hex 32`).

    Without it the chain is plain sha256, which anyone who can write the table can recompute.
    """
    audit_anchor_path: Path | None = None
    """An append-only file outside the database where each new chain head is written."""


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
