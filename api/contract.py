"""The API kept to its OpenAPI document: stable operation ids, every refusal listed, strict routing.

- Operation ids are the route functions' names (`create_round`, `submit_bid`), so a generated
  client reads `create_round(...)`, and they change only when a route is renamed.
- Each operation's responses list the problem codes it can answer, one example body each
  (`REFUSALS`, plus the refusals every authenticated operation, list or POST shares).
- A query parameter the operation does not declare is refused (422 naming it), not ignored;
  a method the path does not have is a 405 whose `Allow` lists the methods the path does have.
  Both are decided from the OpenAPI document itself, so behaviour and schema cannot drift.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import PROBLEM_MEDIA_TYPE, problem_response
from bidding.errors import (
    AllocationAlreadyPublished,
    AllocationNotDone,
    AllocationNotFound,
    AllocationsOfDifferentRounds,
    ApiKeyNotFound,
    BiddingError,
    BidExists,
    BidNotFound,
    BidWithdrawn,
    FactoryNotFound,
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidInput,
    InvitationNotFound,
    ItemInUse,
    ItemNotFound,
    NotAuthenticated,
    PublicationRefused,
    RoundAlreadySettled,
    RoundEmpty,
    RoundItemNotFound,
    RoundNotCancellable,
    RoundNotClosed,
    RoundNotDraft,
    RoundNotFound,
    RoundNotOpen,
    RoundNotPublished,
    RoundNotSettled,
    RoundNotSolvable,
    RoundNotSolved,
    SnapshotInvalid,
    SolveInProgress,
)

Refusals = tuple[type[BiddingError], ...]

REFUSALS: dict[str, Refusals] = {
    "create_api_key": (FactoryNotFound,),
    "get_api_key": (ApiKeyNotFound,),
    "revoke_api_key": (ApiKeyNotFound,),
    "get_factory": (FactoryNotFound,),
    "update_factory": (FactoryNotFound,),
    "get_item": (ItemNotFound,),
    "update_item": (ItemNotFound, ItemInUse),
    "get_round": (RoundNotFound,),
    "update_round": (RoundNotFound, RoundNotDraft, RoundNotOpen),
    "put_round_item": (RoundNotFound, ItemNotFound, RoundNotDraft),
    "remove_round_item": (RoundNotFound, RoundItemNotFound, RoundNotDraft),
    "invite_factory": (RoundNotFound, FactoryNotFound, RoundNotDraft),
    "uninvite_factory": (RoundNotFound, InvitationNotFound, RoundNotDraft),
    "open_round": (RoundNotFound, RoundNotDraft, RoundEmpty),
    "close_round": (RoundNotFound, RoundNotOpen, SnapshotInvalid),
    "cancel_round": (RoundNotFound, RoundNotCancellable),
    "get_round_problem": (RoundNotFound, RoundNotClosed),
    "submit_bid": (RoundNotFound, RoundNotOpen, BidExists),
    "import_bids": (RoundNotFound, RoundNotOpen),
    "bid_template": (RoundNotFound,),
    "list_bids": (RoundNotFound, BidNotFound, RoundNotClosed),
    "get_bid": (RoundNotFound, BidNotFound, RoundNotClosed),
    "amend_bid": (RoundNotFound, BidNotFound, RoundNotOpen, BidWithdrawn),
    "withdraw_bid": (RoundNotFound, BidNotFound, RoundNotOpen, BidWithdrawn),
    "list_bid_versions": (RoundNotFound, BidNotFound, RoundNotClosed),
    "solve_round": (RoundNotFound, RoundNotSolvable, SolveInProgress),
    "list_allocations": (RoundNotFound,),
    "get_allocation": (AllocationNotFound,),
    "get_allocation_problem": (AllocationNotFound,),
    "compare_allocations": (AllocationNotFound, AllocationNotDone, AllocationsOfDifferentRounds),
    "publish_allocation": (
        AllocationNotFound,
        RoundNotFound,
        AllocationNotDone,
        RoundNotSolved,
        AllocationAlreadyPublished,
        PublicationRefused,
    ),
    "list_awards": (RoundNotFound, RoundNotPublished),
    "settle_round": (RoundNotFound, RoundNotPublished, RoundAlreadySettled),
    "correct_settlement": (RoundNotFound, RoundNotPublished, RoundNotSettled),
    "get_settlement": (RoundNotFound, RoundNotSettled),
    "get_statements": (RoundNotFound, RoundNotPublished),
    "get_result": (RoundNotFound, RoundNotPublished),
    "audit_takeover": (RoundNotFound, RoundNotPublished),
    "replay_allocation": (AllocationNotFound, AllocationNotDone),
}
"""The refusals of each operation beyond the shared ones (`shared_refusals`): 404s and 409s."""

UNAUTHENTICATED = frozenset({"healthz"})
"""Operations without a key: they share no refusal."""


def operation_id(route: APIRoute) -> str:
    """The route function's name: `create_round`, not `create_round_v1_rounds_post`."""
    return route.name


def shared_refusals(operation: dict[str, Any], method: str) -> Refusals:
    """What every authenticated operation can answer, and lists and POSTs besides."""
    refusals: list[type[BiddingError]] = [NotAuthenticated, Forbidden, InvalidInput]
    names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    if "cursor" in names:
        refusals.append(InvalidCursor)
    if method == "post":
        refusals += [IdempotencyKeyReused, IdempotencyInFlight]
    return tuple(refusals)


def example_body(refusal: type[BiddingError]) -> dict[str, Any]:
    """An example problem document of a refusal, as the API renders it."""
    body: dict[str, Any] = {
        "type": f"urn:supplybid:problem:{refusal.code}",
        "title": refusal.title,
        "status": refusal.status,
        "detail": refusal.title,
        "code": refusal.code,
    }
    if refusal is InvalidInput:
        message = "String should have at least 1 character"
        body["detail"] = f"body.name: {message}"
        body["errors"] = [{"field": "body.name", "message": message}]
    return body


def document_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """Give each operation's refusal responses their codes, as a list and as example bodies."""
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            name = operation.get("operationId", "")
            if name in UNAUTHENTICATED:
                continue
            refusals = shared_refusals(operation, method) + REFUSALS.get(name, ())
            responses = operation.setdefault("responses", {})
            for status, group in _by_status(refusals).items():
                response = responses.setdefault(
                    str(status),
                    {"content": {PROBLEM_MEDIA_TYPE: {"schema": _problem_schema_ref(schema)}}},
                )
                media = response.setdefault("content", {}).setdefault(PROBLEM_MEDIA_TYPE, {})
                media["examples"] = {
                    r.code: {"summary": r.title, "value": example_body(r)} for r in group
                }
                codes = "; ".join(f"`{r.code}`: {r.title}" for r in group)
                response["description"] = f"Refused. `code` is one of: {codes}."
    return schema


def documented_codes(schema: dict[str, Any], path: str, method: str, status: int) -> set[str]:
    """The problem codes the schema lists for one operation and status."""
    response = schema["paths"][path][method.lower()].get("responses", {}).get(str(status), {})
    examples = response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})
    return set(examples)


def _by_status(refusals: Iterable[type[BiddingError]]) -> dict[int, list[type[BiddingError]]]:
    grouped: dict[int, list[type[BiddingError]]] = {}
    for refusal in refusals:
        if refusal not in grouped.get(refusal.status, []):
            grouped.setdefault(refusal.status, []).append(refusal)
    return grouped


def _problem_schema_ref(schema: dict[str, Any]) -> dict[str, Any]:
    if "ProblemDetails" in schema.get("components", {}).get("schemas", {}):
        return {"$ref": "#/components/schemas/ProblemDetails"}
    return {"type": "object"}


@dataclass(frozen=True)
class _PathTemplate:
    pattern: re.Pattern[str]
    literal_segments: int
    queries: dict[str, frozenset[str]]
    """Each method of the path and the query parameters it declares."""


def _templates(schema: dict[str, Any]) -> list[_PathTemplate]:
    templates = []
    for path, operations in schema.get("paths", {}).items():
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))
        queries = {
            method.upper(): frozenset(
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
            )
            for method, operation in operations.items()
        }
        literal = sum(1 for part in path.split("/") if part and not part.startswith("{"))
        templates.append(_PathTemplate(re.compile(f"^{regex}$"), literal, queries))
    return templates


class ContractMiddleware:
    """Refuse what the OpenAPI document does not allow: other methods (405), other queries (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[_PathTemplate] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        queries = self._methods_of(scope)
        if queries is None:  # not an operation of the API (docs, openapi.json): as routed
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in queries:
            allow = ", ".join(sorted(queries))
            response = problem_response(
                status=405,
                code="method_not_allowed",
                title="Method Not Allowed",
                detail=f"{method} is not a method of this path; it has {allow}",
                headers={"Allow": allow},
            )
            await response(scope, receive, send)
            return
        names = QueryParams(scope.get("query_string", b"")).keys()
        unknown = sorted({name for name in names if name not in queries[method]})
        if unknown:
            errors = [
                {"field": f"query.{name[:60]}", "message": "not a parameter of this operation"}
                for name in unknown[:10]
            ]
            response = problem_response(
                status=422,
                code="invalid_input",
                title="Invalid input",
                detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
                errors=errors,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _methods_of(self, scope: Scope) -> dict[str, frozenset[str]] | None:
        if self._templates is None:
            app: FastAPI = scope["app"]
            self._templates = _templates(app.openapi())
        path = scope["path"]
        matches = [t for t in self._templates if t.pattern.match(path)]
        if not matches:
            return None
        # A literal segment beats a parameter, as the router decides (/bids/import).
        best = max(t.literal_segments for t in matches)
        methods: dict[str, frozenset[str]] = {}
        for template in matches:
            if template.literal_segments == best:
                methods.update(template.queries)
        return methods
