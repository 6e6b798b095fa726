"""The result pass: the allocation rows, their money and shares, as the result states them.

Each bid's row is drafted with its explanation as if it won nothing (draft_allocations)
and filled in from the whole units (write_result). Every figure is exact: money in
Decimal, half up to the cent; shares and margins to 6 decimals, half up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from solver.explain import Explanation
from solver.model import AllocationModel
from solver.pricing import supply_price
from solver.problem import Problem
from solver.result import BidAllocation, Result, SolverInfo, Timings, trusted_allocations
from solver.trusted import attribute_dicts
from solver.values import CENT
from solver.whole import WholeUnits

FLOAT_PLACES = Decimal("0.000001")
"""Shares and margins are written with 6 decimals so that results are stable bytes."""


def nothing_allocated(problem: Problem) -> tuple[BidAllocation, ...]:
    """One row per bid with no units: what an infeasible or failed round awards."""
    m = problem.round.margin_floor
    return tuple(
        BidAllocation(
            bid=b.id,
            factory=b.factory,
            item=b.item,
            units=0,
            supply_price=supply_price(b, m),
            setup_fee=Decimal("0.00"),
            capacity_share_used=0.0,
            margin=None,
            reason="lost_on_price",
        )
        for b in problem.bids
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + 0  # + 0: never "-0.00"


def _ratio(part: Decimal, whole: Decimal) -> float | None:
    """part / whole to 6 decimals, half up; None for nothing paid (a bid costing 0)."""
    if not whole:
        return None
    return float((part / whole).quantize(FLOAT_PLACES, rounding=ROUND_HALF_UP))


def _share(units: int, capacity: int) -> float:
    """units / capacity to 6 decimals, half up, in integers: the same float as in Decimal."""
    return ((2 * units * 1_000_000 + capacity) // (2 * capacity)) / 1_000_000


def draft_allocations(
    problem: Problem, prices: Sequence[Decimal], explanation: Explanation
) -> tuple[BidAllocation, ...]:
    """Each bid's allocation as if it won nothing, with its reason and figures (and the
    input hash, if not made yet).

    Made once the solver's model is freed (solve.py), so the two never take memory at the
    same time, each row in one go, its explanation included. The rows are drafts:
    write_result fills in the units the solve decided before anything else sees them.
    """
    problem.input_hash  # noqa: B018 - computed once, kept by the problem
    no_fee = Decimal("0.00")
    columns = problem.bid_columns
    return trusted_allocations(
        [
            {
                "bid": bid,
                "factory": factory,
                "item": item,
                "units": 0,
                "supply_price": price,
                "setup_fee": no_fee,
                "capacity_share_used": 0.0,
                "margin": None,
                "reason": reason,
                "cost_to_win_more": cost_to_win_more,
                "cost_ceiling": cost_ceiling,
            }
            for bid, factory, item, price, reason, cost_to_win_more, cost_ceiling in zip(
                columns.id,
                columns.factory,
                columns.item,
                prices,
                explanation.reasons,
                explanation.cost_to_win_more,
                explanation.cost_ceiling,
                strict=True,
            )
        ]
    )


def write_result(
    problem: Problem,
    model: AllocationModel,
    info: SolverInfo,
    whole: WholeUnits,
    drafts: tuple[BidAllocation, ...],
    timings: Callable[[], Timings],
) -> Result:
    """The result: the drafts (draft_allocations) filled in with the whole units, the
    fees paid, shares and margins, exact; the objective and its bound."""
    units = whole.units
    units_list = units.tolist()
    won = np.flatnonzero(units > 0).tolist()
    fees = model.fees
    fees_paid = {k: fees[k] for k in won if fees[k] > 0}
    capacity = {f.id: f.monthly_capacity for f in problem.factories}
    rows = attribute_dicts(drafts)
    # Without a setup fee a bid's margin is (p - c) / p whatever its units: once per pair.
    unit_margins: dict[tuple[Decimal, Decimal], float | None] = {}
    no_fee = Decimal(0)
    for k in won:
        bid, x, price = problem.bids[k], units_list[k], model.prices[k]
        fee = fees_paid.get(k, no_fee)
        if fee > 0:
            margin = _ratio((price - bid.unit_cost) * x + fee - bid.setup_cost, price * x + fee)
        else:
            pair = (price, bid.unit_cost)
            if pair not in unit_margins:
                unit_margins[pair] = _ratio(price - bid.unit_cost, price)
            margin = unit_margins[pair]
        row = rows[k]
        row["units"] = x
        if fee > 0:
            row["setup_fee"] = fee
        row["capacity_share_used"] = _share(x, capacity[bid.factory])
        row["margin"] = margin

    input_hash = problem.input_hash
    return Result.model_validate(
        {
            "round": problem.round.id,
            "status": "optimal" if whole.proven else "feasible",
            "objective": _money(whole.objective),
            "continuous_objective": _money(whole.bound),
            "gap": whole.gap,
            "input_hash": input_hash,
            "solver": info,
            "timings": timings(),
            "allocations": drafts,
        }
    )
