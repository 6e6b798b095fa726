"""Takeover and expectation arithmetic: pure functions of awards, item terms and sales.

No session and no rows: exact decimal money in, exact decimal money out, so every figure
on a statement reconciles to the cent with the allocation and with the platform's result.

Takeover rule: an item's unsold units are split over its bids pro rata to their allocated
units by largest remainder (each bid gets the floor of its exact share; the units left go
one each to the largest remainders, ties to the lower bid id).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from solver.values import CENT


@dataclass(frozen=True)
class AwardFigures:
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


def takeover_by_bid(awards: Sequence[AwardFigures], sold: Mapping[str, int]) -> dict[str, int]:
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


@dataclass(frozen=True, kw_only=True)
class StatementFigures:
    """What a statement sums: units ordered and paid, amount due, declared cost, net margin."""

    units: int
    amount: Decimal
    cost: Decimal
    setup_cost: Decimal
    margin: Decimal | None
    takeover_units: int
    takeover_value: Decimal = Decimal(0)
    """What the platform paid for the units it took over: each at its bid's supply price."""


@dataclass(frozen=True, kw_only=True)
class StatementLine(StatementFigures):
    """A factory's settlement statement for one round (or, `item` given, for one item of it)."""

    factory: str
    item: str | None = None


def _figures(own: Sequence[AwardFigures], takeover: Mapping[str, int]) -> dict[str, Any]:
    """The sums of these awards, and the net margin of the sums."""
    amount = sum((a.amount for a in own), Decimal(0))
    cost = sum((a.cost for a in own), Decimal(0))
    setup = sum((a.setup_cost_incurred for a in own), Decimal(0))
    return {
        "units": sum(a.units for a in own),
        "amount": amount,
        "cost": cost,
        "setup_cost": setup,
        "margin": (amount - cost - setup) / amount if amount > 0 else None,
        "takeover_units": sum(takeover.get(a.bid, 0) for a in own),
        "takeover_value": sum((a.supply_price * takeover.get(a.bid, 0) for a in own), Decimal(0)),
    }


def statements(awards: Sequence[AwardFigures], takeover: Mapping[str, int]) -> list[StatementLine]:
    """One statement per factory with an award: paid units, amount due, cost, net margin."""
    by_factory: dict[str, list[AwardFigures]] = defaultdict(list)
    for award in awards:
        by_factory[award.factory].append(award)
    return [
        StatementLine(factory=factory, **_figures(own, takeover))
        for factory, own in sorted(by_factory.items())
    ]


def item_statements(
    awards: Sequence[AwardFigures], takeover: Mapping[str, int]
) -> list[StatementLine]:
    """Each factory's statement item by item, in factory then item order: the same sums,
    itemised (a factory's lines add up to its statement, margins apart)."""
    by_line: dict[tuple[str, str], list[AwardFigures]] = defaultdict(list)
    for award in awards:
        by_line[award.factory, award.item].append(award)
    return [
        StatementLine(factory=factory, item=item, **_figures(own, takeover))
        for (factory, item), own in sorted(by_line.items())
    ]


def statement_total(
    awards: Sequence[AwardFigures], takeover: Mapping[str, int]
) -> StatementFigures:
    """The statements' total: the sums of every line, and the margin of the sums."""
    return StatementFigures(**_figures(awards, takeover))


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


def _by_item(awards: Sequence[AwardFigures]) -> dict[str, list[AwardFigures]]:
    grouped: dict[str, list[AwardFigures]] = defaultdict(list)
    for award in awards:
        grouped[award.item].append(award)
    return grouped


def realised_items(
    awards: Sequence[AwardFigures],
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
    awards: Sequence[AwardFigures],
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
    awards: Sequence[AwardFigures],
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
    awards: Sequence[AwardFigures],
    items: Iterable[ItemTerms],
    demand: Mapping[str, Sequence[tuple[int, Decimal]]],
) -> PlatformResult:
    """The round's result as expected at publication (see `expected_items`)."""
    return summed(expected_items(awards, items, demand))
