"""The FastAPI application: routers, the problem+json error mapping, the OpenAPI text."""

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.contract import ContractMiddleware, document_refusals, operation_id
from api.db_errors import database_busy, server_error
from api.deprecation import DeprecationMiddleware
from api.idempotency import IDEMPOTENCY_KEY_PATTERN, IdempotencyMiddleware
from api.limits import AdmissionMiddleware, document_admission
from api.pages import mount_web
from api.problems import PROBLEM_MEDIA_TYPE, bidding_error_response, problem_response
from api.routes import (
    allocations,
    api_keys,
    audit,
    bids,
    factories,
    finance,
    health,
    items,
    rounds,
)
from bidding import audit as audit_chain
from bidding.db import make_engine
from bidding.errors import BiddingError
from bidding.jobs import Foreground, make_queue
from bidding.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Sealed factory bids on allocation rounds of a consignment supply model.

Every request but `/healthz` carries `Authorization: Bearer <api key>`. Roles: `admin`,
`manager`, `finance`, `factory` (bound to one factory). Refusals are RFC 9457
`application/problem+json` with a stable `code`. Money is a decimal string of ASCII
digits with at most two decimals (`"18.50"`; no spaces, sign or exponent): a JSON number
is still read in this release, and the answer then carries a `Deprecation` header and a
`warnings` member naming each such field. Fractions are decimal strings, units are
integers. Names are stored NFC-normalised; control, bidi-control and zero-width
characters are refused. Lists take `limit` (1..500) and `cursor` and answer
`{"data": [...], "next_cursor": ...}`. A bid answers with an `ETag` of its version:
`If-Match` is optional on PUT and DELETE and required on PATCH (412 when stale, 428 when
missing).
A creating `POST` may carry an `Idempotency-Key` (scoped to the API key, method and
path; kept 24 hours): a replay returns the first response, another body with the same
key is a 422 `idempotency_key_reused`, a replay while the first runs a 409
`idempotency_in_flight`.

Solves run as jobs, never inside a request: `POST /v1/rounds/{id}/allocations` answers 202
with an allocation to poll (`queued`, `running`, `done`, `failed`). On SQLite a worker
thread of the server runs them; on PostgreSQL, `supplybid worker` processes
(SUPPLYBID_JOB_QUEUE chooses: auto, embedded, procrastinate). One solve per round at a
time. Awards are read from `GET /v1/rounds/{id}/awards` once an allocation is published.

A round may have a deadline, `closes_at` (set at creation, moved with `PATCH` to a future
time until it passes). From that moment, by the database's clock, every bid, amendment and
withdrawal is refused with `round_not_open`, and the job queue closes the round as a
manager's close would (its snapshot frozen), audited as done by the system.

After the period, `POST /v1/rounds/{id}/settlement` records the units sold and settles the
round; unsold units are taken over by the platform, attributed to the bids pro rata to
their units by largest remainder (ties to the lower bid id); corrections are new, audited
settlement versions. Statements, the platform's result, the margin audit and the takeover
audit also answer `?format=csv` and `?format=xlsx`.
"""


class ForegroundMiddleware:
    """Counts the requests being served (`bidding.jobs.Foreground`), whole bodies sent."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app = app
        self.foreground = foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.foreground.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.foreground.end()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API on the database the settings name."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The routes' blocking work runs on this many threads (anyio's default limiter).
        to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # The embedded solve worker lives as long as the app; procrastinate's are processes.
        app.state.jobs.start()
        _seed_audit_anchor(app)
        # The OpenAPI document (the contract middleware reads it) is built now, not on the
        # first request, where it held the event loop for 0.6 to 3 s under load.
        app.openapi()
        try:
            yield
        finally:
            app.state.jobs.stop()

    app = FastAPI(
        title="supplybid",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_s=settings.db_pool_timeout_s,
    )
    audit_chain.configure_chain(app.state.engine, audit_chain.ChainSettings.of(settings))
    foreground = Foreground()
    app.state.jobs = make_queue(settings, app.state.engine, foreground)
    app.add_exception_handler(BiddingError, _bidding_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, database_busy)
    app.add_exception_handler(Exception, server_error)  # the last resort: a 500 problem
    app.add_middleware(DeprecationMiddleware)  # inside: a replay repeats its warnings
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(ContractMiddleware)
    app.add_middleware(AdmissionMiddleware, settings=settings)
    app.add_middleware(ForegroundMiddleware, foreground=foreground)  # outside: runs first
    for module in (
        health,
        api_keys,
        factories,
        items,
        rounds,
        bids,
        allocations,
        audit,
        finance,
    ):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema = _document_idempotency_key(
                document_admission(_problems_as_problem_json(schema))
            )
            app.openapi_schema = document_refusals(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    mount_web(app)
    return app


SWITCH_INTERVAL_S = 0.001
"""How often a thread holding the GIL is asked to let another run, in a served process."""


def served_app() -> FastAPI:
    """The app as `supplybid serve` runs it (uvicorn's factory, in each worker process).

    The GIL is handed over every millisecond, not every 5 (Python's default): a request's
    short steps on the event loop (admission, a cached key, a 429) then wait at most about
    a millisecond for a route thread that is busy in Python, instead of up to 5 ms per step.
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return create_app()


def _seed_audit_anchor(app: FastAPI) -> None:
    # A newly configured anchor file gets the chain's head before the next event.
    try:
        with Session(app.state.engine) as session:
            audit_chain.seed_anchor(session)
    except (OSError, SQLAlchemyError):
        log.exception("audit anchor: the head could not be written at start")


async def _bidding_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BiddingError)
    return bidding_error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # Never echo the input: a NaN in it would make the default handler answer 500.
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": str(error["msg"])}
        for error in exc.errors()
    ]
    return problem_response(
        status=422,
        code="invalid_input",
        title="Invalid input",
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
        errors=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    # Routing refusals (no such path, method not allowed) in the same problem shape.
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # a body FastAPI could not even decode: invalid input too
        return problem_response(
            status=422,
            code="invalid_input",
            title="Invalid input",
            detail=str(exc.detail),
            errors=[{"field": "body", "message": str(exc.detail)}],
        )
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    return problem_response(
        status=exc.status_code,
        code=code,
        title=str(exc.detail),
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


def _problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    # FastAPI documents every response as application/json; refusals are problem+json.
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
    return schema


def _document_idempotency_key(schema: dict[str, Any]) -> dict[str, Any]:
    # The header is handled by IdempotencyMiddleware, outside the routes: say so here.
    header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Makes the POST safe to retry: a replay returns the first response.",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    }
    for path in schema.get("paths", {}).values():
        if "post" in path:
            path["post"].setdefault("parameters", []).append(header)
    return schema
