"""The database too busy to answer in time: a 503 to retry, not a 500.

On SQLite a writer waits up to the busy timeout for the write lock (BEGIN IMMEDIATE),
then gets "database is locked"; on PostgreSQL a lock wait can time out or a transaction
be chosen as a deadlock victim. Each leaves nothing written, so the client may retry.
Register in api/app.py:

    app.add_exception_handler(OperationalError, database_busy)
"""

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from api.problems import problem_response

RETRY_AFTER_S = 1
SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
POSTGRES_RETRYABLE = frozenset({"55P03", "40P01", "40001"})
"""lock_not_available, deadlock_detected, serialization_failure."""


def is_database_busy(exc: OperationalError) -> bool:
    """Whether the error is a lock wait that ran out or lost, not a fault of the database."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in POSTGRES_RETRYABLE:
        return True
    message = str(exc.orig).lower()
    return any(busy in message for busy in SQLITE_BUSY)


def database_busy_response() -> JSONResponse:
    """A 503 problem telling the client to retry in a moment."""
    return problem_response(
        status=503,
        code="database_busy",
        title="The database is busy",
        detail="Another write held the database too long; nothing was changed. Retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def database_busy(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: a busy database is a 503 with Retry-After; any other error stays."""
    if isinstance(exc, OperationalError) and is_database_busy(exc):
        return database_busy_response()
    raise exc  # not ours to explain: the server error handler logs it and answers 500
