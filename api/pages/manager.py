"""Manager pages: rounds, their lifecycle and bids, solves, allocations, what-ifs, publication."""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from api import charts
from api.deps import JobsDep, SessionDep
from api.schemas.allocations import AllocationRequest
from api.schemas.finance import SettlementCorrectionRequest, SettlementRequest
from api.schemas.rounds import InvitationPut, RoundCreate, RoundItemPut, RoundUpdate
from api.web import (
    ManagerPage,
    blank_to_none,
    go_to,
    is_htmx,
    local_time,
    render,
    validated,
    whole,
)
from bidding import (
    comparison,
    factories,
    items,
    publication,
    rounds,
    settlement,
    snapshot,
    solves,
    thresholds,
    workspace,
)
from bidding.errors import InvalidInput
from bidding.lifecycle import database_now
from bidding.models import AllocationStatus, Round, RoundState
from bidding.names import factory_names, item_names
from bidding.snapshot import Overrides
from bidding.values import from_cents, from_ppb

router = APIRouter(include_in_schema=False)

ROUND_PAGE = 100
CHOICES = 500
"""Items and factories offered in the round form (a catalogue of hundreds)."""
PageNumber = Annotated[int, Query(ge=0, le=100_000)]
IdQuery = Annotated[str | None, Query(max_length=64)]


@router.get("/rounds")
def round_list(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    after: IdQuery = None,
) -> HTMLResponse:
    """Rounds: state, period, items and live bid count, a hundred a page."""
    rows = rounds.list_rounds(
        session=session, principal=viewer.principal, after=after, limit=ROUND_PAGE
    )
    details = rounds.round_details(session=session, round_ids=[r.id for r in rows])
    next_after = rows[-1].id if len(rows) == ROUND_PAGE else None
    return render(
        request,
        "manager/rounds.html",
        viewer,
        {"rounds": rows, "details": details, "next_after": next_after},
    )


@router.get("/rounds/new")
def round_form(request: Request, session: SessionDep, viewer: ManagerPage) -> HTMLResponse:
    """The form of a new round: terms, items with their demand, invitations."""
    item_rows = items.list_items(session=session, after=None, limit=CHOICES)
    return render(
        request,
        "manager/round_new.html",
        viewer,
        {
            "items": item_rows,
            "demand": items.demand_of(session=session, item_ids=[i.id for i in item_rows]),
            "factories": factories.list_factories(session=session, after=None, limit=CHOICES),
        },
    )


def _checked(form: FormData, prefix: str) -> list[str]:
    return [str(v) for v in form.getlist(prefix)]


ROUND_TERMS = ("name", "category", "period", "currency", "margin_floor", "capacity_share", "budget")


def _given(form: FormData, fields: dict[str, str]) -> dict[str, str]:
    """The form's non-blank values (field name: form key), named as the API's body names them."""
    return {
        field: value
        for field, key in fields.items()
        if (value := blank_to_none(str(form.get(key) or ""))) is not None
    }


@router.post("/rounds")
async def round_create(request: Request, session: SessionDep, viewer: ManagerPage) -> Response:
    """Create a draft round with its items and invitations (each as the API's PUT would)."""
    form = await request.form()
    given = _given(form, {k: k for k in ROUND_TERMS})
    deadline = blank_to_none(str(form.get("closes_at") or ""))
    if deadline is not None:
        given["closes_at"] = local_time(deadline, viewer.time_zone)
    terms = validated(RoundCreate, given)
    chosen_items = _checked(form, "item")
    if not chosen_items:
        raise InvalidInput([("item", "choose at least one item")])
    item_terms = {
        item_id: validated(
            RoundItemPut,
            _given(
                form, {"min_fill": f"min_fill.{item_id}", "max_factory_share": f"share.{item_id}"}
            ),
        )
        for item_id in chosen_items
    }
    invitations = {
        factory_id: validated(
            InvitationPut,
            _given(
                form,
                {
                    "capacity_share": f"fshare.{factory_id}",
                    "guaranteed_units": f"guaranteed.{factory_id}",
                },
            ),
        )
        for factory_id in _checked(form, "factory")
    }
    row = rounds.create_round(
        session=session,
        actor=viewer.principal,
        name=terms.name,
        category=terms.category,
        period=terms.period,
        currency=terms.currency,
        margin_floor=terms.margin_floor,
        capacity_share=terms.capacity_share,
        budget=terms.budget,
        closes_at=terms.closes_at,
    )
    for item_id, put in item_terms.items():
        rounds.put_round_item(
            session=session,
            actor=viewer.principal,
            round_id=row.id,
            item_id=item_id,
            min_fill=put.min_fill,
            max_factory_share=put.max_factory_share,
        )
    for factory_id, invitation in invitations.items():
        rounds.invite_factory(
            session=session,
            actor=viewer.principal,
            round_id=row.id,
            factory_id=factory_id,
            capacity_share=invitation.capacity_share,
            guaranteed_units=invitation.guaranteed_units,
        )
    return go_to(request, f"/rounds/{row.id}")


def _round_context(session: SessionDep, row: Round) -> dict[str, object]:
    detail = rounds.round_details(session=session, round_ids=[row.id])[row.id]
    return {
        "round": row,
        # The countdown counts from the database's clock, the one deadlines are read by.
        "now": database_now(session),
        "detail": detail,
        "margin_floor": from_ppb(row.margin_floor_ppb),
        "capacity_share": from_ppb(row.capacity_share_ppb),
        "budget": None if row.budget_cents is None else from_cents(row.budget_cents),
        "item_names": item_names(session=session, item_ids={i.item_id for i in detail.items}),
        "factory_names": factory_names(
            session=session, factory_ids={i.factory_id for i in detail.invitations}
        ),
    }


@router.get("/rounds/{round_id}")
def round_page(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    round_id: str,
    item: IdQuery = None,
    page: PageNumber = 0,
    items: Annotated[int | None, Query(ge=0, le=100_000)] = None,
) -> HTMLResponse:
    """A round: its terms and lifecycle buttons; the bid count while open; after the close
    the tabulation of one item at a time (a page of bids) and its supply curve.

    `items` pages the list of items (a hundred links a page); without it, the page
    holding the chosen item."""
    row = rounds.get_round(session=session, principal=viewer.principal, round_id=round_id)
    context = _round_context(session, row) | {"item_page": items or 0}
    if row.snapshot is not None:
        tabulated, chosen = workspace.tabulation(session=session, row=row, item=item)
        item_pages = max(-(-len(tabulated) // workspace.PAGE_ROWS), 1)
        if items is None:
            at = next((n for n, t in enumerate(tabulated) if chosen and t.item == chosen.item), 0)
            items = at // workspace.PAGE_ROWS
        context |= {
            "item_page": min(items, item_pages - 1),
            "item_pages": item_pages,
            "tabulated": tabulated,
            "chosen": chosen,
            "bids": chosen.bids[page * workspace.PAGE_ROWS : (page + 1) * workspace.PAGE_ROWS]
            if chosen
            else [],
            "page": page,
            "pages": -(-len(chosen.bids) // workspace.PAGE_ROWS) if chosen else 0,
            "curve": charts.supply_curve(chosen) if chosen else None,
            "charts": chosen is not None,
            "allocations": workspace.listed_allocations(session=session, round_id=row.id),
        }
    block = "tabulation" if is_htmx(request) and request.query_params.get("page") else None
    return render(request, "manager/round.html", viewer, context, block=block)


@router.post("/rounds/{round_id}/deadline")
async def round_deadline(
    request: Request, session: SessionDep, viewer: ManagerPage, round_id: str
) -> Response:
    """Set or move a draft or open round's deadline (as the API's PATCH of `closes_at`).

    The form's time is read in the viewer's zone; the refusals are the PATCH's (a past
    time, a deadline already passed, a round in another state), shown as a page."""
    form = await request.form()
    given = blank_to_none(str(form.get("closes_at") or ""))
    if given is None:
        raise InvalidInput([("closes_at", "give the new deadline: a date and a time")])
    body = validated(RoundUpdate, {"closes_at": local_time(given, viewer.time_zone)})
    rounds.update_round(
        session=session, actor=viewer.principal, round_id=round_id, changes=body.changes()
    )
    return go_to(request, f"/rounds/{round_id}")


def _lifecycle_move(move: str, change: Callable[..., object], doc: str) -> None:
    """One lifecycle button: POST /rounds/{id}/<move> makes the move, then shows the round."""

    def handler(
        request: Request, session: SessionDep, viewer: ManagerPage, round_id: str
    ) -> Response:
        change(session=session, actor=viewer.principal, round_id=round_id)
        return go_to(request, f"/rounds/{round_id}")

    handler.__doc__ = doc
    handler.__name__ = f"round_{move}"
    router.post(f"/rounds/{{round_id}}/{move}")(handler)


_lifecycle_move("open", rounds.open_round, "Open a draft round for bids.")
_lifecycle_move("close", rounds.close_round, "Close an open round: the bids are frozen.")
_lifecycle_move("cancel", rounds.cancel_round, "Cancel a round not yet published.")


@router.post("/rounds/{round_id}/solve")
def round_solve(
    request: Request, session: SessionDep, viewer: ManagerPage, jobs: JobsDep, round_id: str
) -> Response:
    """Queue a solve of the round as it is; the allocation page shows its progress."""
    row = solves.solve_round(
        session=session, actor=viewer.principal, round_id=round_id, overrides=Overrides(), jobs=jobs
    )
    return go_to(request, f"/allocations/{row.id}")


@router.get("/rounds/{round_id}/what-if")
def what_if_form(
    request: Request, session: SessionDep, viewer: ManagerPage, round_id: str
) -> HTMLResponse:
    """Every override the API takes: terms, exclusions, demand scale and minimum fill per item."""
    row = rounds.get_round(session=session, principal=viewer.principal, round_id=round_id)
    problem = workspace.snapshot_of(row)
    return render(
        request,
        "manager/what_if.html",
        viewer,
        _round_context(session, row)
        | {
            "problem_items": sorted(i["id"] for i in problem["items"]),
            "problem_factories": sorted(f["id"] for f in problem["factories"]),
            "all_factory_names": factory_names(
                session=session, factory_ids={f["id"] for f in problem["factories"]}
            ),
        },
    )


@router.post("/rounds/{round_id}/what-if")
async def what_if_solve(
    request: Request, session: SessionDep, viewer: ManagerPage, jobs: JobsDep, round_id: str
) -> Response:
    """Queue a what-if with the overrides given (validated as the API's body)."""
    form = await request.form()
    body: dict[str, object] = dict(
        _given(form, {k: k for k in ("margin_floor", "capacity_share", "budget")})
    )
    if form.get("no_budget") == "on":
        body["budget"] = None
    body["exclude_factories"] = _checked(form, "exclude_factory")
    body["exclude_bids"] = [
        b.strip()
        for b in str(form.get("exclude_bids") or "").replace("\n", ",").split(",")
        if b.strip()
    ]
    scale: dict[str, str] = {}
    fill: dict[str, int | str] = {}
    for key, raw in form.multi_items():
        text = str(raw).strip()
        if key.startswith("scale.") and text:
            scale[key.removeprefix("scale.")] = text
        if key.startswith("min_fill.") and text:
            fill[key.removeprefix("min_fill.")] = whole(text)
    body["demand_scale"] = scale
    body["min_fill"] = fill
    overrides = validated(AllocationRequest, body).overrides()
    if not overrides.is_what_if:
        raise InvalidInput([("form", "change at least one thing for a what-if")])
    row = solves.solve_round(
        session=session, actor=viewer.principal, round_id=round_id, overrides=overrides, jobs=jobs
    )
    return go_to(request, f"/allocations/{row.id}")


def _phase(row: object) -> str:
    # The solver will report phases (API.md); until the row has one, its status says enough.
    phase = getattr(row, "phase", None)
    status = str(getattr(row, "status", ""))
    return str(phase) if phase else status


@router.get("/allocations/{allocation_id}/status")
def allocation_status(
    request: Request, session: SessionDep, viewer: ManagerPage, allocation_id: str
) -> Response:
    """The solve's phase while it runs (polled by htmx); when it ends, the page reloads."""
    row = solves.get_allocation(session=session, allocation_id=allocation_id)
    if row.status in (AllocationStatus.done, AllocationStatus.failed):
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return render(
        request,
        "manager/allocation.html",
        viewer,
        {"allocation": row, "phase": _phase(row)},
        block="status",
    )


@router.get("/allocations/{allocation_id}")
def allocation_page(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    allocation_id: str,
    page: PageNumber = 0,
    matrix: PageNumber = 0,
    item: IdQuery = None,
    factory: IdQuery = None,
) -> HTMLResponse:
    """An allocation: progress, then the award matrix, each bid's reason, and the charts.

    `item` chooses the supply curve shown; `factory` narrows the bids to one factory's.
    """
    row = solves.get_allocation(session=session, allocation_id=allocation_id)
    round_row = rounds.get_round(session=session, principal=viewer.principal, round_id=row.round_id)
    context: dict[str, object] = {
        "allocation": row,
        "round": round_row,
        "phase": _phase(row),
        "overrides": json.loads(row.overrides) if row.overrides else {},
    }
    document = workspace.result_document(session=session, row=row)
    if row.status == AllocationStatus.done and document is not None:
        # One parse of each text: the awarded rows validated, the problem read as JSON.
        result = workspace.awarded_result(document)
        problem = workspace.decode_document(row.problem)
        solved = snapshot.solved_items(row)
        figures = comparison.figures(solved, result)
        explained, total = workspace.explained_page(
            session=session,
            document=document,
            problem=problem,
            page=page,
            row=round_row,
            factory=factory,
            allocation_id=row.id,
        )
        used, floor = workspace.factory_use(session=session, result=result, problem=problem)
        item_ids = [i.id for i in solved]
        names = {i.id: i.name for i in solved if i.name} or item_names(
            session=session, item_ids=set(item_ids)
        )
        matrix_page = workspace.award_matrix(session=session, result=result, page=matrix)
        tabulated, chosen = workspace.tabulation_of(
            session=session,
            problem=problem,
            item=item or (matrix_page.items[0][0] if matrix_page.items else None),
        )
        by_spend = charts.largest(item_ids, lambda i: figures.item_spend.get(i, Decimal(0)))
        by_takeover = charts.largest(item_ids, lambda i: figures.item_takeover_cost[i])
        fullest = [used[n] for n in charts.largest(range(len(used)), lambda n: used[n].used)]
        thinnest = [
            used[n]
            for n in charts.largest(range(len(used)), lambda n: -(used[n].margin or Decimal(0)))
        ]
        context |= {
            "thresholds": thresholds.threshold_state(session=session, allocation_id=row.id),
            "result": result,
            "figures": figures,
            "explained": explained,
            "total": total,
            "page": page,
            "pages": -(-total // workspace.PAGE_ROWS),
            "matrix": matrix_page,
            "matrix_page": matrix,
            "matrix_pages": -(-len(item_ids) // workspace.MATRIX_ITEMS),
            "item_filter": item,
            "factory_filter": factory,
            "tabulated": tabulated,
            "chosen": chosen,
            "charts": True,
            "curve": charts.supply_curve(chosen, workspace.awarded_units(result, chosen.item))
            if chosen
            else None,
            "capacity": charts.capacity_use(
                [u.name for u in fullest],
                [u.used for u in fullest],
                [u.cap for u in fullest],
                charts.titled(
                    "Capacity used against the share cap", len(fullest), len(used), "fullest"
                ),
            ),
            "spend": charts.by_item_bars(
                charts.titled("Spend by item", len(by_spend), len(item_ids), "largest"),
                [names.get(i, i) for i in by_spend],
                [("spend", [figures.item_spend.get(i, Decimal(0)) for i in by_spend], charts.BLUE)],
            ),
            "takeover": charts.by_item_bars(
                charts.titled(
                    "Expected takeover cost and unsold units by item",
                    len(by_takeover),
                    len(item_ids),
                    "largest",
                ),
                [names.get(i, i) for i in by_takeover],
                [
                    (
                        "takeover cost",
                        [figures.item_takeover_cost[i] for i in by_takeover],
                        charts.RED,
                    )
                ],
                (
                    "expected unsold units",
                    [figures.item_unsold[i] for i in by_takeover],
                    charts.GREY,
                ),
            ),
            "margins": charts.margins_against_floor(
                [u.name for u in thinnest],
                [u.margin for u in thinnest],
                [floor] * len(thinnest),
                charts.titled("Margins against the floor", len(thinnest), len(used), "lowest"),
            ),
            "others": [
                a
                for a in workspace.listed_allocations(session=session, round_id=row.round_id)
                if a.id != row.id and a.status == AllocationStatus.done
            ],
        }
    block = "explanations" if is_htmx(request) and "page" in request.query_params else None
    return render(request, "manager/allocation.html", viewer, context, block=block)


@router.post("/allocations/{allocation_id}/publish")
def allocation_publish(
    request: Request, session: SessionDep, viewer: ManagerPage, allocation_id: str
) -> Response:
    """Publish: the verifier's findings are shown where publication is refused."""
    jobs = request.app.state.jobs  # pending thresholds' job queue, as the API's publish
    row = publication.publish_allocation(
        session=session, actor=viewer.principal, allocation_id=allocation_id, jobs=jobs
    )
    return go_to(request, f"/allocations/{row.id}")


@router.get("/allocations/{allocation_id}/compare")
def comparison_page(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    allocation_id: str,
    other: Annotated[str, Query(max_length=64)],
    page: PageNumber = 0,
    differences: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """Two allocations side by side: totals, per item and per factory, changes coloured;
    a hundred items and a hundred factories a page, or (`differences`) of those that differ."""
    compared = workspace.compare(session=session, allocation_id=allocation_id, other_id=other)
    shown = workspace.compared_page(compared, page=page, differences_only=differences)
    block = "compared" if is_htmx(request) else None
    return render(
        request,
        "manager/compare.html",
        viewer,
        {
            "c": compared,
            "base": compared.base_figures,
            "other": compared.other_figures,
            "shown": shown,
            "rows": workspace.PAGE_ROWS,
            "item_names": compared.names.items,
            "factory_names": compared.names.factories,
            "zero": Decimal(0),
            "currency": workspace.round_currency(session=session, round_id=compared.base.round_id),
        },
        block=block,
    )


@router.get("/rounds/{round_id}/settlement")
def settlement_form(
    request: Request, session: SessionDep, viewer: ManagerPage, round_id: str
) -> HTMLResponse:
    """Units sold per item after the period; a settled round shows its versions."""
    row = rounds.get_round(session=session, principal=viewer.principal, round_id=round_id)
    published = settlement.round_result(
        session=session, principal=viewer.principal, round_id=round_id
    )
    history = (
        settlement.settlement_history(session=session, round_id=round_id)
        if row.state == RoundState.settled
        else []
    )
    units: dict[str, int] = {}
    for award in published.awards:
        units[award.item] = units.get(award.item, 0) + award.units
    return render(
        request,
        "manager/settlement.html",
        viewer,
        {
            "round": row,
            "units": units,
            "history": history,
            "item_names": item_names(session=session, item_ids=set(units)),
        },
    )


@router.post("/rounds/{round_id}/settlement")
async def settlement_record(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    round_id: str,
    reason: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Settle (or, once settled, correct with a reason) the units sold per item."""
    form = await request.form()
    sold = {
        key.removeprefix("sold."): whole(str(value))
        for key, value in form.multi_items()
        if key.startswith("sold.")
    }
    if reason and reason.strip():
        # The API's body schema: a reason with bidi or zero-width characters is refused.
        correction = validated(
            SettlementCorrectionRequest, {"sold": sold, "reason": reason.strip()}
        )
        settlement.correct_settlement(
            session=session,
            actor=viewer.principal,
            round_id=round_id,
            sold=correction.sold,
            reason=correction.reason,
        )
    else:
        body = validated(SettlementRequest, {"sold": sold})
        settlement.settle_round(
            session=session, actor=viewer.principal, round_id=round_id, sold=body.sold
        )
    return go_to(request, f"/rounds/{round_id}/settlement")
