"""A reason's re-solve answered from the bids it changes, without a pass in Python over all.

After the relaxed round's LP and tie pass (solve.resolve_relaxed), where the continuous
tie choice x' is whole, the solve's whole-unit pass would snap it (y), check every rule
exactly, prove y at gap 0 (its bound is y's own value: nothing more is solved), drop the
units that earn nothing (whole.drop_idle_units) and give way to nothing where the profit
is below 0. What that gives the compared bids is decided here:

- every hard rule is checked exactly on y in integers (numpy int64): capacities, lots,
  fills, the factories' rooms and guarantees, each item share as 10^d x_b <= (10^d beta)
  X_i, the budget in cents; any broken: None (the full passes decide);
- the zero-profit rule only takes units away, so a bid with y_b <= U_b gets no more; a
  compared bid with y_b > U_b keeps them where its item's last unit is worth more than
  every price paid on the item (drop_idle_units then takes nothing from it; exact, in
  Decimal), else None;
- y's profit is at least 0 (in floats with an error bound, else exactly over the items it
  changes), so nothing is given way to (dropping units never lowers it); else None.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from solver.model import SNAP, AllocationModel, share_scale
from solver.problem import ProblemItem
from solver.whole import unit_value

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Published:
    """The published units and what the quick answer compares with, computed once."""

    units: IntArray
    value: Decimal
    """Their exact profit."""
    spend_cents: int
    costs: FloatArray
    """The objective's coefficients (the solver model's, as built)."""
    price_cents: IntArray
    fee_cents: IntArray

    @classmethod
    def of(
        cls, model: AllocationModel, units: IntArray, value: Decimal, costs: FloatArray
    ) -> Published:
        price = np.array([int(p * 100) for p in model.prices], dtype=np.int64)
        fee = np.array([int(f * 100) for f in model.fees], dtype=np.int64)
        spend = int(price @ units) + int(fee[units > 0].sum())
        return cls(units, value, spend, costs, price, fee)


def quick_gains(
    model: AllocationModel, published: Published, continuous: FloatArray, which: IntArray
) -> IntArray | None:
    """The published units with each compared bid's gain in the relaxed re-solve set on
    them (a compared bid the re-solve gives more has its re-solve's units, every other bid
    the published ones); None where the full passes must decide. `model` is the relaxed
    round's."""
    x = continuous[model.x_col]
    near = np.round(x)
    if np.any(np.abs(x - near) > SNAP) or np.any(near < 0):
        return None
    y: IntArray = near.astype(np.int64)
    units = published.units
    changed = np.flatnonzero(y != units)
    if len(changed) == 0:
        return units.copy()
    if not _keeps_rules(model, published, y, changed) or not _not_below_nothing(
        model, published, y, changed, continuous
    ):
        return None
    out = units.copy()
    gains = which[y[which] > units[which]]
    problem = model.problem
    for k in gains.tolist():
        i = int(model.bid_item[k])
        members = model.bids_by_item[problem.items[i].id]
        winners = members[y[members] > 0].tolist()
        top = max(model.prices[j] for j in winners)
        if unit_value(model, i, int(y[members].sum())) <= top:
            return None  # the zero-profit rule may take from this item: the passes decide
        out[k] = y[k]
    return out


def _keeps_rules(
    model: AllocationModel, published: Published, y: IntArray, changed: IntArray
) -> bool:
    """y keeps every hard rule of the relaxed round, exactly (integers)."""
    problem = model.problem
    if np.any(y > model.capacity.astype(np.int64)):
        return False
    lot = model.min_lot.astype(np.int64)
    if np.any((y > 0) & (y < lot)):
        return False
    n_items = len(problem.items)
    totals = np.bincount(model.bid_item, weights=y, minlength=n_items).astype(np.int64)
    touched = np.unique(model.bid_item[changed])
    for i in touched.tolist():
        item = problem.items[i]
        if totals[i] < item.min_fill:
            return False
        beta = item.max_factory_share
        if beta is not None and beta < 1:
            scale = share_scale(beta)
            top = int(y[model.bids_by_item[item.id]].max())
            if top * scale > int(beta * scale) * int(totals[i]):
                return False
    placed = np.bincount(model.bid_factory, weights=y, minlength=len(problem.factories))
    for f in np.unique(model.bid_factory[changed]).tolist():
        factory_id = problem.factories[f].id
        room = model.room.get(factory_id)
        if room is not None and int(placed[f]) > room:
            return False
        g = model.guarantee.get(factory_id, 0)
        if g > 0 and int(placed[f]) < g:
            return False
    budget = problem.round.budget
    if budget is None:
        return True
    d = y[changed] - published.units[changed]
    opened = (y[changed] > 0).astype(np.int64) - (published.units[changed] > 0).astype(np.int64)
    more = int(published.price_cents[changed] @ d) + int(published.fee_cents[changed] @ opened)
    return published.spend_cents + more <= int(budget * 100)


def _not_below_nothing(
    model: AllocationModel,
    published: Published,
    y: IntArray,
    changed: IntArray,
    continuous: FloatArray,
) -> bool:
    """y's exact profit is at least 0: by the solver's objective at x' where its float
    error cannot matter, else exactly (the published value plus the change)."""
    terms = published.costs * continuous
    estimate = float(terms.sum())
    error = 1e-12 * float(np.abs(terms).sum()) * max(1.0, np.log2(len(terms) + 1)) + 1e-6
    # x' is within SNAP of y per bid: y's profit differs by at most SNAP (price + the
    # steepest unit value) per bid; bounded by twice the largest coefficient
    error += 2 * SNAP * len(y) * float(np.abs(published.costs).max(initial=0.0))
    if estimate > error:
        return True
    problem = model.problem
    units = published.units
    income = Decimal(0)
    for i in np.unique(model.bid_item[changed]).tolist():
        item = problem.items[i]
        members = model.bids_by_item[item.id]
        income += _income(item, int(y[members].sum())) - _income(item, int(units[members].sum()))
    spend = Decimal(0)
    for k in changed.tolist():
        new, old = int(y[k]), int(units[k])
        spend += model.prices[k] * (new - old)
        if (new > 0) != (old > 0):
            spend += model.fees[k] if new > 0 else -model.fees[k]
    return published.value + income - spend >= 0


def _income(item: ProblemItem, total: int) -> Decimal:
    """What an item's units bring, exactly: sales, handling and salvage (SPEC 3)."""
    sold = sum((s.probability * min(total, s.units) for s in item.demand), Decimal(0))
    margin = item.retail_price - item.handling_cost - item.salvage_value
    return margin * sold + item.salvage_value * total
