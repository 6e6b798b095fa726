"""SPEC 3 "Whole units": the best whole-unit allocation within the round's gap, proven.

Units are whole, so every round is an integer problem. solve() first finds the continuous
optimum and rounds it (solve._whole_units, each fractional bid between its floor and
ceiling); that rounding is a start, not the answer. Here:

1. units of no expected profit are dropped (drop_idle_units: exact, in Decimal), and where
   awarding nothing is feasible an allocation below 0 gives way to nothing;
2. its exact objective is held against the best proven bound (the LP optimum of an LP
   round, the branch and bound's dual bound of a MILP round): within the round's
   `mip_gap` (relative, or 0.01 absolute where the bound is below 1 in size) it is proven,
   and nothing more is solved. At scale the rounding loses a few units of a million and
   the proof costs one exact sum;
3. otherwise the whole-unit problem is solved as such: every x_b integer, every z_b
   binary, warm-started from the rounding, to the round's gap; its dual bound tightens
   the bound, the better of its allocation and the rounding is kept (compared exactly),
   the tie rule is applied to it over the whole-unit allocations at least as good
   (solve.TIE_RULE), and 1 again. The status is `optimal` only where the gap is proven.

Every allocation returned is checked exactly against every hard rule (broken_rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import numpy as np
import numpy.typing as npt

from solver.engine import Engine, SolverError
from solver.model import SNAP, AllocationModel
from solver.problem import Problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ABSOLUTE_GAP = Decimal("0.01")
"""SPEC 3: where the bound is below 1 in size, the gap accepted is one cent."""
FLOAT_SLACK = Decimal("0.000001")
"""Bounds come from a floating-point solver (feasibility and optimality to 1e-6 or so):
an allocation this close to its bound, plus a billionth of the bound, is at it."""
TIE_SLACK = 1e-9
"""The integer tie pass may search allocations this share of the objective below the one
found (a float row); what it returns is held to the found objective exactly."""


@dataclass(frozen=True)
class WholeUnits:
    """The whole-unit allocation, its exact objective, the best proven bound, the proof."""

    units: IntArray
    objective: Decimal
    bound: Decimal
    proven: bool
    searched: bool
    """True where the whole-unit problem was solved as such (the rounding was not proven)."""

    @property
    def gap(self) -> float:
        """problem-format.md: (bound - objective) / max(|bound|, 1); 0 where both are 0."""
        return relative_gap(self.bound, self.objective)


def relative_gap(bound: Decimal, objective: Decimal) -> float:
    """(bound - objective) / max(|bound|, 1), rounded to 9 decimals; 0 where both are 0."""
    if bound == 0 and objective == 0:
        return 0.0
    return round(float((bound - objective) / max(abs(bound), Decimal(1))), 9)


def within_gap(bound: Decimal, objective: Decimal, mip_gap: Decimal) -> bool:
    """The objective is within the round's gap of the bound (SPEC 3 "Whole units")."""
    accepted = mip_gap * abs(bound) if abs(bound) >= 1 else (ABSOLUTE_GAP if mip_gap else 0)
    return bound - objective <= accepted + FLOAT_SLACK + abs(bound) * Decimal("1e-9")


def as_decimal(value: float | None) -> Decimal | None:
    """A float bound as the Decimal of the same value (exact), None for none."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(value)


def prove_whole_units(
    model: AllocationModel,
    engine: Engine,
    rounded: IntArray | None,
    bound: Decimal | None,
    *,
    tie_break: bool = True,
    search: bool = True,
) -> WholeUnits | None:
    """The allocation of SPEC 3 "Whole units" from a rounding (or none), and its proof.

    None where no whole-unit allocation exists (the round is infeasible in whole units).
    """
    problem = model.problem
    mip_gap = problem.round.mip_gap
    nothing = np.zeros(len(problem.bids), dtype=np.int64)
    # awarding nothing breaks a rule only through a minimum fill or a guarantee
    nothing_allowed = not model.guarantee and all(i.min_fill <= 0 for i in problem.items)
    best: IntArray | None = None
    value = Decimal(0)
    if rounded is not None:
        best, value = _at_least_nothing(model, drop_idle_units(model, rounded), nothing_allowed)
        if bound is not None and within_gap(bound, value, mip_gap):
            return WholeUnits(best, value, max(bound, value), proven=True, searched=False)
    if not search and best is not None and bound is not None:
        # the first solve ran out of time: a whole-unit search of the same round would too
        bound = max(bound, value)
        return WholeUnits(best, value, bound, within_gap(bound, value, mip_gap), searched=False)
    if bound is None:
        bound = as_decimal(_relaxation_bound(model, engine))
    # the whole-unit problem as such, from the rounding
    abs_gap = float(ABSOLUTE_GAP) if mip_gap and bound is not None and abs(bound) < 1 else 1e-7
    found, status, dual = _search(model, engine, best, float(mip_gap), abs_gap)
    if dual is not None:
        bound = dual if bound is None else min(bound, dual)
    elif status == "optimal" and found is not None:
        # a solver that states no bound (CBC through PuLP) is run at gap 0: its optimum
        bound = exact_objective(model, found)
    if found is not None:
        found_value = exact_objective(model, found)
        if best is None or found_value > value:
            if tie_break and status == "optimal":
                found = _integer_ties(model, engine, found, found_value)
            best, value = _at_least_nothing(model, drop_idle_units(model, found), nothing_allowed)
    if best is None:
        if status == "infeasible":
            return None
        best, value = nothing, Decimal(0)  # pragma: no cover - a solver failure
    if bound is None:  # pragma: no cover - no bound at all: the allocation's own value
        bound = value
    bound = max(bound, value)
    return WholeUnits(best, value, bound, within_gap(bound, value, mip_gap), searched=True)


def _at_least_nothing(
    model: AllocationModel, units: IntArray, nothing_allowed: bool
) -> tuple[IntArray, Decimal]:
    """SPEC 3: where awarding nothing is feasible, the objective is never below 0. The
    units kept, and their exact objective."""
    value = exact_objective(model, units)
    if nothing_allowed and value < 0:
        return np.zeros_like(units), Decimal(0)
    return units, value


def _relaxation_bound(model: AllocationModel, engine: Engine) -> float | None:
    """The LP relaxation's optimum: the bound where the solver gave none (CBC's MILP)."""
    engine.restore()
    lower, upper = engine.original_bounds()
    engine.set_col_bounds(lower, upper)
    engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
    if engine.run(mip=False) != "optimal":
        return None
    return float(engine.original_costs() @ engine.values())


def _whole_problem(model: AllocationModel, engine: Engine) -> None:
    """The engine set to the whole-unit problem: bounds as built, x_b and z_b integer."""
    engine.restore()
    lower, upper = engine.original_bounds()
    engine.set_col_bounds(lower, upper)
    integer = np.zeros(model.n_cols, dtype=np.bool_)
    integer[model.x_col] = True
    integer[model.z_col[model.binary]] = True
    engine.set_integer(integer)


def _start(model: AllocationModel, engine: Engine, units: IntArray) -> None:
    cols = np.concatenate([model.x_col, model.z_col[model.binary]])
    values = np.concatenate([units, units[model.binary] > 0]).astype(np.float64)
    engine.set_start(cols, values)


def _search(
    model: AllocationModel,
    engine: Engine,
    start: IntArray | None,
    mip_gap: float,
    abs_gap: float,
) -> tuple[IntArray | None, str, Decimal | None]:
    """The whole-unit MILP: its allocation (checked exactly), status and dual bound."""
    _whole_problem(model, engine)
    if start is not None:
        _start(model, engine, start)
    gap = mip_gap if engine.name == "HiGHS" else 0.0  # CBC states no bound: prove at 0
    status = engine.run(mip=True, mip_rel_gap=gap, mip_abs_gap=abs_gap, presolve=True)
    dual = as_decimal(engine.dual_bound())
    if status not in ("optimal", "feasible"):
        return None, status, dual
    units = np.maximum(np.round(engine.values()[model.x_col]).astype(np.int64), 0)
    if broken_rules(model, units).any():
        return None, "error", dual
    return units, status, dual


def _integer_ties(
    model: AllocationModel, engine: Engine, units: IntArray, value: Decimal
) -> IntArray:
    """TIE_RULE over the whole-unit allocations at least as good as `units`.

    The same weights as the continuous tie pass, minimised by a MILP with the objective
    held by a row; its answer replaces `units` only where it is exactly as good or better.
    """
    n = len(model.x_col)
    if n <= 1 and not model.binary.any():
        return units
    costs = engine.original_costs()
    tie = np.zeros(model.n_cols)
    tie[model.x_col] = -tie_weights(n)
    least = float(value) - TIE_SLACK * max(1.0, abs(float(value))) - 1e-7
    if not engine.bound_objective(costs, least):
        return units  # CBC: no bound row through PuLP
    engine.set_costs(tie)
    _start(model, engine, units)
    status = engine.run(mip=True, mip_rel_gap=0.0, presolve=True)
    chosen = units
    if status in ("optimal", "feasible"):
        found = np.maximum(np.round(engine.values()[model.x_col]).astype(np.int64), 0)
        if not broken_rules(model, found).any() and exact_objective(model, found) >= value:
            chosen = found
    engine.restore()
    return chosen


def tie_weights(n: int) -> FloatArray:
    """TIE_RULE's weight per unit for n bids in id order: (r + t_r) / n, r = 1 .. n.

    t_r in [0, 0.5) is a fixed pseudo-random number of the rank alone (splitmix64 of r):
    the weights still rise strictly with the id rank (consecutive ones differ by more than
    0.5 / n), and, unlike plain ranks (r1 + r4 = r2 + r3), no exchange of units between
    bids has the same weight both ways but by a numerical coincidence, so the minimiser is
    unique and does not depend on how the solver orders factories, items or its basis.
    """
    rank = np.arange(1, n + 1, dtype=np.uint64)
    z = rank * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    t = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return (rank.astype(np.float64) + 0.5 * t) / n


def drop_idle_units(model: AllocationModel, units: IntArray) -> IntArray:
    """SPEC 3: no unit of exactly zero (or less) expected profit, unless a rule needs it.

    Removing the last unit of an item loses what that unit is expected to bring,
    V_k = s + (r - h - s) P(D >= k) at k = the item's total, and saves the bid's price (and
    its setup fee once it has no unit left). Where V_k <= p_b the profit does not fall:
    such units are taken off, highest bid id first (the tie rule gives units to lower ids),
    as far as the item's minimum fill, the factory's guarantee, the bid's lot and the item
    share of the other bids allow. Exact, in Decimal; at most one pass per unit removed.
    """
    problem = model.problem
    out = units.copy()
    if not out.any():
        return out
    totals = np.bincount(model.bid_item, weights=out, minlength=len(problem.items))
    placed = np.bincount(model.bid_factory, weights=out, minlength=len(problem.factories))
    factory_ids = [f.id for f in problem.factories]
    winners = out > 0
    top_price = np.full(len(problem.items), -np.inf)
    np.maximum.at(top_price, model.bid_item[winners], model.price[winners])
    for i in np.flatnonzero(totals > 0).tolist():
        item = problem.items[i]
        total = int(totals[i])
        # in floats first: the last unit of most items earns well above its winners' prices
        tail = sum(float(s.probability) for s in item.demand if s.units >= total)
        last = (
            float(item.salvage_value)
            + float(item.retail_price - item.handling_cost - item.salvage_value) * tail
        )
        if last > top_price[i] + 1e-6 * max(1.0, last):
            continue
        members = [int(k) for k in model.bids_by_item[item.id] if out[k] > 0]
        changed = True
        while changed:
            changed = False
            for k in sorted(members, reverse=True):
                if out[k] <= 0:
                    continue
                take = _removable(model, out, i, k, total, placed, factory_ids)
                if take > 0:
                    out[k] -= take
                    total -= take
                    placed[model.bid_factory[k]] -= take
                    changed = True
    if not np.array_equal(out, units) and broken_rules(model, out).any():  # pragma: no cover
        return units  # each step keeps every rule: checked all the same
    return out


def _removable(
    model: AllocationModel,
    units: IntArray,
    i: int,
    k: int,
    total: int,
    placed: FloatArray,
    factory_ids: list[str],
) -> int:
    """How many of bid k's units can go without lowering the profit or breaking a rule."""
    problem = model.problem
    item = problem.items[i]
    price = model.prices[k]
    worth = units_worth_more(model, i, price)
    take = min(int(units[k]), total - worth, total - item.min_fill)
    f = int(model.bid_factory[k])
    g = model.guarantee.get(factory_ids[f], 0)
    if g > 0:
        take = min(take, int(placed[f]) - g)
    beta = item.max_factory_share
    if beta is not None and beta < 1 and take > 0:
        others = [int(units[j]) for j in model.bids_by_item[item.id] if j != k]
        largest = max(others, default=0)
        if largest:
            need = int((Decimal(largest) / beta).to_integral_value(rounding=ROUND_CEILING))
            take = min(take, total - need)
    lot = int(model.min_lot[k])
    if 0 < units[k] - take < lot:  # the bid keeps its lot (fewer taken: the share holds)
        take = int(units[k]) - lot
    return max(take, 0)


def unit_value(model: AllocationModel, i: int, k: int) -> Decimal:
    """V_k = s + (r - h - s) P(D >= k): what the k-th unit of item i is expected to bring."""
    item = model.problem.items[i]
    margin = item.retail_price - item.handling_cost - item.salvage_value
    tail = sum((s.probability for s in item.demand if s.units >= k), Decimal(0))
    return item.salvage_value + margin * tail


def units_worth_more(model: AllocationModel, i: int, price: Decimal) -> int:
    """The number of units of item i each expected to bring more than `price` (V_k > p),
    as a whole number; a very large one where even units beyond every demand do."""
    item = model.problem.items[i]
    if item.salvage_value > price:
        return 2**62
    margin = item.retail_price - item.handling_cost - item.salvage_value
    worth = 0
    for end, tail in model.segments(item):
        if item.salvage_value + margin * tail > price:
            worth = int(end)
    return worth


def exact_objective(model: AllocationModel, units: IntArray) -> Decimal:
    """SPEC 3's objective of whole units, exactly (the fees of the bids with units)."""
    won = np.flatnonzero(units > 0).tolist()
    fees = model.fees
    return expected_profit(
        model.problem,
        {k: Decimal(int(units[k])) for k in won},
        model.prices,
        {k: fees[k] for k in won if fees[k] > 0},
    )


def broken_rules(model: AllocationModel, units: IntArray) -> npt.NDArray[np.bool_]:
    """Bids on a hard rule the whole units break, checked exactly (integers and Decimal).

    The solver meets its rows within a floating-point tolerance and values are snapped to
    whole numbers: this check is what makes a returned allocation keep every rule exactly.
    Totals per item and factory are summed in 64-bit integers, exactly (a million bids of
    a billion units each stay below 2**63); shares and the budget in Decimal.
    """
    problem = model.problem
    n = len(problem.bids)
    out = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return out
    units = np.asarray(units, dtype=np.int64)
    over = units > model.capacity
    lot = model.min_lot
    out |= over | ((units > 0) & (units < lot))
    n_items = len(problem.items)
    total = np.zeros(n_items, dtype=np.int64)
    np.add.at(total, model.bid_item, units)
    most = np.full(n_items, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(most, model.bid_item, units)
    has_bids = np.bincount(model.bid_item, minlength=n_items) > 0
    min_fill = np.array([item.min_fill for item in problem.items], dtype=np.int64)
    bad_item = has_bids & (total < min_fill)
    for i, item in enumerate(problem.items):
        beta = item.max_factory_share
        if beta is not None and beta < 1 and has_bids[i]:
            # exact: Decimal times an integer, against the item's largest award
            bad_item[i] |= int(most[i]) > beta * int(total[i])
    out |= bad_item[model.bid_item]
    factories = problem.factories
    placed = np.zeros(len(factories), dtype=np.int64)
    np.add.at(placed, model.bid_factory, units)
    room = np.array([model.room.get(f.id, 0) for f in factories], dtype=np.int64)
    known = np.array([f.id in model.room for f in factories], dtype=np.bool_)
    promised = np.array([model.guarantee.get(f.id, 0) for f in factories], dtype=np.int64)
    bad_factory = (known & (placed > room)) | ((promised > 0) & (placed < promised))
    out |= bad_factory[model.bid_factory]
    budget = problem.round.budget
    if budget is not None:
        won = np.flatnonzero(units > 0).tolist()
        u = units.tolist()
        spend = sum((model.prices[k] * u[k] + model.fees[k] for k in won), Decimal(0))
        if spend > budget:
            out |= units > 0
    return out


def expected_profit(
    problem: Problem,
    units: Mapping[int, Decimal],
    prices: Sequence[Decimal],
    fees_paid: Mapping[int, Decimal],
) -> Decimal:
    """SPEC 3's objective, exactly in Decimal: sales, salvage, minus prices and setup fees.

    `units` and `fees_paid` by the bid's position in problem.bids, each giving only the
    bids with some (most bids win nothing: their exact zero arithmetic is skipped).
    """
    totals: dict[str, Decimal] = {item.id: Decimal(0) for item in problem.items}
    spend = Decimal(0)
    bids = problem.bids
    for k, x in units.items():
        totals[bids[k].item] += x
        spend += prices[k] * x
    spend += sum(fees_paid.values(), Decimal(0))
    income = Decimal(0)
    for item in problem.items:
        total = totals[item.id]
        sold = sum((s.probability * min(total, Decimal(s.units)) for s in item.demand), Decimal(0))
        margin = item.retail_price - item.handling_cost - item.salvage_value
        income += margin * sold + item.salvage_value * total
    return income - spend


def round_to_whole_units(
    model: AllocationModel,
    engine: Engine,
    continuous: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> IntArray:
    """SPEC 3 "Whole units": snap, then a MILP over the fractional bids only.

    Each fractional bid moves between its floor and ceiling, every other unit and every
    binary fixed, every hard constraint kept. Rarely no such rounding exists (a budget
    spent to the cent pulls units down while an item share or a minimum needs one bid up);
    then the window widens: one unit either way for every bid sharing an item or a factory
    with a fractional one, and at last every bid between 0 and its capacity. Each step is
    a MILP over the bids that move only; the first feasible one is taken.
    """
    x = continuous[model.x_col]
    nearest = np.round(x)
    fractional = np.abs(x - nearest) > SNAP
    if not fractional.any():
        snapped = np.maximum(nearest.astype(np.int64), 0)
        broken = broken_rules(model, snapped)
        if not broken.any():
            return snapped
        # a value within SNAP of a whole number may still break a rule once snapped
        # (x_b = 29.99999997 under a share cap of 0.333333333 of 90 units): round those
        # bids by the MILP instead
        fractional = broken
    bids = model.problem.bids
    items = {bids[k].item for k in np.flatnonzero(fractional)}
    factories = {bids[k].factory for k in np.flatnonzero(fractional)}
    near = fractional | np.fromiter(
        (b.item in items or b.factory in factories for b in bids), np.bool_, len(bids)
    )
    steps: list[tuple[npt.NDArray[np.bool_], float]] = [
        (fractional, 0.0),
        (near, 1.0),
        (np.ones(len(bids), dtype=np.bool_), math.inf),
    ]
    engine.restore()  # from the tie pass's objective and face
    for moving, width in steps:
        lo = lower.copy()
        up = upper.copy()
        settled = model.x_col[~moving]
        lo[settled] = nearest[~moving]
        up[settled] = nearest[~moving]
        cols = model.x_col[moving]
        lo[cols] = np.maximum(0.0, np.floor(x[moving] - SNAP) - width)
        up[cols] = np.minimum(model.capacity[moving], np.ceil(x[moving] + SNAP) + width)
        integer = np.zeros(model.n_cols, dtype=np.bool_)
        integer[cols] = True
        engine.set_col_bounds(lo, up)
        engine.set_integer(integer)
        status = engine.run(mip=True, mip_rel_gap=0.0, presolve=True)
        if status in ("optimal", "feasible"):
            rounded = engine.values()[model.x_col]
            units = np.maximum(np.round(rounded).astype(np.int64), 0)
            if not broken_rules(model, units).any():  # checked exactly, never trusted
                return units
        elif status == "infeasible" and not math.isfinite(width):
            raise WholeUnitsInfeasibleError
    raise SolverError(
        f"no whole-unit allocation found from {int(fractional.sum())} fractional bids "
        f"({engine.status_message})"
    )


class WholeUnitsInfeasibleError(SolverError):
    """No rounding of the continuous optimum meets every rule: the whole-unit search
    decides (solver/whole.py)."""

    def __init__(self) -> None:
        super().__init__("no rounding of the continuous optimum meets every rule")


def scaled_duals(model: AllocationModel, row_dual: FloatArray) -> FloatArray:
    """Row duals per unit of each rule as SPEC 3 writes it (see AllocationModel.row_scale)."""
    if model.row_scale:
        rows = np.fromiter(model.row_scale.keys(), np.int64, len(model.row_scale))
        row_dual = row_dual.copy()
        row_dual[rows] *= np.fromiter(model.row_scale.values(), np.float64, len(rows))
    return row_dual


def release_idle_setups(
    model: AllocationModel,
    engine: Engine,
    lower: FloatArray,
    upper: FloatArray,
    units: FloatArray,
) -> bool:
    """Binaries fixed at 1 whose bid has no units: fixed at 0 instead, and the LP re-solved.

    The search stops within the round's gap, and may open a setup whose units the LP with
    the binaries fixed then sends elsewhere (or whole units round away). Its fee would
    count in the continuous optimum for nothing, and the allocation, which pays no fee
    without units, would come out above that optimum (seen at 100,000 bids). Fixing such a
    binary at 0 only drops its fee: x <= q z and x >= l z hold at x = 0. `lower` and
    `upper` (the bounds in force) are updated; True where any binary was released.
    """
    z_cols = model.z_col[model.binary]
    idle = (upper[z_cols] > 0.5) & (units[model.binary] <= SNAP)
    if not idle.any():
        return False
    lower[z_cols[idle]] = 0.0
    upper[z_cols[idle]] = 0.0
    engine.restore()  # from the tie pass's objective and face, where it ran
    engine.set_col_bounds(lower, upper)
    engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
    if engine.run(mip=False) != "optimal":
        raise SolverError("the units could not be re-solved with idle setups released")
    return True


def continuous_value(model: AllocationModel, continuous: FloatArray) -> Decimal:
    """The exact objective of an LP round's continuous optimum: the bound of its whole units.

    Decimal(float) is exact: the value is that of the solver's values (snapped to whole
    numbers within SNAP, as the units are).
    """
    x = continuous[model.x_col]
    x = np.where(np.abs(x - np.round(x)) <= SNAP, np.round(x), x)
    return expected_profit(
        model.problem, {k: Decimal(x[k]) for k in np.flatnonzero(x).tolist()}, model.prices, {}
    )
