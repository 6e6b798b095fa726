"""solve(problem, options) -> Result: SPEC 3 solved, made whole, explained, reproducible.

The pipeline, each step timed separately (Result.timings):

1. build the model (solver/model.py), in canonical order (sorted by id): the segment form
   for an LP round, the plain form for a MILP round (SolveOptions.formulation);
2. solve it (HiGHS by default, CBC by name), configured explicitly: time limit, the round's
   gap for a MILP, one thread, a fixed seed, presolve (off for an LP, where HiGHS's simplex
   is about twice as fast without it on this model; on for a MILP), no output;
3. for a MILP, fix the binaries at their solved values and re-solve the units continuously
   (a setup left without units released: release_idle_setups): that optimum is the
   reported `continuous_objective` and the LP that is explained; its cost ranging is read
   now, from the optimal basis;
4. break ties (TIE_RULE), over the optimal allocations only (objective bounded below);
5. make units whole: snap values within 1e-6 of an integer, then a MILP over the
   fractional bids only, each between its floor and ceiling, every other unit and binary
   fixed and every hard constraint kept (widened only if no such rounding exists); the
   whole units are re-checked exactly against every hard rule (integers and Decimal) and
   never returned if they break one: `infeasible` if no whole-unit allocation exists;
6. explain each bid (solver/explain.py) and compute the objective exactly in Decimal from
   the whole units, the Decimal prices and fees and the demand scenarios.

Same problem, same options, same solver version: the same Result, byte for byte
(`Result.identity()`), whatever the order of the input lists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from solver.engine import ColumnOrder, Engine, EngineSettings, SolverError
from solver.engines import cbc_version, highs_version, make_engine
from solver.explain import Explanation, explain
from solver.model import DUAL_TOL, SNAP, AllocationModel, Formulation, build_model
from solver.problem import Problem
from solver.result import (
    BidAllocation,
    Result,
    RuleConflict,
    SolverInfo,
    Timings,
    trusted_allocations,
)
from solver.trusted import attribute_dicts, put_column
from solver.values import CENT
from solver.version import ALLOCATOR_VERSION
from solver.whole import (
    WholeUnits,
    as_decimal,
    broken_rules,
    expected_profit,
    prove_whole_units,
    tie_weights,
)

__all__ = ["PHASES", "SolveOptions", "broken_rules", "expected_profit", "solve", "tie_weights"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OBJECTIVE_SLACK = 1e-9
"""The tie pass may lose at most this share of the optimum (a float tolerance, not money)."""
FLOAT_PLACES = Decimal("0.000001")
"""Shares and margins are written with 6 decimals so that results are stable bytes."""

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


@dataclass(frozen=True)
class SolveOptions:
    """How to solve: solver by name, limits, threads, seed and the formulation."""

    solver: Literal["highs", "cbc"] = "highs"
    time_limit: float = 600.0
    """Seconds for the first solve; each later pass gets what is left of them, and at
    least a quarter of them (engine.later_pass_limit)."""
    threads: int = 1
    random_seed: int = 0
    formulation: Formulation | Literal["auto"] = "auto"
    """auto: the segment form for an LP round (HiGHS's simplex: 0.85 s against 1.4 to 1.7 s
    on the plain form at 100,000 bids), the plain form for a MILP round (HiGHS's branch and
    bound: 221 s against 487 s at 100,000 bids, 13 s against 21 s at 10,000)."""
    presolve: Literal["auto", "on", "off"] = "auto"
    """auto: off for an LP round (HiGHS's simplex solves the segment form about twice as
    fast without it: measured 1.1 s against 2.2 s at 100,000 bids), on for a MILP round."""
    tie_break: bool = True
    column_order: ColumnOrder | Literal["auto"] = "auto"
    """The order HiGHS gets the bids' columns in (engine.ColumnOrder; CBC: as built).
    auto: grouped by item for an LP round (HiGHS's simplex: 0.76 s against 0.87 s at
    100,000 bids, medians of 8 paired runs), in bid order for a MILP round (its branch
    and bound was no faster so: 14 s and 15 s against 14 s and 14 s at 10,000 bids).
    Results solved before this option existed were solved in bid order, and replay so
    (as_recorded)."""

    @classmethod
    def as_recorded(cls, solver: SolverInfo) -> SolveOptions:
        """The options a result records (`Result.solver`): to solve again as it was solved,
        whatever the defaults have become since."""
        recorded = solver.options
        formulations: dict[object, Formulation] = {"segments": "segments", "scenarios": "scenarios"}
        presolve = recorded.get("presolve")
        return cls(
            solver="cbc" if solver.name == "CBC" else "highs",
            time_limit=float(recorded.get("time_limit", cls.time_limit)),
            threads=int(recorded.get("threads", cls.threads)),
            random_seed=int(recorded.get("random_seed", cls.random_seed)),
            formulation=formulations.get(recorded.get("formulation"), "auto"),
            presolve="auto" if not isinstance(presolve, bool) else "on" if presolve else "off",
            tie_break=bool(recorded.get("tie_break", cls.tie_break)),
            column_order="item" if recorded.get("column_order") == "item" else "bid",
        )

    def formulation_for(self, *, mip: bool) -> Formulation:
        """The formulation a round is built in: `formulation`, with auto made definite."""
        if self.formulation == "auto":
            return "scenarios" if mip else "segments"
        return self.formulation

    def column_order_for(self, *, mip: bool) -> ColumnOrder:
        """The order of the bids' columns: `column_order`, with auto made definite."""
        if self.column_order == "auto":
            return "bid" if mip else "item"
        return self.column_order


@dataclass
class _Clock:
    start: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)
    last: float = 0.0

    def __post_init__(self) -> None:
        self.last = self.start

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.marks[name] = self.marks.get(name, 0.0) + now - self.last
        self.last = now

    def timings(self) -> Timings:
        return Timings(
            build_s=round(self.marks.get("build", 0.0), 4),
            solve_s=round(self.marks.get("solve", 0.0), 4),
            rounding_s=round(self.marks.get("rounding", 0.0), 4),
            explain_s=round(self.marks.get("explain", 0.0), 4),
            total_s=round(time.perf_counter() - self.start, 4),
        )


PHASES = ("building", "solving", "whole_units", "explaining", "writing")
"""The phases solve() reports to its `on_phase` callback, in the order it enters them."""


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    *,
    on_phase: Callable[[str], None] | None = None,
) -> Result:
    """Solve a round: the integer allocation, its objective, and a reason for every bid.

    `on_phase` is called with each of PHASES as the solve enters it (a service shows it
    while a long round runs); it must return quickly and not raise.
    """
    options = options or SolveOptions()
    phase = on_phase or _no_phase
    phase("building")
    clock = _Clock()
    mip = problem.has_binaries  # a scan of every bid: once
    settings = EngineSettings(
        solver=options.solver,
        time_limit=float(options.time_limit),
        mip_rel_gap=float(problem.round.mip_gap),
        threads=options.threads,
        random_seed=options.random_seed,
        presolve=_presolve(options.presolve, mip=mip),
        column_order=options.column_order_for(mip=mip) if options.solver == "highs" else "bid",
    )
    info = solver_info(settings, options, mip=mip)
    try:
        return _solve(problem, options, settings, clock, info=info, mip=mip, phase=phase)
    except SolverError as exc:
        return Result(
            round=problem.round.id,
            status="error",
            message=str(exc),
            input_hash=problem.input_hash,
            solver=info,
            timings=clock.timings(),
            allocations=nothing_allocated(problem),
        )


def _no_phase(name: str) -> None:
    """The phase callback of a caller that gave none."""


def nothing_allocated(problem: Problem) -> tuple[BidAllocation, ...]:
    """One row per bid with no units: what an infeasible or failed round awards."""
    from solver.pricing import supply_price

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


def _presolve(choice: str, *, mip: bool) -> bool:
    if choice == "auto":
        return mip
    return choice == "on"


def solver_info(settings: EngineSettings, options: SolveOptions, *, mip: bool) -> SolverInfo:
    """Solver name, exact version and every option given to it."""

    name, version = (
        ("HiGHS", highs_version()) if settings.solver == "highs" else ("CBC", cbc_version())
    )
    opts: dict[str, int | float | str | bool] = {
        "time_limit": settings.time_limit,
        "threads": settings.threads,
        "random_seed": settings.random_seed,
        "presolve": settings.presolve,
        "output_flag": False,
        "formulation": options.formulation_for(mip=mip),
        "tie_break": options.tie_break,
        "rounding_mip_rel_gap": 0.0,
        "allocator_version": ALLOCATOR_VERSION,
    }
    if settings.column_order != "bid":  # recorded where it is not every older result's order
        opts["column_order"] = settings.column_order
    if mip:
        opts["mip_rel_gap"] = settings.mip_rel_gap
    return SolverInfo(name=name, version=version, options=opts)


def _solve(
    problem: Problem,
    options: SolveOptions,
    settings: EngineSettings,
    clock: _Clock,
    *,
    info: SolverInfo,
    mip: bool,
    phase: Callable[[str], None],
) -> Result:
    model = build_model(problem, options.formulation_for(mip=mip))
    clock.lap("build")
    if model.n_cols == 0:  # no items, no bids: nothing to decide (HiGHS calls it an error)
        return Result(
            round=problem.round.id,
            status="optimal",
            objective=Decimal("0.00"),
            continuous_objective=Decimal("0.00"),
            gap=0.0,
            input_hash=problem.input_hash,
            solver=info,
            timings=clock.timings(),
        )
    engine = make_engine(model, settings)
    phase("solving")
    # HiGHS releases the GIL while it solves: what needs nothing from the solver (the
    # input hash, the allocation rows' fixed fields) is made on a second thread meanwhile.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drafts") as beside:
        drafting = beside.submit(_draft_allocations, problem, model.prices)
        status = engine.run(mip=mip)
        drafts = drafting.result()
    if status == "error" and not settings.presolve:
        # HiGHS's simplex can stop without a verdict ("Unknown") on a badly scaled model:
        # once more with presolve before giving up
        status = engine.run(mip=mip, presolve=True, cold=True)
    if status == "infeasible":
        clock.lap("solve")
        return _infeasible(problem, settings, options, clock, info, None)
    if status == "error":
        raise SolverError(f"{engine.name} stopped without an allocation: {engine.status_message}")
    # the best proven bound of a MILP round: its branch and bound's (an LP round's: below)
    bound = as_decimal(engine.dual_bound()) if mip else None
    lower, upper = engine.original_bounds()
    if mip:
        values = engine.values()
        z_cols = model.z_col[model.binary]
        fixed = np.round(values[z_cols])
        lower[z_cols] = fixed
        upper[z_cols] = fixed
        engine.set_col_bounds(lower, upper)
        engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
        if engine.run(mip=False) != "optimal":
            raise SolverError("the units could not be re-solved with the binaries fixed")
        release_idle_setups(model, engine, lower, upper, engine.values()[model.x_col])
    continuous = engine.values()
    if not mip:
        bound = continuous_value(model, continuous)
    col_dual = engine.col_duals()
    row_dual = scaled_duals(model, engine.row_duals())
    # cost ranging of the basis just found, before it is changed (see reduced_cost_range)
    cost_up = engine.cost_up() if mip else reduced_cost_range(engine.original_costs(), col_dual)
    clock.lap("solve")
    first = continuous[model.x_col]
    if options.tie_break:
        continuous = _break_ties(model, engine, continuous, col_dual, row_dual, lower, upper)
    # the bids the tie rule took units from: one cent less would have kept them
    tied = continuous[model.x_col] < first - SNAP
    clock.lap("solve")
    phase("whole_units")
    try:
        rounded: IntArray | None = _whole_units(model, engine, continuous, lower, upper)
    except WholeUnitsInfeasibleError:
        rounded = None  # no rounding of this optimum: the whole-unit search decides
    whole = prove_whole_units(
        model, engine, rounded, bound, tie_break=options.tie_break, search=status == "optimal"
    )
    clock.lap("rounding")
    if whole is None:
        return _infeasible(problem, settings, options, clock, info, None, whole_units=True)
    phase("explaining")
    explanation = explain(
        model, whole.units, col_dual, row_dual, cost_up, mip=mip, tied=tied, lp_units=continuous
    )
    # Everything the result needs is read: free the solver's copy of the model before the
    # result rows are built, so the two never take memory at the same time.
    engine.close()
    del engine
    model.release_solver_model()
    phase("writing")
    return _result(problem, model, info, whole, explanation, drafts, clock)


def _infeasible(
    problem: Problem,
    settings: EngineSettings,
    options: SolveOptions,
    clock: _Clock,
    info: SolverInfo,
    conflicts: list[RuleConflict] | None,
    *,
    whole_units: bool = False,
) -> Result:
    """An infeasible round: no allocation, the rules in conflict named (on the whole-unit
    problem: solver/infeasible.py)."""
    from solver.infeasible import find_conflicts

    what = "no allocation meets every rule"
    if whole_units:
        what = "no allocation in whole units meets every rule"
    if conflicts is None:
        formulation = options.formulation_for(mip=problem.has_binaries)
        conflicts = find_conflicts(problem, settings, formulation)
    if not conflicts:  # the relaxation found no violation above its tolerance
        conflicts = [
            RuleConflict(
                rule="unknown",
                detail="the rules cannot all hold, by less than the relaxation's tolerance",
            )
        ]
    rules = sorted({c.rule for c in conflicts})
    return Result(
        round=problem.round.id,
        status="infeasible",
        message=f"{what}; in conflict: " + ", ".join(rules),
        input_hash=problem.input_hash,
        solver=info,
        timings=clock.timings(),
        allocations=nothing_allocated(problem),
        conflicts=tuple(conflicts),
    )


def scaled_duals(model: AllocationModel, row_dual: FloatArray) -> FloatArray:
    """Row duals per unit of each rule as SPEC 3 writes it (see AllocationModel.row_scale)."""
    if model.row_scale:
        rows = np.fromiter(model.row_scale.keys(), np.int64, len(model.row_scale))
        row_dual = row_dual.copy()
        row_dual[rows] *= np.fromiter(model.row_scale.values(), np.float64, len(rows))
    return row_dual


def reduced_cost_range(costs: FloatArray, col_dual: FloatArray) -> FloatArray:
    """The upper end of each column's cost range, for the columns an LP round reads it of.

    In an LP round explain.py takes a threshold from the range of a bid that won nothing
    only: a column at its lower bound, whose range ends where its reduced cost reaches
    zero, c - d (what HiGHS's ranging gives for it, without ranging every other column
    and row: 0.4 s at 100,000 bids). A column whose reduced cost is already zero is at a
    degenerate optimum and gets no range (infinite): explain.py then falls back on the
    moves that surely win.
    """
    return np.where(col_dual < -DUAL_TOL, costs - col_dual, np.inf)


def _break_ties(
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


def _whole_units(
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


def _draft_allocations(problem: Problem, prices: Sequence[Decimal]) -> tuple[BidAllocation, ...]:
    """Each bid's allocation as if it won nothing, and the input hash: made beside the solver.

    Neither needs the solver's answer, so both are made on a second thread while HiGHS
    solves, off the critical path (0.3 s and 0.2 s at 100,000 bids). The rows are drafts:
    _result fills in what the solve decided before anything else sees them.
    """
    problem.input_hash  # noqa: B018 - computed once, kept by the problem
    no_fee = Decimal("0.00")
    return trusted_allocations(
        [
            {
                "bid": bid.id,
                "factory": bid.factory,
                "item": bid.item,
                "units": 0,
                "supply_price": price,
                "setup_fee": no_fee,
                "capacity_share_used": 0.0,
                "margin": None,
                "reason": "lost_on_price",
                "cost_to_win_more": None,
            }
            for bid, price in zip(problem.bids, prices, strict=True)
        ]
    )


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


def _result(
    problem: Problem,
    model: AllocationModel,
    info: SolverInfo,
    whole: WholeUnits,
    explanation: Explanation,
    drafts: tuple[BidAllocation, ...],
    clock: _Clock,
) -> Result:
    units = whole.units
    units_list = units.tolist()
    won = np.flatnonzero(units > 0).tolist()
    fees = model.fees
    fees_paid = {k: fees[k] for k in won if fees[k] > 0}
    capacity = {f.id: f.monthly_capacity for f in problem.factories}
    rows = attribute_dicts(drafts)
    put_column(rows, "reason", explanation.reasons)
    put_column(rows, "cost_to_win_more", explanation.cost_to_win_more)
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
    clock.lap("explain")
    return Result.model_validate(
        {
            "round": problem.round.id,
            "status": "optimal" if whole.proven else "feasible",
            "objective": _money(whole.objective),
            "continuous_objective": _money(whole.bound),
            "gap": whole.gap,
            "input_hash": input_hash,
            "solver": info,
            "timings": clock.timings(),
            "allocations": drafts,
        }
    )
