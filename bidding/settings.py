"""The service's settings: environment variables prefixed SUPPLYBID_, or a .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
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
    deadline_check_s: float = 1.0
    """How often the embedded queue (SQLite) looks for rounds whose deadline has come."""
    deadline_check_cron: str = "* * * * * */5"
    """When procrastinate workers look for rounds whose deadline has come (seconds: 6th field)."""
    solve_delay_s: float = 0.0
    """Test hook: seconds a job waits after marking its allocation running, before solving."""

    # The audit log (README, "The audit log and the database roles")
    owner_database_url: str | None = None
    """The owner's URL (PostgreSQL): `supplybid db upgrade` migrates and grants with it.

    The app's own role (`database_url`) then owns nothing and may only append to the
    audit log. Unset, migrations run with `database_url` (one role: SQLite, or development).
    """
    audit_key: SecretStr | None = None
    """The key of the audit chain's HMAC (finance holds it; e.g. `openssl rand -hex 32`),
    at least 32 characters. The server and workers refuse to start without it
    (`audit_key_refusal`); a chain written without it is plain sha256, which anyone who
    can write the table can recompute."""
    audit_key_file: Path | None = None
    """A file holding the audit key instead (a secrets mount; `make run`'s var/audit-key).
    `audit_key` wins where both are set."""
    audit_anchor_path: Path | None = None
    """An append-only file outside the database where each new chain head is written."""
    # Capacity. A request holds at most one database connection at a time, and only while
    # it runs; at most `concurrency_limit` requests run at once, so a pool a little larger
    # than that is never exhausted (each process has its own; see docs/reliability.md).
    keep_alive_s: float = 75.0
    """How long the server keeps an idle connection open (uvicorn's keep-alive timeout).
    Longer than clients' own idle limits (httpx 5 s, browsers up to 60 s, load balancers
    60 s), so a client never sends a request on a connection the server is closing: with
    uvicorn's 5 s, the load bench's client (httpx, also 5 s) saw up to 19 requests in a
    run fail as `ReadError` on connections closed under them."""
    worker_threads: int = 40
    """Threads that run the routes' blocking work (the web threadpool)."""
    concurrency_limit: int = 8
    """Requests handled at once; more wait in the queue. With the key lookups, at most
    `worker_threads`, so a request never waits for a thread while holding a connection.
    Small on purpose: one process runs Python on one core at a time, so more at once only
    share it more thinly, and a caller's request waits behind all of them (the load
    bench: 32 gave no more throughput than 8, and a bursting key four times the delay)."""
    key_concurrency_limit: int = 2
    """Of those, at most this many from one API key (or one unauthenticated client): a
    bursting key then holds a quarter of the places, and waits behind itself for more."""
    queue_limit: int = 256
    """Requests that may wait for a place; past that a request is answered 503 at once."""
    queue_timeout_s: float = 10.0
    """How long a request waits for a place before a 503 with Retry-After."""
    key_lookup_concurrency: int = 8
    """API key lookups at once, each in its own short session, before a request queues."""
    key_cache_ttl_s: float = 1.0
    """How long a looked-up key (found or not) is believed without asking the database
    again (0: every request asks). A revocation made in this process applies at once; one
    made by another process (another server worker, the CLI) within this time."""
    db_pool_spare: int = 8
    """Connections beyond `concurrency_limit`: the embedded solve worker, health checks."""
    db_pool_timeout_s: float = 10.0
    """How long a checkout waits for a connection before a 503 (never expected)."""

    # Rate limits (the `limits` library's notation, `;` between several), per process.
    rate_limit_per_key: str = "25/second;600/minute"
    """Requests per API key."""
    rate_limit_per_client: str = "10/second;300/minute"
    """Requests per client address without a valid key (no key, an unknown or revoked one)."""
    rate_limit_storage_uri: str = "memory://"
    """Where counts are kept: memory:// is one process's own (see docs/reliability.md)."""
    rate_limit_refusals_per_s: float = 20.0
    """While one of a caller's 429s is held, its next are sent at most this many a second
    (held up to `rate_limit_pace_max_s`): a client that resends at once on many
    connections, ignoring Retry-After, is refused this often, not as often as the server
    can answer. A caller with one request at a time is answered at once."""
    rate_limit_pace_max_s: float = 10.0
    """The longest a 429 is held."""
    rate_limit_paced_max: int = 1024
    """Refusals held at once; past that a 429 is sent at once (file descriptors are finite)."""

    # Request bodies, limited while they arrive (413 past the limit).
    max_body_bytes: int = 1024 * 1024
    """A JSON body."""
    max_sheet_body_bytes: int = 5 * 1024 * 1024 + 64 * 1024
    """A bid sheet upload (POST .../bids/import): the 5 MiB sheet and its multipart framing."""

    def audit_secret(self) -> bytes | None:
        """The audit key's bytes: `audit_key`, else the file's first line; None if neither.

        An unreadable file is an OSError: `audit_key_refusal` says so before anything runs.
        """
        if self.audit_key is not None and self.audit_key.get_secret_value():
            return self.audit_key.get_secret_value().encode()
        if self.audit_key_file is not None:
            text = self.audit_key_file.read_text(encoding="utf-8").strip()
            return text.encode() if text else None
        return None

    @property
    def db_pool_size(self) -> int:
        """Connections the web app's engine keeps: one per request at once, plus spares."""
        return self.concurrency_limit + self.key_lookup_concurrency + self.db_pool_spare


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
