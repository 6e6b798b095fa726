"""The round's snapshot: rows to `Problem`, the only place that does so, and a solve's problem.

`build_round_problem` freezes the round at its close; `allocation_problem` is what a solve
works on: that snapshot, the units committed in the period's other rounds, then a
what-if's overrides. The period's lock (`lock_period`) orders every decision on committed
units; see bidding.solves for the order the locks are taken in.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from bidding.documents import problem_of
from bidding.errors import InvalidInput
from bidding.items import demand_of
from bidding.lifecycle import PUBLISHED
from bidding.models import (
    Allocation,
    Award,
    Bid,
    BidStatus,
    BidVersion,
    Factory,
    Invitation,
    Item,
    Round,
    RoundItem,
)
from bidding.values import from_cents, from_ppb
from solver.problem import Problem, ProblemError, parse_problem


def build_round_problem(*, session: Session, row: Round) -> Problem:
    """The round as it stands: terms, factories, items with round terms, live bids' latest.

    Factories are the invited ones where the round has invitations, else those that bid.
    Units committed in other rounds are added when a solve is requested (`committed_units`).
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


@dataclass(frozen=True)
class Overrides:
    """A what-if's changes to the round's frozen problem; empty for a plain solve."""

    margin_floor: Decimal | None = None
    capacity_share: Decimal | None = None
    budget: Decimal | None = None
    no_budget: bool = False
    """Solve without the round's budget (then `budget` is None)."""
    exclude_factories: tuple[str, ...] = ()
    exclude_bids: tuple[str, ...] = ()
    demand_scale: Mapping[str, Decimal] = field(default_factory=dict)
    min_fill: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_what_if(self) -> bool:
        """True where anything is overridden."""
        return self.as_data() != {}

    def as_data(self) -> dict[str, Any]:
        """The overrides given, as JSON data (decimals as strings, ids sorted)."""
        data: dict[str, Any] = {
            "margin_floor": None if self.margin_floor is None else str(self.margin_floor),
            "capacity_share": None if self.capacity_share is None else str(self.capacity_share),
            "budget": None if self.budget is None else str(self.budget),
            "exclude_factories": sorted(set(self.exclude_factories)),
            "exclude_bids": sorted(set(self.exclude_bids)),
            "demand_scale": {k: str(v) for k, v in sorted(self.demand_scale.items())},
            "min_fill": dict(sorted(self.min_fill.items())),
        }
        given = {k: v for k, v in data.items() if v not in (None, [], {})}
        if self.no_budget:
            given["budget"] = None  # stored as null: the what-if removes the budget
        return given


def period_lock_key(period: str) -> int:
    """The advisory lock key of a period: the first 8 bytes of sha256("period:" + period).

    Stable across processes and versions (unlike Python's hash), as a signed 64-bit integer.
    """
    digest = hashlib.sha256(f"period:{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_period(session: Session, period: str) -> None:
    """Hold the period's lock to the end of the transaction (PostgreSQL; SQLite needs none).

    Take it after the round's and allocation's row locks and before the audit chain's (see
    the module's docstring), and before reading `committed_units` for a decision.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": period_lock_key(period)}
        )


def committed_units(*, session: Session, row: Round) -> dict[str, int]:
    """Units awarded per factory in the other published (or settled) rounds of the period."""
    rows = session.exec(
        select(Award.factory_id, func.sum(Award.units))
        .join(Allocation, col(Allocation.id) == Award.allocation_id)
        .join(Round, col(Round.id) == Award.round_id)
        .where(
            Round.period == row.period,
            Round.id != row.id,
            col(Round.state).in_(list(PUBLISHED)),
            col(Allocation.published_at).is_not(None),
        )
        .group_by(col(Award.factory_id))
    ).all()
    return {factory_id: int(units or 0) for factory_id, units in rows}


def with_terms(document: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    terms = dict(document["round"])
    if overrides.margin_floor is not None:
        terms["margin_floor"] = str(overrides.margin_floor)
    if overrides.capacity_share is not None:
        terms["capacity_share"] = str(overrides.capacity_share)
    if overrides.no_budget:
        terms["budget"] = None
    elif overrides.budget is not None:
        terms["budget"] = str(overrides.budget)
    return {**document, "round": terms}


def allocation_problem(
    *, snapshot: str, overrides: Overrides, committed: Mapping[str, int]
) -> Problem:
    """The problem a solve works on: the frozen snapshot, committed units, then overrides.

    Unknown ids in the overrides are refused (422, each named); demand scaled by a factor
    is rounded half up to whole units. A plain solve is the parsed snapshot (parsed once
    per process: the close keeps it) with the committed units, parsed no further.
    """
    if not overrides.is_what_if:
        base = problem_of(snapshot)
        with_committed = tuple(
            f
            if committed.get(f.id, 0) == f.committed_units
            else f.model_copy(update={"committed_units": committed.get(f.id, 0)})
            for f in base.factories
        )
        return base.model_copy(update={"factories": with_committed})
    document = with_terms(json.loads(snapshot), overrides)
    factories = {f["id"] for f in document["factories"]}
    items = {i["id"] for i in document["items"]}
    bids = {b["id"] for b in document["bids"]}
    errors: list[tuple[str, str]] = []
    for position, factory_id in enumerate(overrides.exclude_factories):
        if factory_id not in factories:
            errors.append((f"exclude_factories.{position}", f"no factory {factory_id!r} in round"))
    for position, bid_id in enumerate(overrides.exclude_bids):
        if bid_id not in bids:
            errors.append((f"exclude_bids.{position}", f"no bid {bid_id!r} in round"))
    per_item: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("demand_scale", overrides.demand_scale),
        ("min_fill", overrides.min_fill),
    )
    for name, mapping in per_item:
        errors.extend((f"{name}.{k}", f"no item {k!r} in round") for k in mapping if k not in items)
    if errors:
        raise InvalidInput(errors)
    gone = set(overrides.exclude_factories)
    excluded = set(overrides.exclude_bids)
    document["factories"] = [
        {**f, "committed_units": committed.get(f["id"], 0)}
        for f in document["factories"]
        if f["id"] not in gone
    ]
    document["bids"] = [
        b for b in document["bids"] if b["id"] not in excluded and b["factory"] not in gone
    ]
    document["items"] = [_item_with(i, overrides) for i in document["items"]]
    try:
        return parse_problem(document)
    except ProblemError as exc:
        raise InvalidInput([("overrides", str(exc))]) from exc


COMMITTED_UNITS = re.compile(
    r'(\n *"committed_units": )([0-9]+)(,\n *"guaranteed_units": [0-9]+,\n *"id": )'
    r'("(?:[^"\\]|\\.)*")'
)
"""A factory's committed units in a problem's text, with the factory's id after them."""


def problem_text(snapshot: str, problem: Problem) -> str:
    """The text of a plain solve's problem (`Problem.to_json`), `problem` being the parsed
    `snapshot` with committed units (`allocation_problem`): the snapshot's text with each
    factory's committed units, where the factories stand in it in the problem's order;
    else written afresh. Writing 100,000 bids again took half a second a solve request."""
    factories = problem.factories
    found = 0

    def committed(match: re.Match[str]) -> str:
        nonlocal found
        position = found
        found += 1
        if position >= len(factories) or json.loads(match[4]) != factories[position].id:
            raise _MisplacedError
        return f"{match[1]}{factories[position].committed_units}{match[3]}{match[4]}"

    try:
        text = COMMITTED_UNITS.sub(committed, snapshot)
    except _MisplacedError:
        return problem.to_json()
    return text if found == len(factories) else problem.to_json()


class _MisplacedError(Exception):
    """The snapshot's factories are not where the problem has them."""


def _item_with(item: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    changed = dict(item)
    factor = overrides.demand_scale.get(item["id"])
    if factor is not None:
        changed["demand"] = [
            {
                **s,
                "units": int(
                    (Decimal(str(s["units"])) * factor).to_integral_value(rounding=ROUND_HALF_UP)
                ),
            }
            for s in item["demand"]
        ]
    if item["id"] in overrides.min_fill:
        changed["min_fill"] = overrides.min_fill[item["id"]]
    return changed


def overrides_of(row: Allocation) -> Overrides:
    """The overrides an allocation was requested with (none for a plain solve)."""
    data = json.loads(row.overrides) if row.overrides else {}
    return Overrides(
        margin_floor=None if "margin_floor" not in data else Decimal(data["margin_floor"]),
        capacity_share=None if "capacity_share" not in data else Decimal(data["capacity_share"]),
        budget=None if data.get("budget") is None else Decimal(data["budget"]),
        no_budget="budget" in data and data["budget"] is None,
        exclude_factories=tuple(data.get("exclude_factories", ())),
        exclude_bids=tuple(data.get("exclude_bids", ())),
        demand_scale={k: Decimal(v) for k, v in data.get("demand_scale", {}).items()},
        min_fill=dict(data.get("min_fill", {})),
    )


@dataclass(frozen=True)
class SolvedItem:
    """An item as an allocation solved it (a what-if's demand scale applied), with its name."""

    id: str
    name: str | None
    retail_price: Decimal
    handling_cost: Decimal
    salvage_value: Decimal
    demand: tuple[tuple[int, Decimal], ...]
    """(units, probability) per scenario."""


def items_document(*, session: Session, problem: Problem) -> str:
    """The problem's items with their names, as stored with an allocation (canonical JSON)."""
    names = dict(
        session.exec(
            select(Item.id, Item.name).where(col(Item.id).in_([i.id for i in problem.items]))
        ).all()
    )
    items = [
        {
            "id": i.id,
            "name": names.get(i.id),
            "retail_price": str(i.retail_price),
            "handling_cost": str(i.handling_cost),
            "salvage_value": str(i.salvage_value),
            "demand": [[s.units, str(s.probability)] for s in i.demand],
        }
        for i in problem.items
    ]
    return json.dumps(items, sort_keys=True, separators=(",", ":"))


def solved_items(row: Allocation) -> tuple[SolvedItem, ...]:
    """The items an allocation solved, in id order, from what its request stored.

    An allocation requested before they were stored (migration 0005) has its problem
    parsed once instead, and no names.
    """
    if row.items is None:
        problem = parse_problem(row.problem)
        return tuple(
            SolvedItem(
                id=i.id,
                name=None,
                retail_price=i.retail_price,
                handling_cost=i.handling_cost,
                salvage_value=i.salvage_value,
                demand=tuple((s.units, s.probability) for s in i.demand),
            )
            for i in sorted(problem.items, key=lambda i: i.id)
        )
    return tuple(
        SolvedItem(
            id=i["id"],
            name=i["name"],
            retail_price=Decimal(i["retail_price"]),
            handling_cost=Decimal(i["handling_cost"]),
            salvage_value=Decimal(i["salvage_value"]),
            demand=tuple((int(units), Decimal(p)) for units, p in i["demand"]),
        )
        for i in sorted(json.loads(row.items), key=lambda i: str(i["id"]))
    )
