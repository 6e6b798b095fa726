"""Rounds: their terms, items and invitations, and the moves draft -> open -> closed, or cancelled.

Each move goes through `bidding.lifecycle.transition` (SPEC 2's table); solving and
publishing (closed -> solved -> published) are in bidding.solves and bidding.publication.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import bindparam, exists, func
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from bidding.changes import audited, record_change
from bidding.db import use_case
from bidding.documents import problem_of
from bidding.errors import (
    FactoryNotFound,
    InvalidInput,
    InvitationNotFound,
    ItemNotFound,
    RoundEmpty,
    RoundItemNotFound,
    RoundNotClosed,
    RoundNotFound,
    RoundNotOpen,
    SnapshotInvalid,
)
from bidding.lifecycle import database_now, lock_round, require, round_state, transition
from bidding.models import (
    Bid,
    BidStatus,
    Factory,
    Invitation,
    Item,
    Role,
    Round,
    RoundItem,
    RoundState,
    as_utc,
)
from bidding.principal import Principal
from bidding.snapshot import build_round_problem
from bidding.values import from_ppb, new_id, plain, to_cents, to_ppb
from solver.problem import ProblemError


@use_case
def create_round(
    *,
    session: Session,
    actor: Principal,
    name: str,
    category: str,
    period: str,
    currency: str,
    margin_floor: Decimal,
    capacity_share: Decimal,
    budget: Decimal | None,
    closes_at: datetime | None = None,
) -> Round:
    """Create a round in draft, with an optional deadline in the future."""
    if closes_at is not None:
        _check_future(session, closes_at)
    row = Round(
        id=new_id("rnd"),
        name=name,
        category=category,
        period=period,
        currency=currency,
        margin_floor_ppb=to_ppb(margin_floor),
        capacity_share_ppb=to_ppb(capacity_share),
        budget_cents=None if budget is None else to_cents(budget),
        closes_at=None if closes_at is None else as_utc(closes_at),
    )
    session.add(row)
    session.flush()
    record_change(
        session, actor=actor, action="round.create", entity_id=row.id, after=round_state(row)
    )
    session.commit()
    return row


def can_see_round(session: Session, principal: Principal, row: Round) -> bool:
    """Staff see every round; a factory sees rounds past draft that are open to it."""
    if principal.role != Role.factory:
        return True
    if row.state == RoundState.draft:
        return False
    return factory_may_bid(session, row.id, principal.factory_id)


def factory_may_bid(session: Session, round_id: str, factory_id: str | None) -> bool:
    """A round without invitations is open to all; one with them, to invited factories.

    Two EXISTS in one query: every bid and read of a factory asks this, and loading the
    round's invitations as rows cost about 1 ms with 50 invited (the load bench).
    """
    invited_any, invited_here = session.execute(
        _INVITED, {"round_id": round_id, "factory_id": factory_id}
    ).one()
    return not invited_any or bool(invited_here)


_INVITED = select(
    exists().where(col(Invitation.round_id) == bindparam("round_id")),
    exists().where(
        col(Invitation.round_id) == bindparam("round_id"),
        col(Invitation.factory_id) == bindparam("factory_id"),
    ),
)
"""Built once with bound parameters (SQLAlchemy's compiled cache then skips the building):
each factory request asks it."""


def get_round(
    *, session: Session, principal: Principal, round_id: str, snapshot: bool = True
) -> Round:
    """One round, if the caller may see it (404 otherwise); `snapshot=False` for a caller
    that never reads the snapshot (megabytes at 100,000 bids): it is read if touched."""
    options = [] if snapshot else [defer(cast("QueryableAttribute[Any]", Round.snapshot))]
    row = session.get(Round, round_id, options=options)
    if row is None or not can_see_round(session, principal, row):
        raise RoundNotFound(f"no round {round_id!r}")
    return row


def list_rounds(
    *, session: Session, principal: Principal, after: str | None, limit: int
) -> list[Round]:
    """Rounds in id order after the cursor; a factory gets those open to it."""
    query = select(Round).order_by(col(Round.id)).limit(limit)
    if after is not None:
        query = query.where(col(Round.id) > after)
    if principal.role == Role.factory:
        invited_elsewhere = (
            select(Invitation.round_id)
            .where(Invitation.round_id == Round.id)
            .where(Invitation.factory_id != principal.factory_id)
        )
        invited_here = (
            select(Invitation.round_id)
            .where(Invitation.round_id == Round.id)
            .where(Invitation.factory_id == principal.factory_id)
        )
        query = query.where(Round.state != RoundState.draft).where(
            col(Round.id).in_(invited_here) | ~select(invited_elsewhere.exists()).scalar_subquery()
        )
    return list(session.exec(query).all())


@dataclass(frozen=True)
class RoundDetail:
    """What a round shows besides its row: its items, invitations and live bid count."""

    items: list[RoundItem]
    invitations: list[Invitation]
    bid_count: int


def round_details(
    *, session: Session, round_ids: Sequence[str], factory_id: str | None = None
) -> dict[str, RoundDetail]:
    """Items, invitations and live bid counts of these rounds, in three queries.

    With `factory_id` (a factory reading), only that factory's own invitations: it sees
    no other's, so they are not loaded.
    """
    ids = list(round_ids)
    items = session.exec(
        select(RoundItem).where(col(RoundItem.round_id).in_(ids)).order_by(col(RoundItem.item_id))
    ).all()
    invited = select(Invitation).where(col(Invitation.round_id).in_(ids))
    if factory_id is not None:
        invited = invited.where(col(Invitation.factory_id) == factory_id)
    invitations = session.exec(invited.order_by(col(Invitation.factory_id))).all()
    counts = session.exec(
        select(Bid.round_id, func.count())
        .where(col(Bid.round_id).in_(ids), Bid.status == BidStatus.live)
        .group_by(col(Bid.round_id))
    ).all()
    count_by_round = dict(counts)
    return {
        round_id: RoundDetail(
            items=[i for i in items if i.round_id == round_id],
            invitations=[i for i in invitations if i.round_id == round_id],
            bid_count=count_by_round.get(round_id, 0),
        )
        for round_id in ids
    }


def _draft_round(session: Session, round_id: str) -> Round:
    return require(lock_round(session, round_id), "edit")


def _check_future(session: Session, closes_at: datetime) -> None:
    """A deadline must be ahead of the database's clock (422 naming the field otherwise)."""
    now = database_now(session)
    if as_utc(closes_at) <= now:
        raise InvalidInput(
            [("body.closes_at", f"must be in the future (the server's time is {now.isoformat()})")]
        )


def _check_deadline_move(session: Session, row: Round, closes_at: datetime | None) -> None:
    """SPEC 2: an open round's deadline moves only to a future time, and only before it passed.

    A draft round takes bids from nobody yet: its deadline may be set, moved or removed.
    """
    require(row, "set_deadline")
    if row.state == RoundState.open and row.closes_at is not None:
        if as_utc(row.closes_at) <= database_now(session):
            deadline = as_utc(row.closes_at).isoformat()
            raise RoundNotOpen(
                str(row.state),
                detail=f"The round is not open for bids: its deadline {deadline} passed, "
                "so it can no longer be moved",
            )
        if closes_at is None:
            raise InvalidInput(
                [("body.closes_at", "an open round's deadline can be moved, not removed")]
            )
    if closes_at is not None:
        _check_future(session, closes_at)


@use_case
def update_round(
    *, session: Session, actor: Principal, round_id: str, changes: Mapping[str, Any]
) -> Round:
    """Change a draft round's terms; or move a draft or open round's deadline (`closes_at`).

    Moving an open round's deadline is audited as `round.deadline.move`; any other change
    is a draft edit, `round.update`.
    """
    row = lock_round(session, round_id)
    terms = set(changes) - {"closes_at"}
    if terms or not changes:
        require(row, "edit")
    if "closes_at" in changes:
        _check_deadline_move(session, row, changes["closes_at"])
    action = "round.update" if row.state == RoundState.draft else "round.deadline.move"
    with audited(session, actor=actor, action=action, row=row, state=round_state):
        for field in ("name", "category", "period", "currency"):
            if field in changes:
                setattr(row, field, changes[field])
        if "margin_floor" in changes:
            row.margin_floor_ppb = to_ppb(changes["margin_floor"])
        if "capacity_share" in changes:
            row.capacity_share_ppb = to_ppb(changes["capacity_share"])
        if "budget" in changes:
            budget = changes["budget"]
            row.budget_cents = None if budget is None else to_cents(budget)
        if "closes_at" in changes:
            closes_at = changes["closes_at"]
            row.closes_at = None if closes_at is None else as_utc(closes_at)
    session.commit()
    return row


@use_case
def put_round_item(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    item_id: str,
    min_fill: int,
    max_factory_share: Decimal | None,
) -> RoundItem:
    """Put an item in a draft round with its terms (or change them)."""
    row = _draft_round(session, round_id)
    if session.get(Item, item_id) is None:
        raise ItemNotFound(f"no item {item_id!r}")
    entry = session.get(RoundItem, (row.id, item_id))
    before = None if entry is None else _round_item_state(entry)
    if entry is None:
        entry = RoundItem(round_id=row.id, item_id=item_id)
    entry.min_fill = min_fill
    entry.max_factory_share_ppb = None if max_factory_share is None else to_ppb(max_factory_share)
    session.add(entry)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="round.item.put",
        entity_id=row.id,
        before=before,
        after=_round_item_state(entry),
    )
    session.commit()
    return entry


def _round_item_state(entry: RoundItem) -> dict[str, Any]:
    share = entry.max_factory_share_ppb
    return {
        "item": entry.item_id,
        "min_fill": entry.min_fill,
        "max_factory_share": None if share is None else plain(from_ppb(share)),
    }


@use_case
def remove_round_item(*, session: Session, actor: Principal, round_id: str, item_id: str) -> None:
    """Take an item out of a draft round."""
    row = _draft_round(session, round_id)
    entry = session.get(RoundItem, (row.id, item_id))
    if entry is None:
        raise RoundItemNotFound(f"item {item_id!r} is not in round {round_id!r}")
    before = _round_item_state(entry)
    session.delete(entry)
    record_change(session, actor=actor, action="round.item.remove", entity_id=row.id, before=before)
    session.commit()


def _invitation_state(entry: Invitation) -> dict[str, Any]:
    share = entry.capacity_share_ppb
    return {
        "factory": entry.factory_id,
        "capacity_share": None if share is None else plain(from_ppb(share)),
        "guaranteed_units": entry.guaranteed_units,
    }


@use_case
def invite_factory(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    factory_id: str,
    capacity_share: Decimal | None,
    guaranteed_units: int,
) -> Invitation:
    """Invite a factory to a draft round with its own terms (or change them)."""
    row = _draft_round(session, round_id)
    if session.get(Factory, factory_id) is None:
        raise FactoryNotFound(f"no factory {factory_id!r}")
    entry = session.get(Invitation, (row.id, factory_id))
    before = None if entry is None else _invitation_state(entry)
    if entry is None:
        entry = Invitation(round_id=row.id, factory_id=factory_id)
    entry.capacity_share_ppb = None if capacity_share is None else to_ppb(capacity_share)
    entry.guaranteed_units = guaranteed_units
    session.add(entry)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="round.factory.invite",
        entity_id=row.id,
        before=before,
        after=_invitation_state(entry),
    )
    session.commit()
    return entry


@use_case
def uninvite_factory(*, session: Session, actor: Principal, round_id: str, factory_id: str) -> None:
    """Withdraw a draft round's invitation to a factory."""
    row = _draft_round(session, round_id)
    entry = session.get(Invitation, (row.id, factory_id))
    if entry is None:
        raise InvitationNotFound(f"factory {factory_id!r} is not invited to {round_id!r}")
    before = _invitation_state(entry)
    session.delete(entry)
    record_change(
        session, actor=actor, action="round.factory.uninvite", entity_id=row.id, before=before
    )
    session.commit()


@use_case
def open_round(*, session: Session, actor: Principal, round_id: str) -> Round:
    """Open a draft round for bids; it needs at least one item, and a deadline yet to come."""
    row = _draft_round(session, round_id)
    has_item = session.exec(select(RoundItem).where(RoundItem.round_id == row.id)).first()
    if has_item is None:
        raise RoundEmpty()
    if row.closes_at is not None and as_utc(row.closes_at) <= database_now(session):
        deadline = as_utc(row.closes_at).isoformat()
        raise InvalidInput(
            [("closes_at", f"the round's deadline {deadline} has passed: move it to a future time")]
        )
    transition(session, actor=actor, row=row, action="open")
    session.commit()
    return row


@use_case
def close_round(*, session: Session, actor: Principal, round_id: str) -> Round:
    """Close an open round and freeze its problem snapshot, in one transaction.

    The round is locked first, so every bid committed before this point is in the
    snapshot and every bid attempted after it finds the round closed.
    """
    row = require(lock_round(session, round_id), "close")
    freeze(session, actor=actor, row=row)
    session.commit()
    return row


def freeze(
    session: Session, *, actor: Principal, row: Round, details: Mapping[str, Any] | None = None
) -> Round:
    """Freeze a locked open round's snapshot and close it (`round.close`); never commits.

    `details` join the event (the deadline, when the job queue closes the round).
    """
    try:
        problem = build_round_problem(session=session, row=row)
    except ProblemError as exc:
        raise SnapshotInvalid(str(exc)) from exc
    row.snapshot = problem.to_json()
    problem_of.keep(row.snapshot, problem)  # a solve request reads it back
    row.input_hash = problem.input_hash
    event = {"input_hash": row.input_hash, "bids": sorted(b.id for b in problem.bids)}
    transition(session, actor=actor, row=row, action="close", details=event | dict(details or {}))
    return row


@use_case
def cancel_round(*, session: Session, actor: Principal, round_id: str) -> Round:
    """Cancel a round that is not yet published."""
    row = lock_round(session, round_id)
    transition(session, actor=actor, row=row, action="cancel")
    session.commit()
    return row


def round_problem(*, session: Session, round_id: str) -> str:
    """The problem-format document frozen at the round's close."""
    row = session.get(Round, round_id)
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    if row.snapshot is None:
        raise RoundNotClosed(row.state)
    return row.snapshot
