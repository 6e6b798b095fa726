"""Comparison: two allocations of one round, figure by figure, per item and per factory."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from bidding.errors import AllocationNotDone, AllocationsOfDifferentRounds
from bidding.models import Allocation, AllocationStatus
from bidding.names import Names, allocation_names
from bidding.snapshot import SolvedItem, solved_items
from bidding.solves import get_allocation, presented_result
from bidding.takeover import expectation
from solver.result import Result


@dataclass(frozen=True)
class Figures:
    """What one allocation spends and risks, per item and factory, in exact decimals."""

    objective: Decimal
    spend: Decimal
    units: int
    expected_unsold: Decimal
    takeover_cost: Decimal
    salvage: Decimal
    item_units: dict[str, int]
    item_spend: dict[str, Decimal]
    item_unsold: dict[str, Decimal]
    item_takeover_cost: dict[str, Decimal]
    item_salvage: dict[str, Decimal]
    factory_units: dict[str, int]
    factory_spend: dict[str, Decimal]


def figures(items: Sequence[SolvedItem], result: Result) -> Figures:
    """Spend (price x units + fees paid), and the expected takeover of each item.

    Expected unsold units, their supply cost and salvage per item by the one rule of
    `bidding.takeover.expectation`. Totals are the sums of the per-item figures, so they
    add up exactly.
    """
    item_units: dict[str, int] = defaultdict(int)
    item_spend: dict[str, Decimal] = defaultdict(Decimal)
    item_price_spend: dict[str, Decimal] = defaultdict(Decimal)
    factory_units: dict[str, int] = defaultdict(int)
    factory_spend: dict[str, Decimal] = defaultdict(Decimal)
    for a in result.allocations:
        fee = a.setup_fee if a.units > 0 else Decimal(0)
        spend = a.supply_price * a.units + fee
        item_units[a.item] += a.units
        item_spend[a.item] += spend
        item_price_spend[a.item] += a.supply_price * a.units
        factory_units[a.factory] += a.units
        factory_spend[a.factory] += spend
    unsold: dict[str, Decimal] = {}
    cost: dict[str, Decimal] = {}
    salvage: dict[str, Decimal] = {}
    for item in items:
        e = expectation(
            item_units.get(item.id, 0), item_price_spend[item.id], item.salvage_value, item.demand
        )
        unsold[item.id], cost[item.id], salvage[item.id] = e.unsold, e.takeover_spend, e.salvage
    return Figures(
        objective=result.objective if result.objective is not None else Decimal(0),
        spend=sum(item_spend.values(), Decimal("0.00")),
        units=sum(item_units.values()),
        expected_unsold=sum(unsold.values(), Decimal(0)),
        takeover_cost=sum(cost.values(), Decimal("0.00")),
        salvage=sum(salvage.values(), Decimal("0.00")),
        item_units=dict(item_units),
        item_spend=dict(item_spend),
        item_unsold=unsold,
        item_takeover_cost=cost,
        item_salvage=salvage,
        factory_units=dict(factory_units),
        factory_spend=dict(factory_spend),
    )


@dataclass(frozen=True)
class Comparison:
    """Two allocations of one round, figure by figure (`other` minus `base` as the change)."""

    base: Allocation
    other: Allocation
    base_figures: Figures
    other_figures: Figures
    names: Names

    def item_ids(self) -> list[str]:
        """Every item either allocation has, in id order."""
        a, b = self.base_figures, self.other_figures
        return sorted(
            set(a.item_units) | set(b.item_units) | set(a.item_unsold) | set(b.item_unsold)
        )

    def factory_ids(self) -> list[str]:
        """Every factory either allocation names, in id order."""
        return sorted(set(self.base_figures.factory_units) | set(self.other_figures.factory_units))


def comparison_of(
    *, session: Session, base: Allocation, other: Allocation, results: tuple[Result, Result]
) -> Comparison:
    """Two done allocations' figures side by side, with the names of what they name."""
    one, two = (
        allocation_names(session=session, row=row, result=result)
        for row, result in zip((base, other), results, strict=True)
    )
    return Comparison(
        base=base,
        other=other,
        base_figures=figures(solved_items(base), results[0]),
        other_figures=figures(solved_items(other), results[1]),
        names=Names(factories={**one.factories, **two.factories}, items={**one.items, **two.items}),
    )


def compare_allocations(*, session: Session, allocation_id: str, other_id: str) -> Comparison:
    """The figures of two done allocations of the same round, side by side."""
    base = get_allocation(session=session, allocation_id=allocation_id)
    other = get_allocation(session=session, allocation_id=other_id)
    if base.round_id != other.round_id:
        raise AllocationsOfDifferentRounds(
            f"{base.id} is of round {base.round_id}, {other.id} of {other.round_id}"
        )
    results = []
    for row in (base, other):
        result = presented_result(session=session, row=row)
        if row.status != AllocationStatus.done or result is None:
            raise AllocationNotDone(row.status, f"allocation {row.id} is {row.status}")
        results.append(result)
    return comparison_of(session=session, base=base, other=other, results=(results[0], results[1]))
