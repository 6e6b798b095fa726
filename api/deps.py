"""Dependencies of the routes: the session, the caller, role checks, pagination."""

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.limits import principal_of
from api.schemas.base import ID_PATTERN
from bidding import keys
from bidding.errors import Forbidden, InvalidCursor
from bidding.models import Role
from bidding.principal import Principal
from bidding.solves import JobQueue
from bidding.thresholds import ThresholdQueue


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The route's session: it takes a connection at its first query, inside the route, and
    gives it back as soon as the route returns (scope "function"), before the response is
    encoded and sent, so no connection waits on a thread or on the client.

    Made on the event loop (no I/O until the first query) and closed on a worker thread
    (closing gives the connection back, a rollback): one hop to a thread, not two.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # a cancelled request still gives it back
                await run_in_threadpool(session.close)
        else:
            session.close()  # holds no connection (closed by `in_thread`): no I/O, no hop


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def in_thread[R](session: Session, work: Callable[[], R]) -> R:
    """A route's blocking work and its session's close, in one call on a worker thread.

    A sync route costs three hand-overs to a thread and back (the route, FastAPI's check
    of its answer, which it runs on a thread for a sync route, and the session's close),
    each a few tenths of a millisecond of the event loop's CPU, and the loop's CPU is what
    bounds the requests a process serves. An async route that does its work here costs
    one: the answer is checked on the loop (microseconds) and the session is closed by
    then, its connection given back before the answer is encoded.
    """

    def run() -> R:
        try:
            return work()
        finally:
            session.close()

    return await run_in_threadpool(run)


async def get_jobs(request: Request) -> JobQueue:
    """The app's solve job queue (embedded or procrastinate)."""
    jobs: JobQueue = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobQueue, Depends(get_jobs)]


async def get_threshold_jobs(request: Request) -> ThresholdQueue:
    """The same queue, for the job a publication with pending thresholds queues."""
    jobs: ThresholdQueue = request.app.state.jobs
    return jobs


ThresholdJobsDep = Annotated[ThresholdQueue, Depends(get_threshold_jobs)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sbk_...`.")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer key (401 without a valid one).

    The admission middleware has looked the key up already (then this is a plain read on
    the event loop, no thread); without it (an app built without the middleware) the
    lookup runs in its own short session on a thread, never in the route's, so no
    connection is held while the route waits for a thread.
    """
    admitted = principal_of(request.scope)
    if admitted is not None:
        return admitted
    secret = credentials.credentials if credentials else None
    return await run_in_threadpool(_authenticate, request.app.state.engine, secret)


def _authenticate(engine: Engine, secret: str | None) -> Principal:
    with Session(engine) as session:
        return keys.authenticate(session=session, secret=secret)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only these roles through (403 for the others).

    Async, as the other light dependencies: a plain check needs no worker thread (FastAPI
    runs a sync dependency on one, a hop to a thread and back per request).
    """
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(allowed))
            raise Forbidden(f"this needs the role {names}; the key is {principal.role}")
        return principal

    return check


Admin = Annotated[Principal, Depends(require(Role.admin))]
Manager = Annotated[Principal, Depends(require(Role.manager))]
FactoryRole = Annotated[Principal, Depends(require(Role.factory))]
AdminOrManager = Annotated[Principal, Depends(require(Role.admin, Role.manager))]
AdminManagerOrFactory = Annotated[
    Principal, Depends(require(Role.admin, Role.manager, Role.factory))
]
FinanceOrAdmin = Annotated[Principal, Depends(require(Role.finance, Role.admin))]
ManagerOrFinance = Annotated[Principal, Depends(require(Role.manager, Role.finance))]
BidReader = Annotated[Principal, Depends(require(Role.factory, Role.manager, Role.finance))]

IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="An id this service made.")]


@dataclass(frozen=True)
class PageParams:
    """Where a list page starts (after the cursor's key) and how long it is."""

    after: str | None
    limit: int

    def after_seq(self) -> int:
        """The cursor's key as a sequence number (lists ordered by number)."""
        if self.after is None:
            return 0
        if not re.fullmatch(r"[0-9]{1,18}", self.after):
            raise InvalidCursor()
        return int(self.after)

    def next_cursor(self, last_key: str | int | None, count: int) -> str | None:
        """The cursor of the next page, or None when this page is the last."""
        if last_key is None or count < self.limit:
            return None
        raw = json.dumps({"after": str(last_key)}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_KEY = re.compile(ID_PATTERN)


async def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Page length.")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    """Pagination: an opaque cursor and a limit."""
    if cursor is None:
        return PageParams(after=None, limit=limit)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = decoded["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidCursor() from exc
    if not isinstance(after, str) or not _CURSOR_KEY.fullmatch(after):
        raise InvalidCursor()
    return PageParams(after=str(after), limit=limit)


Pagination = Annotated[PageParams, Depends(page_params)]
