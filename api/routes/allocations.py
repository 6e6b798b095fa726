"""Allocations: solves and what-ifs run as jobs, compared, published; awards explained."""

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import (
    BidReader,
    IdPath,
    JobsDep,
    Manager,
    ManagerOrFinance,
    Pagination,
    SessionDep,
)
from api.routes import COMMON, problems
from api.schemas.allocations import (
    AllocationPublic,
    AllocationRequest,
    AllocationSummary,
    AwardPublic,
    ComparisonPublic,
)
from api.schemas.base import Page
from bidding import comparison, publication, solves

router = APIRouter(tags=["allocations"], responses=COMMON)

_JSON_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}
}


@router.post(
    "/v1/rounds/{round_id}/allocations",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404, 409),
)
def solve_round(
    round_id: IdPath,
    body: AllocationRequest,
    session: SessionDep,
    actor: Manager,
    jobs: JobsDep,
) -> AllocationSummary:
    """Queue a solve of a closed or solved round (any override makes it a what-if); 202.

    409 `round_not_solvable` in another state, 409 `solve_in_progress` while one of the
    round's solves is queued or running; 422 naming any unknown id in the overrides.
    Poll `GET /v1/allocations/{id}` until `done` or `failed`.
    """
    row = solves.solve_round(
        session=session,
        actor=actor,
        round_id=round_id,
        overrides=body.overrides(),
        jobs=jobs,
    )
    return AllocationSummary.of(row)


@router.get("/v1/rounds/{round_id}/allocations", responses=problems(404))
def list_allocations(
    round_id: IdPath, session: SessionDep, actor: ManagerOrFinance, page: Pagination
) -> Page[AllocationSummary]:
    """The round's allocations (solves and what-ifs), without their results, newest first."""
    rows = solves.list_allocations(
        session=session, principal=actor, round_id=round_id, after=page.after, limit=page.limit
    )
    return Page(
        data=[AllocationSummary.of(r) for r in rows],
        next_cursor=page.next_cursor(rows[-1].id if rows else None, len(rows)),
    )


@router.get("/v1/allocations/{allocation_id}", responses=problems(404))
def get_allocation(
    allocation_id: IdPath, session: SessionDep, actor: ManagerOrFinance
) -> AllocationPublic:
    """Status (queued, running, done, failed), timings and the result in the result format."""
    row = solves.get_allocation(session=session, allocation_id=allocation_id)
    return AllocationPublic.with_result(row, solves.presented_result(session=session, row=row))


@router.get("/v1/allocations/{allocation_id}/problem", responses={**_JSON_OBJECT, **problems(404)})
def get_allocation_problem(
    allocation_id: IdPath, session: SessionDep, actor: ManagerOrFinance
) -> Response:
    """The problem this allocation solved (overrides applied): `supplybid solve` replays it."""
    text = solves.allocation_problem_text(session=session, allocation_id=allocation_id)
    return Response(content=text, media_type="application/json")


@router.get("/v1/allocations/{allocation_id}/compare/{other_id}", responses=problems(404, 409))
def compare_allocations(
    allocation_id: IdPath, other_id: IdPath, session: SessionDep, actor: ManagerOrFinance
) -> ComparisonPublic:
    """Objective, spend, expected takeover, per item and per factory: `other` against this."""
    return ComparisonPublic.of(
        comparison.compare_allocations(
            session=session, allocation_id=allocation_id, other_id=other_id
        )
    )


@router.post("/v1/allocations/{allocation_id}/publish", responses=problems(404, 409))
def publish_allocation(
    allocation_id: IdPath, session: SessionDep, actor: Manager
) -> AllocationSummary:
    """Publish a done allocation of a solved round; awards become binding, round `published`.

    409 `publication_refused` with `findings` when the independent verifier finds anything,
    the allocation loosens a promise of the round (lower margin floor, higher share, a new
    factory's guarantee or an item's minimum fill lowered), or units awarded elsewhere in
    the period changed since it was solved (another round published first: solve again).
    """
    row = publication.publish_allocation(session=session, actor=actor, allocation_id=allocation_id)
    return AllocationSummary.of(row)


@router.get("/v1/rounds/{round_id}/awards", responses=problems(404, 409))
def list_awards(
    round_id: IdPath, session: SessionDep, actor: BidReader, page: Pagination
) -> Page[AwardPublic]:
    """Awards of the published allocation, in bid order; a factory sees its own only.

    Before publication every role gets 409 `round_not_published`; a round a factory
    cannot see is a 404.
    """
    rows = publication.list_awards(
        session=session, principal=actor, round_id=round_id, after=page.after, limit=page.limit
    )
    return Page(
        data=[AwardPublic.of(r) for r in rows],
        next_cursor=page.next_cursor(rows[-1].bid_id if rows else None, len(rows)),
    )
