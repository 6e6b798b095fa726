"""Items: retail price, handling cost, salvage value and the demand forecast (SPEC 2).

An item is edited while every round it is in is a draft (or cancelled): once a round
opens, factories bid on its terms, and after that they are the round's history.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, delete, select

from bidding.changes import record_change
from bidding.db import use_case
from bidding.errors import InvalidInput, ItemInUse, ItemNotFound
from bidding.models import Item, Round, RoundItem, RoundState, Scenario
from bidding.principal import Principal
from bidding.values import from_cents, from_ppb, new_id, plain, to_cents, to_ppb
from solver.values import PROBABILITY_TOLERANCE


@dataclass(frozen=True)
class DemandScenario:
    """Units sold with this probability."""

    units: int
    probability: Decimal


def _check_prices(
    retail_price: Decimal, handling_cost: Decimal, salvage_value: Decimal
) -> list[tuple[str, str]]:
    if handling_cost > retail_price:
        return [("body.handling_cost", "must be at most the retail price")]
    if salvage_value > retail_price - handling_cost:
        return [
            (
                "body.salvage_value",
                f"must be at most retail_price - handling_cost ({retail_price - handling_cost})",
            )
        ]
    return []


def _check_demand(demand: Sequence[DemandScenario]) -> list[tuple[str, str]]:
    total = sum((s.probability for s in demand), Decimal(0))
    if abs(total - 1) > PROBABILITY_TOLERANCE:
        return [("body.demand", f"probabilities sum to {total}, not 1")]
    return []


def _state(session: Session, item: Item) -> dict[str, Any]:
    return {
        "name": item.name,
        "retail_price": str(from_cents(item.retail_price_cents)),
        "handling_cost": str(from_cents(item.handling_cost_cents)),
        "salvage_value": str(from_cents(item.salvage_value_cents)),
        "demand": [
            {"units": s.units, "probability": plain(s.probability)}
            for s in demand_of(session=session, item_ids=[item.id])[item.id]
        ],
    }


def _replace_demand(session: Session, item_id: str, demand: Sequence[DemandScenario]) -> None:
    session.exec(delete(Scenario).where(col(Scenario.item_id) == item_id))
    for position, scenario in enumerate(demand):
        session.add(
            Scenario(
                item_id=item_id,
                position=position,
                units=scenario.units,
                probability_ppb=to_ppb(scenario.probability),
            )
        )
    session.flush()


@use_case
def create_item(
    *,
    session: Session,
    actor: Principal,
    name: str,
    retail_price: Decimal,
    handling_cost: Decimal,
    salvage_value: Decimal,
    demand: Sequence[DemandScenario],
) -> Item:
    """Create an item with its demand scenarios; `0 <= s <= r - h`, probabilities sum to 1."""
    errors = _check_prices(retail_price, handling_cost, salvage_value) + _check_demand(demand)
    if errors:
        raise InvalidInput(errors)
    item = Item(
        id=new_id("itm"),
        name=name,
        retail_price_cents=to_cents(retail_price),
        handling_cost_cents=to_cents(handling_cost),
        salvage_value_cents=to_cents(salvage_value),
    )
    session.add(item)
    session.flush()
    _replace_demand(session, item.id, demand)
    record_change(
        session,
        actor=actor,
        action="item.create",
        entity_id=item.id,
        after=_state(session, item),
    )
    session.commit()
    return item


def get_item(*, session: Session, item_id: str) -> Item:
    """One item."""
    item = session.get(Item, item_id)
    if item is None:
        raise ItemNotFound(f"no item {item_id!r}")
    return item


def list_items(*, session: Session, after: str | None, limit: int) -> list[Item]:
    """Items in id order, after the cursor."""
    query = select(Item).order_by(col(Item.id)).limit(limit)
    if after is not None:
        query = query.where(col(Item.id) > after)
    return list(session.exec(query).all())


def demand_of(*, session: Session, item_ids: Sequence[str]) -> dict[str, list[DemandScenario]]:
    """The demand scenarios of these items, in the order they were given."""
    out: dict[str, list[DemandScenario]] = {item_id: [] for item_id in item_ids}
    rows = session.exec(
        select(Scenario)
        .where(col(Scenario.item_id).in_(list(item_ids)))
        .order_by(col(Scenario.item_id), col(Scenario.position))
    ).all()
    for row in rows:
        out[row.item_id].append(DemandScenario(row.units, from_ppb(row.probability_ppb)))
    return out


EDITABLE_IN = frozenset({RoundState.draft, RoundState.cancelled})
"""Round states that leave an item's terms free to change (SPEC 2: edited in draft)."""


def _refuse_if_in_use(session: Session, item: Item) -> None:
    """Refuse when a round holding the item is past its draft; its rounds stay locked."""
    rounds = session.exec(
        select(Round)
        .join(RoundItem, col(RoundItem.round_id) == col(Round.id))
        .where(RoundItem.item_id == item.id)
        .order_by(col(Round.id))
        .with_for_update(of=Round)  # PostgreSQL: no round opens until this edit commits
        .execution_options(populate_existing=True)
    ).all()
    in_use = {row.id: str(row.state) for row in rounds if row.state not in EDITABLE_IN}
    if in_use:
        raise ItemInUse(in_use)


@use_case
def update_item(
    *, session: Session, actor: Principal, item_id: str, changes: Mapping[str, Any]
) -> Item:
    """Change an item's name, prices or demand while no round past its draft holds it."""
    item = session.exec(
        select(Item)
        .where(Item.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if item is None:
        raise ItemNotFound(f"no item {item_id!r}")
    _refuse_if_in_use(session, item)
    before = _state(session, item)
    retail = changes.get("retail_price", from_cents(item.retail_price_cents))
    handling = changes.get("handling_cost", from_cents(item.handling_cost_cents))
    salvage = changes.get("salvage_value", from_cents(item.salvage_value_cents))
    errors = _check_prices(retail, handling, salvage)
    if "demand" in changes:
        errors += _check_demand(changes["demand"])
    if errors:
        raise InvalidInput(errors)
    item.name = changes.get("name", item.name)
    item.retail_price_cents = to_cents(retail)
    item.handling_cost_cents = to_cents(handling)
    item.salvage_value_cents = to_cents(salvage)
    session.add(item)
    if "demand" in changes:
        _replace_demand(session, item.id, changes["demand"])
    record_change(
        session,
        actor=actor,
        action="item.update",
        entity_id=item.id,
        before=before,
        after=_state(session, item),
    )
    session.commit()
    return item
