"""Database faults answered as problems: busy or away is a 503 to retry, never a bare 500.

On SQLite a writer waits up to the busy timeout for the write lock (BEGIN IMMEDIATE),
then gets "database is locked"; on PostgreSQL a lock wait can time out or a transaction
be chosen as a deadlock victim. Each leaves nothing written, so the client may retry.
A database that went away (a restart, a dropped connection, pg_terminate_backend) or a
pool with no connection to give is a 503 too: the pool replaces broken connections, so
the service recovers by itself once the database is back. Register in api/app.py:

    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(Exception, server_error)
"""

import logging
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.problems import problem_response

RETRY_AFTER_S = 1
UNAVAILABLE_RETRY_AFTER_S = 2
SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
POSTGRES_RETRYABLE = frozenset({"55P03", "40P01", "40001"})
"""lock_not_available, deadlock_detected, serialization_failure."""
POSTGRES_UNAVAILABLE_CLASSES = ("08", "57P", "53")
"""connection_exception, operator intervention (admin shutdown, cannot connect now),
insufficient resources (too many connections)."""
_log = logging.getLogger("supplybid.api")

Fault = Literal["busy", "unavailable"]


def _sqlstate(exc: DBAPIError) -> str:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(state or "")


def is_database_busy(exc: OperationalError) -> bool:
    """Whether the error is a lock wait that ran out or lost, not a fault of the database."""
    if _sqlstate(exc) in POSTGRES_RETRYABLE:
        return True
    message = str(exc.orig).lower()
    return any(busy in message for busy in SQLITE_BUSY)


def database_fault(exc: BaseException) -> Fault | None:
    """Busy (a lock lost), unavailable (the database or a connection gone), or neither."""
    if isinstance(exc, PoolTimeout):
        return "unavailable"
    if not isinstance(exc, DBAPIError):
        return None
    if isinstance(exc, OperationalError) and is_database_busy(exc):
        return "busy"
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return "unavailable"
    if _sqlstate(exc).startswith(POSTGRES_UNAVAILABLE_CLASSES):
        return "unavailable"
    from_sqlite = type(exc.orig).__module__.startswith("sqlite3")
    if isinstance(exc, OperationalError) and not from_sqlite and not _sqlstate(exc):
        # psycopg gives every error the server reports a SQLSTATE; one without is the
        # client's: the connection could not be made or was lost.
        return "unavailable"
    return None


def database_busy_response() -> JSONResponse:
    """A 503 problem telling the client to retry in a moment."""
    return problem_response(
        status=503,
        code="database_busy",
        title="The database is busy",
        detail="Another write held the database too long; nothing was changed. Retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def database_unavailable_response() -> JSONResponse:
    """A 503 problem for a database out of reach: retry after a moment."""
    return problem_response(
        status=503,
        code="database_unavailable",
        title="The database is unavailable",
        detail=(
            "The database could not be reached or dropped the connection; a write that was "
            "under way was not committed. Retry shortly."
        ),
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


def fault_response(exc: BaseException) -> JSONResponse | None:
    """The 503 for a database fault, or None when the error is not one."""
    fault = database_fault(exc)
    if fault == "busy":
        return database_busy_response()
    if fault == "unavailable":
        _log.warning("database unavailable: %s", exc.__class__.__name__)
        return database_unavailable_response()
    return None


async def database_busy(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: a busy or unreachable database is a 503; any other error stays."""
    response = fault_response(exc)
    if response is None:
        raise exc  # not ours to explain: server_error logs it and answers a 500 problem
    return response


def internal_error_response() -> JSONResponse:
    """The 500 problem: the server failed; nothing about why is shown to the client."""
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="The server failed to answer this request; it has been logged.",
    )


async def server_error(_request: Request, exc: Exception) -> JSONResponse:
    """The last handler (Starlette's ServerErrorMiddleware): every fault as problem+json."""
    response = fault_response(exc)
    if response is not None:
        return response
    return internal_error_response()
