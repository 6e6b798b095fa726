"""Settlement: takeover of unsold stock, factory statements, the platform's result.

First pure functions of a published allocation and the units sold, in exact decimal money,
so that every figure on a statement reconciles to the cent with the allocation and with
the platform's result; then the use cases that store a settlement (a version per
correction) and read the figures from the award rows and the stored problem.

Takeover rule: an item's unsold units are split over its bids pro rata to their allocated
units by largest remainder (each bid gets the floor of its exact share; the units left go
one each to the largest remainders, ties to the lower bid id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from sqlmodel import Session, col, select

from bidding.audit import record_event
from bidding.db import use_case
from bidding.errors import (
    InvalidInput,
    RoundAlreadySettled,
    RoundNotFound,
    RoundNotPublished,
    RoundNotSettled,
)
from bidding.models import (
    Allocation,
    Round,
    RoundState,
    Settlement,
    SettlementItem,
    SettlementTakeover,
)
from bidding.models import Award as AwardRow
from bidding.principal import Principal
from bidding.rounds import get_round, lock_round, round_state
from bidding.values import from_cents, new_id
from solver.problem import parse_problem

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Award:
    """One bid's published award: what the platform ordered from a factory, at which price."""

    bid: str
    factory: str
    item: str
    units: int
    supply_price: Decimal
    setup_fee: Decimal
    unit_cost: Decimal
    setup_cost: Decimal

    @property
    def amount(self) -> Decimal:
        """What the platform owes for this award: every unit ordered, plus the setup fee."""
        if self.units == 0:
            return Decimal(0)
        return self.supply_price * self.units + self.setup_fee

    @property
    def cost(self) -> Decimal:
        """The factory's declared cost of the units (setup cost apart)."""
        return self.unit_cost * self.units

    @property
    def setup_cost_incurred(self) -> Decimal:
        """The setup cost counts only where the bid won units."""
        return self.setup_cost if self.units > 0 else Decimal(0)


@dataclass(frozen=True)
class ItemTerms:
    """What the platform earns per sold unit and recovers per unsold one."""

    item: str
    retail_price: Decimal
    handling_cost: Decimal
    salvage_value: Decimal


class SalesExceedAllocation(ValueError):  # noqa: N818 - a refusal, named for the business
    """More units reported sold than the platform ordered for an item."""

    def __init__(self, item: str, sold: int, allocated: int) -> None:
        self.item, self.sold, self.allocated = item, sold, allocated
        super().__init__(f"item {item}: {sold} units sold, but only {allocated} were allocated")


def attribute_takeover(units_by_bid: Mapping[str, int], unsold: int) -> dict[str, int]:
    """Split an item's unsold units over its bids pro rata to their units, in whole units.

    Largest remainder: each bid gets the floor of its exact share, and the units left over
    go one each to the largest remainders, ties to the lower bid id. Exact integer
    arithmetic, so the split does not depend on floating point or input order.
    """
    total = sum(units_by_bid.values())
    if unsold < 0 or unsold > total:
        raise ValueError(f"unsold units {unsold} outside 0..{total}")
    if unsold == 0:
        return dict.fromkeys(units_by_bid, 0)
    shares = {bid: divmod(unsold * units, total) for bid, units in units_by_bid.items()}
    left = unsold - sum(whole for whole, _ in shares.values())
    by_remainder = sorted(shares, key=lambda bid: (-shares[bid][1], bid))
    extra = set(by_remainder[:left])
    return {bid: whole + (1 if bid in extra else 0) for bid, (whole, _) in shares.items()}


def takeover_by_bid(awards: Sequence[Award], sold: Mapping[str, int]) -> dict[str, int]:
    """Units taken over per bid, for all items, given the units sold per item."""
    units_by_item: dict[str, dict[str, int]] = defaultdict(dict)
    for award in awards:
        units_by_item[award.item][award.bid] = award.units
    takeover: dict[str, int] = {}
    for item, units_by_bid in sorted(units_by_item.items()):
        allocated = sum(units_by_bid.values())
        item_sold = sold.get(item, 0)
        if item_sold > allocated:
            raise SalesExceedAllocation(item, item_sold, allocated)
        takeover.update(attribute_takeover(units_by_bid, allocated - item_sold))
    return takeover


@dataclass(frozen=True)
class StatementLine:
    """A factory's settlement statement for one round."""

    factory: str
    units: int
    amount: Decimal
    cost: Decimal
    setup_cost: Decimal
    margin: Decimal | None
    takeover_units: int
    takeover_value: Decimal = Decimal(0)
    """What the platform paid for the units it took over: each at its bid's supply price."""


def statements(awards: Sequence[Award], takeover: Mapping[str, int]) -> list[StatementLine]:
    """One statement per factory with an award: paid units, amount due, cost, net margin."""
    by_factory: dict[str, list[Award]] = defaultdict(list)
    for award in awards:
        by_factory[award.factory].append(award)
    lines = []
    for factory, own in sorted(by_factory.items()):
        amount = sum((a.amount for a in own), Decimal(0))
        cost = sum((a.cost for a in own), Decimal(0))
        setup = sum((a.setup_cost_incurred for a in own), Decimal(0))
        margin = (amount - cost - setup) / amount if amount > 0 else None
        lines.append(
            StatementLine(
                factory=factory,
                units=sum(a.units for a in own),
                amount=amount,
                cost=cost,
                setup_cost=setup,
                margin=margin,
                takeover_units=sum(takeover.get(a.bid, 0) for a in own),
                takeover_value=sum(
                    (a.supply_price * takeover.get(a.bid, 0) for a in own), Decimal(0)
                ),
            )
        )
    return lines


@dataclass(frozen=True)
class ItemOutcome:
    """One item's figures in a round: realised (whole units sold) or expected (exact units).

    `net` = revenue - handling - supply spend + salvage; `takeover_loss` = what the platform
    paid for the units it took over less the salvage it recovers on them.
    """

    item: str
    units_ordered: int
    units_sold: Decimal
    units_taken_over: Decimal
    revenue: Decimal
    handling: Decimal
    supply_spend: Decimal
    salvage: Decimal
    takeover_spend: Decimal

    @property
    def takeover_loss(self) -> Decimal:
        """The supply value of the units taken over, less their salvage."""
        return self.takeover_spend - self.salvage

    @property
    def net(self) -> Decimal:
        """What the item earned the platform: sales less handling and spend, plus salvage."""
        return self.revenue - self.handling - self.supply_spend + self.salvage


@dataclass(frozen=True)
class PlatformResult:
    """The platform's result of a round, the sums of its items' figures."""

    units_ordered: int
    units_sold: Decimal
    units_taken_over: Decimal
    revenue: Decimal
    handling: Decimal
    supply_spend: Decimal
    salvage: Decimal
    takeover_spend: Decimal
    takeover_loss: Decimal
    net: Decimal
    items: tuple[ItemOutcome, ...] = ()


def summed(outcomes: Sequence[ItemOutcome]) -> PlatformResult:
    """The round's figures: every total is the sum of the items' figures, so they add up."""
    zero = Decimal(0)
    spend = sum((o.supply_spend for o in outcomes), zero)
    salvage = sum((o.salvage for o in outcomes), zero)
    takeover_spend = sum((o.takeover_spend for o in outcomes), zero)
    revenue = sum((o.revenue for o in outcomes), zero)
    handling = sum((o.handling for o in outcomes), zero)
    return PlatformResult(
        units_ordered=sum(o.units_ordered for o in outcomes),
        units_sold=sum((o.units_sold for o in outcomes), zero),
        units_taken_over=sum((o.units_taken_over for o in outcomes), zero),
        revenue=revenue,
        handling=handling,
        supply_spend=spend,
        salvage=salvage,
        takeover_spend=takeover_spend,
        takeover_loss=takeover_spend - salvage,
        net=revenue - handling - spend + salvage,
        items=tuple(outcomes),
    )


def _by_item(awards: Sequence[Award]) -> dict[str, list[Award]]:
    grouped: dict[str, list[Award]] = defaultdict(list)
    for award in awards:
        grouped[award.item].append(award)
    return grouped


def realised_items(
    awards: Sequence[Award],
    items: Iterable[ItemTerms],
    sold: Mapping[str, int],
    takeover: Mapping[str, int],
) -> list[ItemOutcome]:
    """Each item's figures once sales are known, exact to the cent, in item order.

    The takeover spend is what the platform paid for the units it took over (each bid's
    taken-over units at its supply price).
    """
    grouped = _by_item(awards)
    outcomes = []
    for terms in sorted(items, key=lambda t: t.item):
        own = grouped.get(terms.item, [])
        n = sold.get(terms.item, 0)
        taken = sum(takeover.get(a.bid, 0) for a in own)
        outcomes.append(
            ItemOutcome(
                item=terms.item,
                units_ordered=sum(a.units for a in own),
                units_sold=Decimal(n),
                units_taken_over=Decimal(taken),
                revenue=terms.retail_price * n,
                handling=terms.handling_cost * n,
                supply_spend=sum((a.amount for a in own), Decimal(0)),
                salvage=terms.salvage_value * taken,
                takeover_spend=sum(
                    (a.supply_price * takeover.get(a.bid, 0) for a in own), Decimal(0)
                ),
            )
        )
    return outcomes


def realised_result(
    awards: Sequence[Award],
    items: Iterable[ItemTerms],
    sold: Mapping[str, int],
    takeover: Mapping[str, int],
) -> PlatformResult:
    """What the round earned once sales are known, every figure exact to the cent."""
    return summed(realised_items(awards, items, sold, takeover))


@dataclass(frozen=True)
class Expectation:
    """An item's expected sales for X units ordered: E[min(X, D)] and X - E[min(X, D)]."""

    sold: Decimal
    unsold: Decimal
    takeover_spend: Decimal
    salvage: Decimal


def expectation(
    units: int,
    price_spend: Decimal,
    salvage_value: Decimal,
    demand: Sequence[tuple[int, Decimal]],
) -> Expectation:
    """Expected sold and unsold units of an item, its expected takeover spend and salvage.

    E[min(X, D)] = sum_k pi_k min(X, d_k), exact (probabilities have at most 9 decimals).
    The unsold units are taken over pro rata, so their supply value is the item's average
    supply price (`price_spend` / X, fees apart) per unit; it and the salvage are rounded
    half even to the cent per item. This is the one rule for expected takeover: the
    comparison of allocations and the platform's expected result both use it.
    """
    if units == 0:
        return Expectation(Decimal(0), Decimal(0), Decimal("0.00"), Decimal("0.00"))
    with localcontext() as ctx:
        ctx.prec = 50
        sold = sum((p * min(units, d) for d, p in demand), Decimal(0))
        unsold = (units - sold).normalize()
        average = price_spend / units
        return Expectation(
            sold=sold.normalize(),
            unsold=unsold,
            takeover_spend=(unsold * average).quantize(CENT, ROUND_HALF_EVEN),
            salvage=(unsold * salvage_value).quantize(CENT, ROUND_HALF_EVEN),
        )


def expected_items(
    awards: Sequence[Award],
    items: Iterable[ItemTerms],
    demand: Mapping[str, Sequence[tuple[int, Decimal]]],
) -> list[ItemOutcome]:
    """Each item's figures as expected at publication, from the problem's demand scenarios.

    Revenue and handling are r and h times E[min(X, D)], rounded half even to the cent
    per item; supply spend is exact (every unit ordered is paid); takeover as `expectation`.
    """
    grouped = _by_item(awards)
    outcomes = []
    for terms in sorted(items, key=lambda t: t.item):
        own = grouped.get(terms.item, [])
        units = sum(a.units for a in own)
        price_spend = sum((a.supply_price * a.units for a in own), Decimal(0))
        e = expectation(units, price_spend, terms.salvage_value, demand.get(terms.item, ()))
        outcomes.append(
            ItemOutcome(
                item=terms.item,
                units_ordered=units,
                units_sold=e.sold,
                units_taken_over=e.unsold,
                revenue=(terms.retail_price * e.sold).quantize(CENT, ROUND_HALF_EVEN),
                handling=(terms.handling_cost * e.sold).quantize(CENT, ROUND_HALF_EVEN),
                supply_spend=sum((a.amount for a in own), Decimal(0)),
                salvage=e.salvage,
                takeover_spend=e.takeover_spend,
            )
        )
    return outcomes


def expected_result(
    awards: Sequence[Award],
    items: Iterable[ItemTerms],
    demand: Mapping[str, Sequence[tuple[int, Decimal]]],
) -> PlatformResult:
    """The round's result as expected at publication (see `expected_items`)."""
    return summed(expected_items(awards, items, demand))


def to_cents(value: Decimal) -> Decimal:
    """Money for display: every stored figure is already whole cents, this only formats."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


# The use cases: settling a published round and reading its figures, on the database.


@dataclass(frozen=True)
class PublishedRound:
    """A published (or settled) round as finance reads it: awards, item terms, demand, sales.

    `sold` and `takeover` are those of the latest settlement version, None before one.
    """

    round: Round
    allocation: Allocation
    awards: tuple[Award, ...]
    items: tuple[ItemTerms, ...]
    demand: Mapping[str, tuple[tuple[int, Decimal], ...]]
    settlement: Settlement | None
    sold: Mapping[str, int] | None
    takeover: Mapping[str, int] | None

    def expected(self) -> PlatformResult:
        """The result expected at publication."""
        return expected_result(self.awards, self.items, self.demand)

    def realised(self) -> PlatformResult | None:
        """The realised result, once settled."""
        if self.sold is None or self.takeover is None:
            return None
        return realised_result(self.awards, self.items, self.sold, self.takeover)


def published_allocation(*, session: Session, round_id: str) -> Allocation | None:
    """The round's published allocation, if any."""
    return session.exec(
        select(Allocation).where(
            Allocation.round_id == round_id, col(Allocation.published_at).is_not(None)
        )
    ).first()


def award_rows(*, session: Session, allocation_id: str) -> list[AwardRow]:
    """The stored award rows of an allocation, in bid order."""
    return list(
        session.exec(
            select(AwardRow)
            .where(AwardRow.allocation_id == allocation_id)
            .order_by(col(AwardRow.bid_id))
        ).all()
    )


def published_round(*, session: Session, row: Round) -> PublishedRound:
    """The round's published allocation with its terms and latest settlement (409 before)."""
    if row.state not in (RoundState.published, RoundState.settled):
        raise RoundNotPublished(row.state)
    allocation = published_allocation(session=session, round_id=row.id)
    if allocation is None:
        raise RoundNotPublished(row.state)
    problem = parse_problem(allocation.problem)
    # Declared costs come from the exact problem the allocation solved; a what-if's
    # excluded bids are not in it and won nothing, so they cost nothing.
    bids = {b.id: b for b in problem.bids}
    awards = []
    for a in award_rows(session=session, allocation_id=allocation.id):
        bid = bids.get(a.bid_id)
        awards.append(
            Award(
                bid=a.bid_id,
                factory=a.factory_id,
                item=a.item_id,
                units=a.units,
                supply_price=from_cents(a.supply_price_cents),
                setup_fee=from_cents(a.setup_fee_cents),
                unit_cost=bid.unit_cost if bid else Decimal(0),
                setup_cost=bid.setup_cost if bid else Decimal(0),
            )
        )
    latest = session.exec(
        select(Settlement)
        .where(Settlement.round_id == row.id)
        .order_by(col(Settlement.version).desc())
        .limit(1)
    ).first()
    sold = takeover = None
    if latest is not None:
        sold, takeover = _stored_figures(session, latest.id)
    return PublishedRound(
        round=row,
        allocation=allocation,
        awards=tuple(awards),
        items=tuple(
            ItemTerms(i.id, i.retail_price, i.handling_cost, i.salvage_value) for i in problem.items
        ),
        demand={i.id: tuple((s.units, s.probability) for s in i.demand) for i in problem.items},
        settlement=latest,
        sold=sold,
        takeover=takeover,
    )


def _stored_figures(session: Session, settlement_id: str) -> tuple[dict[str, int], dict[str, int]]:
    sold = {
        r.item_id: r.sold
        for r in session.exec(
            select(SettlementItem).where(SettlementItem.settlement_id == settlement_id)
        ).all()
    }
    takeover = {
        r.bid_id: r.units
        for r in session.exec(
            select(SettlementTakeover).where(SettlementTakeover.settlement_id == settlement_id)
        ).all()
    }
    return sold, takeover


@dataclass(frozen=True)
class RecordedSettlement:
    """One settlement version: units ordered, sold and taken over per item."""

    settlement: Settlement
    items: tuple[SettlementItem, ...]
    taken_over: Mapping[str, int]
    """Units taken over per item."""


def _checked_takeover(published: PublishedRound, sold: Mapping[str, int]) -> dict[str, int]:
    """The takeover per bid for these sales; 422 naming every unknown, missing or oversold item."""
    allocated: dict[str, int] = dict.fromkeys((t.item for t in published.items), 0)
    for award in published.awards:
        allocated[award.item] = allocated.get(award.item, 0) + award.units
    errors = [
        (f"sold.{item}", "not an item of this round") for item in sold if item not in allocated
    ]
    errors.extend(
        (f"sold.{item}", "missing: give the units sold of every item of the round, 0 if none")
        for item in sorted(allocated)
        if item not in sold
    )
    errors.extend(
        (f"sold.{item}", str(SalesExceedAllocation(item, n, allocated[item])))
        for item, n in sorted(sold.items())
        if item in allocated and n > allocated[item]
    )
    if errors:
        raise InvalidInput(errors)
    return takeover_by_bid(published.awards, sold)


def _store(
    session: Session,
    published: PublishedRound,
    *,
    actor: Principal,
    version: int,
    sold: Mapping[str, int],
    takeover: Mapping[str, int],
    reason: str | None,
) -> RecordedSettlement:
    settlement = Settlement(
        id=new_id("stl"),
        round_id=published.round.id,
        allocation_id=published.allocation.id,
        version=version,
        reason=reason,
        recorded_by=actor.key_id,
    )
    session.add(settlement)
    session.flush()
    taken: dict[str, int] = defaultdict(int)
    for award in published.awards:
        taken[award.item] += takeover.get(award.bid, 0)
    items = tuple(
        SettlementItem(
            settlement_id=settlement.id,
            item_id=t.item,
            allocated=sum(a.units for a in published.awards if a.item == t.item),
            sold=sold[t.item],
        )
        for t in sorted(published.items, key=lambda t: t.item)
    )
    session.add_all(items)
    session.add_all(
        SettlementTakeover(
            settlement_id=settlement.id,
            bid_id=a.bid,
            factory_id=a.factory,
            item_id=a.item,
            units=takeover.get(a.bid, 0),
        )
        for a in published.awards
    )
    session.flush()
    return RecordedSettlement(settlement=settlement, items=items, taken_over=dict(taken))


def _figures(recorded: RecordedSettlement) -> dict[str, Any]:
    return {
        "version": recorded.settlement.version,
        "allocation": recorded.settlement.allocation_id,
        "sold": {i.item_id: i.sold for i in recorded.items},
        "taken_over": dict(sorted(recorded.taken_over.items())),
    }


@use_case
def settle_round(
    *, session: Session, actor: Principal, round_id: str, sold: Mapping[str, int]
) -> RecordedSettlement:
    """Record the units sold of a published round, take the rest over, and settle it.

    Every item of the round must be given (0 where none sold); sales above an item's
    allocated units are refused. Recorded once: a settled round takes corrections only.
    """
    row = lock_round(session, round_id)
    if row.state == RoundState.settled:
        raise RoundAlreadySettled(row.state)
    published = published_round(session=session, row=row)
    takeover = _checked_takeover(published, sold)
    recorded = _store(
        session, published, actor=actor, version=1, sold=sold, takeover=takeover, reason=None
    )
    before = round_state(row)
    row.state = RoundState.settled
    session.add(row)
    record_event(
        session,
        actor=actor,
        action="settlement.record",
        entity_type="settlement",
        entity_id=recorded.settlement.id,
        after=_figures(recorded) | {"round": row.id},
    )
    record_event(
        session,
        actor=actor,
        action="round.settle",
        entity_type="round",
        entity_id=row.id,
        before=before,
        after=round_state(row) | {"settlement": recorded.settlement.id},
    )
    session.commit()
    return recorded


@use_case
def correct_settlement(
    *, session: Session, actor: Principal, round_id: str, sold: Mapping[str, int], reason: str
) -> RecordedSettlement:
    """Correct a settled round's units sold: a new version, the earlier ones kept, audited."""
    row = lock_round(session, round_id)
    if row.state != RoundState.settled:
        raise RoundNotSettled(row.state)
    published = published_round(session=session, row=row)
    assert published.settlement is not None  # a settled round has a settlement
    previous = published.settlement
    takeover = _checked_takeover(published, sold)
    recorded = _store(
        session,
        published,
        actor=actor,
        version=previous.version + 1,
        sold=sold,
        takeover=takeover,
        reason=reason,
    )
    record_event(
        session,
        actor=actor,
        action="settlement.correct",
        entity_type="settlement",
        entity_id=recorded.settlement.id,
        before={"settlement": previous.id, "version": previous.version, "sold": published.sold},
        after=_figures(recorded) | {"round": row.id, "reason": reason},
    )
    session.commit()
    return recorded


def settlement_history(*, session: Session, round_id: str) -> list[RecordedSettlement]:
    """Every settlement version of a round, oldest first (404 unknown round, 409 unsettled)."""
    row = session.get(Round, round_id)
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    versions = session.exec(
        select(Settlement).where(Settlement.round_id == round_id).order_by(col(Settlement.version))
    ).all()
    if not versions:
        raise RoundNotSettled(row.state)
    history = []
    for settlement in versions:
        items = session.exec(
            select(SettlementItem)
            .where(SettlementItem.settlement_id == settlement.id)
            .order_by(col(SettlementItem.item_id))
        ).all()
        taken: dict[str, int] = defaultdict(int)
        for t in session.exec(
            select(SettlementTakeover).where(SettlementTakeover.settlement_id == settlement.id)
        ).all():
            taken[t.item_id] += t.units
        history.append(RecordedSettlement(settlement, tuple(items), dict(taken)))
    return history


@dataclass(frozen=True)
class RoundStatements:
    """A round's statements: one line per factory with an award (a factory's own only)."""

    round: Round
    settlement: Settlement | None
    lines: tuple[StatementLine, ...]


def round_statements(*, session: Session, principal: Principal, round_id: str) -> RoundStatements:
    """Statements of a published or settled round; a factory gets its own line only.

    Before settlement the amounts due are final (every unit ordered is paid) and the
    takeover is not known yet: `settlement` is None.
    """
    row = get_round(session=session, principal=principal, round_id=round_id)
    published = published_round(session=session, row=row)
    lines = statements(published.awards, published.takeover or {})
    if principal.factory_id is not None:
        lines = [line for line in lines if line.factory == principal.factory_id]
    return RoundStatements(round=row, settlement=published.settlement, lines=tuple(lines))


def round_result(*, session: Session, principal: Principal, round_id: str) -> PublishedRound:
    """A published or settled round's figures: expected at publication, realised once settled."""
    row = get_round(session=session, principal=principal, round_id=round_id)
    return published_round(session=session, row=row)


def published_rounds(*, session: Session, round_id: str | None = None) -> list[PublishedRound]:
    """Every published or settled round (or the one named), in id order."""
    query = select(Round).where(col(Round.state).in_([RoundState.published, RoundState.settled]))
    if round_id is not None:
        if session.get(Round, round_id) is None:
            raise RoundNotFound(f"no round {round_id!r}")
        query = query.where(Round.id == round_id)
    rows = session.exec(query.order_by(col(Round.id))).all()
    return [published_round(session=session, row=r) for r in rows]
