"""Rounds: managers set them up and run them through their lifecycle; every role reads them."""

from fastapi import APIRouter, Response
from sqlmodel import Session

from api.deps import (
    CurrentPrincipal,
    IdPath,
    Manager,
    ManagerOrFinance,
    Pagination,
    SessionDep,
    in_thread,
)
from api.routes import COMMON, problems
from api.schemas.base import Page
from api.schemas.rounds import (
    InvitationPublic,
    InvitationPut,
    RoundCreate,
    RoundItemPublic,
    RoundItemPut,
    RoundPublic,
    RoundUpdate,
)
from bidding import rounds
from bidding.models import Role, Round
from bidding.principal import Principal

router = APIRouter(prefix="/v1/rounds", tags=["rounds"], responses=COMMON)


def _public(session: Session, principal: Principal, row: Round) -> RoundPublic:
    mine = principal.factory_id if principal.role == Role.factory else None
    detail = rounds.round_details(session=session, round_ids=[row.id], factory_id=mine)[row.id]
    return RoundPublic.of(row, detail, viewer=principal)


@router.post("", status_code=201)
def create_round(body: RoundCreate, session: SessionDep, actor: Manager) -> RoundPublic:
    """Create a round in draft with its terms and an optional deadline (`closes_at`)."""
    row = rounds.create_round(
        session=session,
        actor=actor,
        name=body.name,
        category=body.category,
        period=body.period,
        currency=body.currency,
        margin_floor=body.margin_floor,
        capacity_share=body.capacity_share,
        budget=body.budget,
        closes_at=body.closes_at,
    )
    return _public(session, actor, row)


@router.get("")
def list_rounds(
    session: SessionDep, actor: CurrentPrincipal, page: Pagination
) -> Page[RoundPublic]:
    """Rounds in id order; a factory sees those past draft that are open to it."""
    rows = rounds.list_rounds(session=session, principal=actor, after=page.after, limit=page.limit)
    mine = actor.factory_id if actor.role == Role.factory else None
    details = rounds.round_details(session=session, round_ids=[r.id for r in rows], factory_id=mine)
    return Page(
        data=[RoundPublic.of(r, details[r.id], viewer=actor) for r in rows],
        next_cursor=page.next_cursor(rows[-1].id if rows else None, len(rows)),
    )


@router.get("/{round_id}", responses=problems(404))
async def get_round(round_id: IdPath, session: SessionDep, actor: CurrentPrincipal) -> RoundPublic:
    """One round with its state, items, invitations and (staff) its live bid count."""

    def work() -> RoundPublic:
        row = rounds.get_round(session=session, principal=actor, round_id=round_id)
        return _public(session, actor, row)

    return await in_thread(session, work)


@router.patch("/{round_id}", responses=problems(404, 409))
def update_round(
    round_id: IdPath, body: RoundUpdate, session: SessionDep, actor: Manager
) -> RoundPublic:
    """Change a draft round's terms (409 `round_not_draft` otherwise), or move its deadline.

    `closes_at` alone may be moved on a draft or open round, to a future time, until the
    deadline passes (409 `round_not_open` naming the state otherwise; 422 for a past time).
    """
    row = rounds.update_round(
        session=session, actor=actor, round_id=round_id, changes=body.changes()
    )
    return _public(session, actor, row)


@router.put("/{round_id}/items/{item_id}", responses=problems(404, 409))
def put_round_item(
    round_id: IdPath, item_id: IdPath, body: RoundItemPut, session: SessionDep, actor: Manager
) -> RoundItemPublic:
    """Put an item in a draft round with its minimum fill and maximum factory share."""
    entry = rounds.put_round_item(
        session=session,
        actor=actor,
        round_id=round_id,
        item_id=item_id,
        min_fill=body.min_fill,
        max_factory_share=body.max_factory_share,
    )
    return RoundItemPublic.of(entry)


@router.delete("/{round_id}/items/{item_id}", status_code=204, responses=problems(404, 409))
def remove_round_item(
    round_id: IdPath, item_id: IdPath, session: SessionDep, actor: Manager
) -> Response:
    """Take an item out of a draft round."""
    rounds.remove_round_item(session=session, actor=actor, round_id=round_id, item_id=item_id)
    return Response(status_code=204)


@router.put("/{round_id}/factories/{factory_id}", responses=problems(404, 409))
def invite_factory(
    round_id: IdPath,
    factory_id: IdPath,
    body: InvitationPut,
    session: SessionDep,
    actor: Manager,
) -> InvitationPublic:
    """Invite a factory to a draft round with its own capacity share and guaranteed units."""
    entry = rounds.invite_factory(
        session=session,
        actor=actor,
        round_id=round_id,
        factory_id=factory_id,
        capacity_share=body.capacity_share,
        guaranteed_units=body.guaranteed_units,
    )
    return InvitationPublic.of(entry)


@router.delete("/{round_id}/factories/{factory_id}", status_code=204, responses=problems(404, 409))
def uninvite_factory(
    round_id: IdPath, factory_id: IdPath, session: SessionDep, actor: Manager
) -> Response:
    """Withdraw a draft round's invitation to a factory."""
    rounds.uninvite_factory(session=session, actor=actor, round_id=round_id, factory_id=factory_id)
    return Response(status_code=204)


@router.post("/{round_id}/open", responses=problems(404, 409))
def open_round(round_id: IdPath, session: SessionDep, actor: Manager) -> RoundPublic:
    """Open a draft round for bids."""
    return _public(
        session, actor, rounds.open_round(session=session, actor=actor, round_id=round_id)
    )


@router.post("/{round_id}/close", responses=problems(404, 409))
def close_round(round_id: IdPath, session: SessionDep, actor: Manager) -> RoundPublic:
    """Close an open round: no bid changes after this; the problem snapshot is frozen."""
    return _public(
        session, actor, rounds.close_round(session=session, actor=actor, round_id=round_id)
    )


@router.post("/{round_id}/cancel", responses=problems(404, 409))
def cancel_round(round_id: IdPath, session: SessionDep, actor: Manager) -> RoundPublic:
    """Cancel a round that is not yet published."""
    return _public(
        session, actor, rounds.cancel_round(session=session, actor=actor, round_id=round_id)
    )


@router.get(
    "/{round_id}/problem",
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **problems(404, 409),
    },
)
def get_round_problem(round_id: IdPath, session: SessionDep, actor: ManagerOrFinance) -> Response:
    """The problem snapshot frozen at the close, in the problem format (409 before the close)."""
    text = rounds.round_problem(session=session, round_id=round_id)
    return Response(content=text, media_type="application/json")
