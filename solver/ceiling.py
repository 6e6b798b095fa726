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

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from solver.model import AllocationModel
from solver.problem import ProblemItem
from solver.values import CENT

ZERO = Decimal("0.00")


def _brought(item: ProblemItem, x: int) -> Decimal:
    """S(x): what x units of the item are expected to bring, exactly."""
    margin = item.retail_price - item.handling_cost - item.salvage_value
    sold = sum((s.probability * min(s.units, x) for s in item.demand), Decimal(0))
    return item.salvage_value * x + margin * sold


def cost_ceilings(model: AllocationModel) -> list[Decimal | None]:
    """cost_ceiling per bid, in canonical order."""
    problem = model.problem
    m = problem.round.margin_floor
    forced_items = {i.id for i in problem.items if i.min_fill > 0}
    forced_factories = {f for f, g in model.guarantee.items() if g > 0}
    items = {i.id: i for i in problem.items}
    points = {i.id: sorted({s.units for s in i.demand}) for i in problem.items}
    out: list[Decimal | None] = []
    for k, bid in enumerate(problem.bids):
        if bid.item in forced_items or bid.factory in forced_factories:
            out.append(None)
            continue
        lo = max(bid.min_lot, 1)
        hi = min(bid.capacity, model.room[bid.factory])
        if hi < lo:
            out.append(ZERO)
            continue
        item = items[bid.item]
        fee = model.fees[k]
        xs = {lo, hi, *(d for d in points[bid.item] if lo <= d <= hi)}
        need = max((_brought(item, x) - fee) / x for x in xs)
        out.append(ceiling_cost(need, bid.ask_price, m))
    return out


def ceiling_cost(need: Decimal, ask: Decimal | None, margin_floor: Decimal) -> Decimal:
    """The smallest cent c with p(c) = max(ask, ceil_cent(c / (1 - m))) >= need."""
    if need <= 0 or (ask is not None and ask >= need):
        return ZERO
    # ceil_cent(y) >= P (P = need up to the cent) exactly when y > P - 0.01
    target = need.quantize(CENT, rounding=ROUND_CEILING) - CENT
    if target < 0:
        return ZERO
    return (target * (1 - margin_floor)).quantize(CENT, rounding=ROUND_FLOOR) + CENT
