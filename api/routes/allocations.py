"""Allocations: solves and what-ifs run as jobs, compared, published; awards explained."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from api.deps import (
    BidReader,
    IdPath,
    JobsDep,
    Manager,
    ManagerOrFinance,
    Pagination,
    SessionDep,
    ThresholdJobsDep,
)
from api.routes import COMMON, EXPORTS, ExportView, Format, export, json_only, problems
from api.schemas.allocations import (
    AllocationPublic,
    AllocationRequest,
    AllocationSummary,
    AwardPublic,
    ComparisonPublic,
)
from api.schemas.base import Page
from bidding import award_exports, comparison, publication, reports, rounds, solves, thresholds
from bidding.award_figures import AwardContext, award_context
from bidding.errors import AllocationNotDone
from bidding.exports import CSV_MEDIA_TYPE
from bidding.models import Award
from bidding.names import allocation_names, award_names

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


@router.get(
    "/v1/allocations/{allocation_id}",
    response_model=AllocationPublic,
    responses={**EXPORTS, **problems(404, 409)},
)
def get_allocation(
    allocation_id: IdPath,
    session: SessionDep,
    actor: ManagerOrFinance,
    format: Format = "json",
    view: ExportView = None,
) -> AllocationPublic | Response:
    """Status (queued, running, done, failed), timings and the result in the result format.

    The names of the factories and items the rows name are beside the result, by id
    (`factory_names`, `item_names`). `?format=csv|xlsx` exports the result: a row per bid
    with names, per item (units, spend, expected takeover), per factory, and the totals;
    409 `allocation_not_done` while the allocation has no result.
    """
    row = solves.get_allocation(session=session, allocation_id=allocation_id)
    result = solves.presented_result(session=session, row=row)
    state = thresholds.threshold_state(session=session, allocation_id=row.id)
    if result is not None and state is not None:
        result = thresholds.with_stored_thresholds(
            session=session, allocation_id=row.id, result=result
        )
    names = None if result is None else allocation_names(session=session, row=row, result=result)
    if format != "json":
        if result is None or names is None:
            raise AllocationNotDone(row.status, f"allocation {row.id} is {row.status}")
        round_row = rounds.get_round(session=session, principal=actor, round_id=row.round_id)
        context = award_context(session=session, allocation_id=row.id)
        report = reports.allocation_report(row, result, names, round_row.currency, context)
        return export(report, format, view)
    json_only(view)
    return AllocationPublic.with_result(row, result, names, state)


@router.get("/v1/allocations/{allocation_id}/problem", responses={**_JSON_OBJECT, **problems(404)})
def get_allocation_problem(
    allocation_id: IdPath, session: SessionDep, actor: ManagerOrFinance
) -> Response:
    """The problem this allocation solved (overrides applied): `supplybid solve` replays it."""
    text = solves.allocation_problem_text(session=session, allocation_id=allocation_id)
    return Response(content=text, media_type="application/json")


@router.get(
    "/v1/allocations/{allocation_id}/compare/{other_id}",
    response_model=ComparisonPublic,
    responses={**EXPORTS, **problems(404, 409)},
)
def compare_allocations(
    allocation_id: IdPath,
    other_id: IdPath,
    session: SessionDep,
    actor: ManagerOrFinance,
    format: Format = "json",
    view: ExportView = None,
) -> ComparisonPublic | Response:
    """Objective, spend, expected takeover, per item and per factory: `other` against this.

    Items and factories carry their names. `?format=csv|xlsx` exports the same figures:
    per item, per factory and the totals, each as base, other and change.
    """
    compared = comparison.compare_allocations(
        session=session, allocation_id=allocation_id, other_id=other_id
    )
    if format != "json":
        currency = rounds.get_round(
            session=session, principal=actor, round_id=compared.base.round_id
        ).currency
        return export(reports.comparison_report(compared, currency), format, view)
    json_only(view)
    return ComparisonPublic.of(compared)


@router.post("/v1/allocations/{allocation_id}/publish", responses=problems(404, 409))
def publish_allocation(
    allocation_id: IdPath, session: SessionDep, actor: Manager, jobs: ThresholdJobsDep
) -> AllocationSummary:
    """Publish a done allocation of a solved round; awards become binding, round `published`.

    409 `publication_refused` with `findings` when the independent verifier finds anything,
    the allocation loosens a promise of the round (lower margin floor, higher share, a new
    factory's guarantee or an item's minimum fill lowered), or units awarded elsewhere in
    the period changed since it was solved (another round published first: solve again).
    """
    row = publication.publish_allocation(
        session=session, actor=actor, allocation_id=allocation_id, jobs=jobs
    )
    return AllocationSummary.of(row)


@router.get(
    "/v1/rounds/{round_id}/awards",
    response_model=Page[AwardPublic],
    responses={**EXPORTS, **problems(404, 409)},
)
def list_awards(
    round_id: IdPath,
    session: SessionDep,
    actor: BidReader,
    page: Pagination,
    format: Format = "json",
    view: ExportView = None,
) -> Page[AwardPublic] | Response:
    """Awards of the published allocation, in bid order; a factory sees its own only.

    Each award carries `explanation`, a sentence in plain words built from its figures,
    and `cost_ceiling`. Before publication every role gets 409 `round_not_published`; a
    round a factory cannot see is a 404. `?format=csv` streams every award (no pages) as
    one view: a row per bid (`view=bid`, the default), per item, per factory, or the
    totals; `?format=xlsx` is a workbook with a sheet per view.
    """
    if format != "json":
        awards = award_exports.published_awards(session=session, principal=actor, round_id=round_id)
        if format == "xlsx":
            return export(award_exports.awards_report(awards), format, view)
        lines = award_exports.award_csv(awards, view)
        return StreamingResponse(
            _encoded(lines),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{awards.name}.csv"'},
        )
    json_only(view)
    rows = publication.list_awards(
        session=session, principal=actor, round_id=round_id, after=page.after, limit=page.limit
    )
    context = _context(session, rows)
    shown = award_names(session=session, rows=rows)
    return Page(
        data=[AwardPublic.of(r, context, shown) for r in rows],
        next_cursor=page.next_cursor(rows[-1].bid_id if rows else None, len(rows)),
    )


def _context(session: SessionDep, rows: list[Award]) -> AwardContext:
    """The figures these awards are explained with, read once for all of them."""
    if not rows:
        return AwardContext.empty()
    return award_context(
        session=session, allocation_id=rows[0].allocation_id, bid_ids={r.bid_id for r in rows}
    )


STREAM_CHUNK = 1 << 16
"""Bytes of CSV sent at a time: a line each would be a write each."""


def _encoded(lines: Iterator[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= STREAM_CHUNK:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")
