"""The tie pass: among the optimal allocations, the one TIE_RULE chooses.

A second LP over the optimal face of the first, the expected profit held at its optimum
by an explicit bound row, on the same solver model (costs, bounds and row bounds changed
in place: nothing rebuilt).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from solver.engine import Engine
from solver.model import DUAL_TOL, AllocationModel
from solver.whole import tie_weights

FloatArray = npt.NDArray[np.float64]

OBJECTIVE_SLACK = 1e-9
"""The tie pass may lose at most this share of the optimum (a float tolerance, not money)."""

TIE_RULE = (
    "Many bids share a price, so several allocations often give the same expected profit. "
    "Among them the allocation minimises the units awarded, each unit weighted by its "
    "bid's rank in id order: weight (r + t_r) / n for the r-th lowest id of n bids, where "
    "t_r is a fixed number in [0, 0.5) computed from r alone. The weights rise strictly "
    "with the id, so the allocation takes no more units than it needs and, where units can "
    "move from one bid to another of lower id without changing the profit, they go to the "
    "lower id. When an exchange involves several bids the t_r decide it: the choice is "
    "then fixed but not strictly by lowest id first. It depends only on the bids' ids and "
    "the round's figures, not on the ids of factories and items nor on the input order. "
    "A second pass finds it over the optimal allocations, with the expected profit held "
    "at its optimum by an explicit bound: this pass never lowers it."
)


def break_ties(
    model: AllocationModel,
    engine: Engine,
    continuous: FloatArray,
    col_dual: FloatArray,
    row_dual: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> FloatArray:
    """TIE_RULE: minimise id-weighted units over the optimal face.

    By complementary slackness, every optimum of the LP keeps each column with a non-zero
    reduced cost at its bound and each row with a non-zero dual tight: fixing those gives
    exactly the set of optima, so the second objective can only choose among them. Duals
    are floats, though: a reduced cost below DUAL_TOL may be real (1e-8 per unit over a
    million units is a cent), so a row also holds the original objective at the optimum
    (less OBJECTIVE_SLACK relative) and the result is checked against it. The engine is
    left with this pass's objective, face and bound row: the next pass, if any, restores
    the model first (Engine.restore; not re-solved: a re-solve from this basis may walk to
    another optimum and undo the rule). Most rounds have no next pass, and the restore
    costs 30 ms at 100,000 bids.
    """
    movable = np.abs(col_dual) <= DUAL_TOL
    movable_bids = movable[model.x_col]
    if movable_bids.sum() <= 1:
        return continuous
    face_lower = lower.copy()
    face_upper = upper.copy()
    held = ~movable
    at_lower = np.abs(continuous - lower) <= np.abs(continuous - upper)
    where = np.where(at_lower, lower, upper)
    face_lower[held] = where[held]
    face_upper[held] = where[held]
    costs = np.zeros(model.n_cols)
    free_cols = model.x_col[movable_bids]
    # weights by the rank among all bids, not among the movable ones: which columns the
    # duals leave free depends on the basis, the set of optima (and so the choice) does not
    n = len(model.x_col)
    # Bids are in id order: a rising cost per unit fills lower ids first and, all costs
    # being positive, takes no more units than an optimum needs. (Preferring more units
    # would let a bid priced exactly at its threshold win units: see explain.py.)
    costs[free_cols] = -tie_weights(n)[movable_bids]
    original_costs = engine.original_costs()
    # Reduced costs near the tolerance (1e-8 on a million units is a cent) would let the
    # pass trade profit for the rule: an explicit row keeps the objective at the optimum.
    best = float(original_costs @ continuous)
    slack = OBJECTIVE_SLACK * max(1.0, abs(best))
    engine.bound_objective(original_costs, best - slack)
    engine.set_col_bounds(face_lower, face_upper)
    engine.set_rows_equal(np.abs(row_dual) > DUAL_TOL)
    engine.set_costs(costs)
    status = engine.run(mip=False)
    chosen = engine.values() if status == "optimal" else continuous
    if float(original_costs @ chosen) < best - 2 * slack - 1e-7:
        return continuous  # never give up profit for the tie rule (CBC has no bound row)
    return chosen
