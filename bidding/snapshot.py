"""The one place that turns a round's rows into a `Problem` (problem-format.md).

It moves to bidding/allocation.py with the allocation: STYLE.md wants one function that
builds the problem the solver sees, so the close, every solve and every replay agree.
"""

from typing import Any

from sqlmodel import Session, col, select

from bidding.items import demand_of
from bidding.models import Bid, BidStatus, BidVersion, Factory, Invitation, Item, Round, RoundItem
from bidding.values import from_cents, from_ppb
from solver.problem import Problem, parse_problem


def build_round_problem(*, session: Session, row: Round) -> Problem:
    """The round as it stands: terms, factories, items with round terms, live bids' latest.

    Factories are the invited ones where the round has invitations, else those that bid.
    Units already committed in other rounds arrive with the allocation (0 for now).
    """
    round_items = session.exec(select(RoundItem).where(RoundItem.round_id == row.id)).all()
    items = {
        i.id: i
        for i in session.exec(
            select(Item).where(col(Item.id).in_([ri.item_id for ri in round_items]))
        ).all()
    }
    demand = demand_of(session=session, item_ids=list(items))
    invitations = {
        i.factory_id: i
        for i in session.exec(select(Invitation).where(Invitation.round_id == row.id)).all()
    }
    live = session.exec(
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(Bid.round_id == row.id, Bid.status == BidStatus.live)
    ).all()
    factory_ids = set(invitations) | {bid.factory_id for bid, _ in live}
    factories = session.exec(select(Factory).where(col(Factory.id).in_(factory_ids))).all()
    document: dict[str, Any] = {
        "round": {
            "id": row.id,
            "currency": row.currency,
            "margin_floor": from_ppb(row.margin_floor_ppb),
            "capacity_share": from_ppb(row.capacity_share_ppb),
            "budget": None if row.budget_cents is None else from_cents(row.budget_cents),
        },
        "factories": [_factory(f, invitations.get(f.id)) for f in factories],
        "items": [
            {
                "id": ri.item_id,
                "retail_price": from_cents(items[ri.item_id].retail_price_cents),
                "handling_cost": from_cents(items[ri.item_id].handling_cost_cents),
                "salvage_value": from_cents(items[ri.item_id].salvage_value_cents),
                "demand": [
                    {"units": s.units, "probability": s.probability} for s in demand[ri.item_id]
                ],
                "min_fill": ri.min_fill,
                "max_factory_share": None
                if ri.max_factory_share_ppb is None
                else from_ppb(ri.max_factory_share_ppb),
            }
            for ri in round_items
        ],
        "bids": [
            {
                "id": bid.id,
                "factory": bid.factory_id,
                "item": bid.item_id,
                "unit_cost": from_cents(version.unit_cost_cents),
                "capacity": version.capacity,
                "ask_price": None
                if version.ask_price_cents is None
                else from_cents(version.ask_price_cents),
                "min_lot": version.min_lot,
                "setup_cost": from_cents(version.setup_cost_cents),
            }
            for bid, version in live
        ],
    }
    return parse_problem(document)


def _factory(factory: Factory, invitation: Invitation | None) -> dict[str, Any]:
    share = None if invitation is None else invitation.capacity_share_ppb
    return {
        "id": factory.id,
        "monthly_capacity": factory.monthly_capacity,
        "is_new": factory.is_new,
        "guaranteed_units": 0 if invitation is None else invitation.guaranteed_units,
        "capacity_share": None if share is None else from_ppb(share),
        "committed_units": 0,
    }
