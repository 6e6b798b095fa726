"""Settlement arithmetic: takeover of unsold stock, factory statements, the platform's result.

Pure functions of a published allocation and the units sold, in exact decimal money, so
that every figure on a statement reconciles to the cent with the allocation and with the
platform's result. The use cases that store a settlement call these.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

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
            )
        )
    return lines


@dataclass(frozen=True)
class PlatformResult:
    """The platform's result of a round; `net` = revenue - handling - spend + salvage."""

    units_ordered: int
    units_sold: int
    units_taken_over: int
    revenue: Decimal
    handling: Decimal
    supply_spend: Decimal
    salvage: Decimal
    takeover_spend: Decimal
    takeover_loss: Decimal
    net: Decimal


def realised_result(
    awards: Sequence[Award],
    items: Iterable[ItemTerms],
    sold: Mapping[str, int],
    takeover: Mapping[str, int],
) -> PlatformResult:
    """What the round earned once sales are known, every figure exact to the cent.

    The takeover spend is what the platform paid for the units it took over (each bid's
    taken-over units at its supply price); the takeover loss is that spend less the
    salvage value recovered on them.
    """
    terms = {t.item: t for t in items}
    ordered = sum(a.units for a in awards)
    units_sold = sum(sold.values())
    taken_over = sum(takeover.values())
    revenue = sum((terms[i].retail_price * n for i, n in sold.items()), Decimal(0))
    handling = sum((terms[i].handling_cost * n for i, n in sold.items()), Decimal(0))
    spend = sum((a.amount for a in awards), Decimal(0))
    salvage = sum(
        (terms[a.item].salvage_value * takeover.get(a.bid, 0) for a in awards), Decimal(0)
    )
    takeover_spend = sum((a.supply_price * takeover.get(a.bid, 0) for a in awards), Decimal(0))
    return PlatformResult(
        units_ordered=ordered,
        units_sold=units_sold,
        units_taken_over=taken_over,
        revenue=revenue,
        handling=handling,
        supply_spend=spend,
        salvage=salvage,
        takeover_spend=takeover_spend,
        takeover_loss=takeover_spend - salvage,
        net=revenue - handling - spend + salvage,
    )


def to_cents(value: Decimal) -> Decimal:
    """Money for display: every stored figure is already whole cents, this only formats."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)
