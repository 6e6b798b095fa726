"""`cost_ceiling` (SPEC 3): the unit cost at or above which a bid can never win a unit.

The smallest cent c at which, for every whole x from max(l, 1) to min(q, the factory's
room), sum over k <= x of V_k - p(c) x - fee <= 0, with V_k = s + (r - h - s) P(D >= k)
what the k-th unit of the item is expected to bring. It ignores the other bids, beta and
the budget, so it is a bound. sum over k <= x of V_k is s x + (r - h - s) E[min(D, x)]:
linear between the item's demand points, so (S(x) - fee) / x, the price that just pays
for x units, is monotone between them and is highest at an end of the range or a demand
point inside it. The ceiling is the smallest cent whose price reaches that highest value.
0.00 where no cost wins (an ask at or above it, no room); None where a minimum fill or a
guarantee could force units on the bid.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import repeat
from operator import is_

import numpy as np

from solver.model import AllocationModel
from solver.problem import ProblemItem
from solver.values import CENT, MAX_UNITS

ZERO = Decimal("0.00")


def _brought(item: ProblemItem, x: int) -> Decimal:
    """S(x): what x units of the item are expected to bring, exactly."""
    margin = item.retail_price - item.handling_cost - item.salvage_value
    sold = sum((s.probability * min(s.units, x) for s in item.demand), Decimal(0))
    return item.salvage_value * x + margin * sold


def cost_ceilings(model: AllocationModel) -> list[Decimal | None]:
    """cost_ceiling per bid, in canonical order.

    Most bids have no lot and no fee, on an item and from a factory that no rule forces
    units on: the highest price that pays is their item's alone (that of its first unit,
    _PayingPrices), and so is the ceiling, 0.00 where the bid's ask reaches that price
    (ceiling_cost's first rule); picked out by array. The others are worked out bid by
    bid, each price once.
    """
    problem = model.problem
    m = problem.round.margin_floor
    n = len(problem.bids)
    tables = [_PayingPrices(i) for i in problem.items]
    forced_item = np.array([i.min_fill > 0 for i in problem.items], dtype=np.bool_)
    forced_factory = np.array(
        [model.guarantee.get(f.id, 0) > 0 for f in problem.factories], dtype=np.bool_
    )
    room = np.array([model.room[f.id] for f in problem.factories], dtype=np.float64)
    item, factory = model.bid_item, model.bid_factory
    columns = problem.bid_columns
    forced = forced_item[item] | forced_factory[factory]
    # units are whole numbers below 2**53: exact as floats
    lowest = np.maximum(model.min_lot, 1.0)
    no_room = np.minimum(model.capacity, room[factory]) < lowest
    exact = np.array([table.exact for table in tables], dtype=np.bool_)
    no_ask = np.fromiter(map(is_, columns.ask_price, repeat(None)), np.bool_, n)
    plain = ~forced & ~no_room & (lowest == 1.0) & (model.fee == 0.0) & exact[item]
    first_unit: list[Decimal] = [ZERO] * len(tables)
    by_item: list[Decimal | None] = [None] * len(tables)
    for i in np.unique(item[plain]).tolist():
        first_unit[i] = tables[i].price(1, ZERO)
        by_item[i] = ceiling_cost(first_unit[i], None, m)
    out = list(map(by_item.__getitem__, item.tolist()))
    asks = columns.ask_price
    for k in np.flatnonzero(plain & ~no_ask).tolist():
        ask = asks[k]
        if ask is not None and ask >= first_unit[item[k]]:  # ceiling_cost's first rule
            out[k] = ZERO
    ceilings: dict[tuple[Decimal, Decimal | None], Decimal] = {}
    for k in np.flatnonzero(~plain).tolist():
        if forced[k]:
            out[k] = None
            continue
        if no_room[k]:
            out[k] = ZERO
            continue
        lo = max(columns.min_lot[k], 1)
        hi = min(columns.capacity[k], model.room[columns.factory[k]])
        need = tables[item[k]].highest(lo, hi, model.fees[k])
        ask = asks[k]
        ceiling = ceilings.get((need, ask))
        if ceiling is None:  # a function of the two values: once per distinct pair
            ceiling = ceilings[need, ask] = ceiling_cost(need, ask, m)
        out[k] = ceiling
    return out


def highest_paying_price(item: ProblemItem, lo: int, hi: int, fee: Decimal) -> Decimal:
    """max of (S(x) - fee) / x over x in {lo, hi} and the demand points in [lo, hi]: the
    definition, bid by bid (cost_ceilings reads it from _PayingPrices, held equal to this
    by tests/unit/solver/test_ceiling.py)."""
    points = {s.units for s in item.demand}
    xs = {lo, hi, *(d for d in points if lo <= d <= hi)}
    return max((_brought(item, x) - fee) / x for x in xs)


class _PayingPrices:
    """highest_paying_price for the bids of one item, each price worked out once.

    S is concave (a sum of min(d, x) with non-negative weights, plus s x) and S(0) = 0,
    so S(x) / x does not rise with x: with no fee, the highest price is at the range's
    low end, and only that one is worked out. Every S of the item is exact in 28 digits
    (below 10**17, checked once), so the prices, rounded alike, keep that order. With a
    fee, every candidate is worked out, once per (x, fee), and the highest over a run of
    demand points once per run; S(x) at or above every demand point sums the scenarios'
    units as they are, once. 100,000 bids: 0.2 s instead of 4 s.
    """

    def __init__(self, item: ProblemItem) -> None:
        self.item = item
        self.points = sorted({s.units for s in item.demand})
        self.top = self.points[-1]
        self.margin = item.retail_price - item.handling_cost - item.salvage_value
        self.sold_all = sum((s.probability * s.units for s in item.demand), Decimal(0))
        # S(x) = s x + margin * sold(x), sold(x) <= top: exact below 10**17 (11 decimals)
        self.exact = (
            self.margin >= 0 and item.salvage_value * MAX_UNITS + self.margin * self.top < _EXACT
        )
        self._price: dict[tuple[int, Decimal], Decimal] = {}
        self._run: dict[tuple[int, int, Decimal], Decimal | None] = {}

    def brought(self, x: int) -> Decimal:
        """S(x), by the same operations as _brought."""
        if x >= self.top:  # min(units, x) is every scenario's units
            return self.item.salvage_value * x + self.margin * self.sold_all
        return _brought(self.item, x)

    def price(self, x: int, fee: Decimal) -> Decimal:
        """(S(x) - fee) / x."""
        found = self._price.get((x, fee))
        if found is None:
            found = self._price[x, fee] = (self.brought(x) - fee) / x
        return found

    def highest(self, lo: int, hi: int, fee: Decimal) -> Decimal:
        """highest_paying_price(item, lo, hi, fee)."""
        low = self.price(lo, fee)
        if fee == 0 and self.exact:  # S(x) / x falls with x: the low end is the highest
            return low
        first = bisect_left(self.points, lo)
        last = bisect_right(self.points, hi)
        key = (first, last, fee)
        if key in self._run:
            run = self._run[key]
        else:
            run = self._run[key] = max(
                (self.price(d, fee) for d in self.points[first:last]), default=None
            )
        ends = max(low, self.price(hi, fee))
        return ends if run is None else max(ends, run)


_EXACT = Decimal(10**17)


def ceiling_cost(need: Decimal, ask: Decimal | None, margin_floor: Decimal) -> Decimal:
    """The smallest cent c with p(c) = max(ask, ceil_cent(c / (1 - m))) >= need."""
    if need <= 0 or (ask is not None and ask >= need):
        return ZERO
    # ceil_cent(y) >= P (P = need up to the cent) exactly when y > P - 0.01
    target = need.quantize(CENT, rounding=ROUND_CEILING) - CENT
    if target < 0:
        return ZERO
    return (target * (1 - margin_floor)).quantize(CENT, rounding=ROUND_FLOOR) + CENT
