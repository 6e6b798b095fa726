"""solve(problem, options) -> Result: SPEC 3 solved, made whole, explained, reproducible.

`solve` reads as its passes, each a function over a small state (the round being solved,
then what the first solve found), each timed (Result.timings):

1. first_solve: build the model (solver/model.py) in canonical order (sorted by id): the
   segment form for an LP round, the plain form for a MILP round (SolveOptions.formulation);
   solve it (HiGHS by default, CBC by name), configured explicitly: time limit, the round's
   gap for a MILP, one thread, a fixed seed, presolve (off for an LP, where HiGHS's simplex
   is about twice as fast without it on this model; on for a MILP), no output. For a MILP,
   fix the binaries at their solved values and re-solve the units continuously (a setup
   left without units released: release_idle_setups): that optimum is the reported
   `continuous_objective` and the LP that is explained; its duals and cost ranging are
   read now, from the optimal basis (for the tie pass);
2. ties (solver/ties.py): TIE_RULE over the optimal allocations only (objective bounded
   below);
3. whole_units (solver/whole.py): snap values within 1e-6 of an integer, then a MILP over
   the fractional bids only, each between its floor and ceiling, every other unit and
   binary fixed and every hard constraint kept (widened only if no such rounding exists);
   the whole units are re-checked exactly against every hard rule (integers and Decimal)
   and never returned if they break one: `infeasible` if no whole-unit allocation exists;
4. explanations: a reason for each bid (solver/reasons.py), what it would take to win
   more (solver/resolve.py) and its ceiling (solver/ceiling.py), each a re-solve's fact;
5. result (solver/writing.py): the rows and the objective, exact in Decimal from the
   whole units, the Decimal prices and fees and the demand scenarios.

Every pass after the first changes bounds, costs and integrality of the one solver model
the first built (solver/engine.py): none rebuilds it.

Same problem, same options, same solver version: the same Result, byte for byte
(`Result.identity()`), whatever the order of the input lists.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from solver.ceiling import cost_ceilings
from solver.clock import Clock
from solver.engine import ColumnOrder, Engine, EngineSettings, SolverError
from solver.engines import cbc_version, highs_version, make_engine
from solver.explain import Explanation, explain, reduced_cost_range
from solver.highs_engine import HighsEngine
from solver.infeasible import find_conflicts
from solver.memory import give_back_freed_memory
from solver.model import SNAP, AllocationModel, Formulation, build_model
from solver.problem import Problem
from solver.reasons import Relaxation, confirmed_reasons, reasons_limit, relaxed_model
from solver.regain import Published, quick_gains
from solver.resolve import Resolver, explain_limit, pending_thresholds
from solver.result import Result, RuleConflict, SolverInfo
from solver.ties import TIE_RULE, break_ties
from solver.version import ALLOCATOR_VERSION
from solver.whole import (
    WholeUnits,
    WholeUnitsInfeasibleError,
    as_decimal,
    broken_rules,
    continuous_value,
    expected_profit,
    prove_whole_units,
    release_idle_setups,
    round_to_whole_units,
    scaled_duals,
    tie_weights,
)
from solver.writing import draft_allocations, nothing_allocated, write_result

__all__ = [
    "PHASES",
    "TIE_RULE",
    "SolveOptions",
    "broken_rules",
    "expected_profit",
    "nothing_allocated",
    "release_idle_setups",
    "solve",
    "tie_weights",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
    clock = Clock()
    mip = problem.has_binaries  # a scan of every bid: once
    settings = engine_settings(problem, options, mip=mip)
    run = Solving(problem, options, settings, solver_info(settings, options, mip=mip), clock, mip)
    try:
        return _passes(run, phase)
    except SolverError as exc:
        return Result(
            round=problem.round.id,
            status="error",
            message=str(exc),
            input_hash=problem.input_hash,
            solver=run.info,
            timings=clock.timings(),
            allocations=nothing_allocated(problem),
        )


def _passes(run: Solving, phase: Callable[[str], None]) -> Result:
    """The passes in order; a pass that decides the round (nothing to decide, no
    allocation) ends it with its result."""
    solved = first_solve(run, phase)
    if isinstance(solved, Result):
        return solved
    if run.options.tie_break:
        ties(solved)
    run.clock.lap("solve")
    phase("whole_units")
    whole = whole_units(run, solved)
    run.clock.lap("rounding")
    if whole is None:
        return infeasible(run, whole_units=True)
    phase("explaining")
    explanation = explanations(run, solved, whole)
    run.clock.lap("explain")  # the explanations alone: a phase of their own (issue 14)
    # Everything the result needs is read: free the solver's copy of the model, and give
    # what it took back to the system, before the result rows are made, so the two never
    # take memory at the same time (100,000 bids: a peak 17 MB lower than with the rows
    # drafted beside the simplex, for 0.05 s more after it).
    solved.release()
    give_back_freed_memory()
    phase("writing")
    return write_result(
        run.problem,
        solved.model,
        run.info,
        whole,
        draft_allocations(run.problem, solved.model.prices, explanation),
        run.clock.timings,
    )


def _no_phase(name: str) -> None:
    """The phase callback of a caller that gave none."""


@dataclass(frozen=True)
class Solving:
    """The round being solved and how: what every pass reads."""

    problem: Problem
    options: SolveOptions
    settings: EngineSettings
    info: SolverInfo
    clock: Clock
    mip: bool
    explaining: bool = False
    """A re-solve of an explanation: an infeasible round is not analysed further."""


@dataclass
class Solved:
    """What the first solve found, and the solver model the later passes change."""

    model: AllocationModel
    engine: Engine
    status: str
    """The first run's status: "optimal", or "feasible" where it stopped at its limit."""
    bound: Decimal | None
    """The best proven bound: a MILP's branch and bound's, an LP round's continuous optimum."""
    lower: FloatArray
    upper: FloatArray
    """Column bounds in force (a MILP's binaries fixed)."""
    continuous: FloatArray
    """The continuous optimum; after the tie pass, the one TIE_RULE chooses."""
    col_dual: FloatArray
    row_dual: FloatArray
    cost_up: FloatArray | None
    """Cost ranging of the first optimum, for the reasons read above reasons_limit."""
    tied: npt.NDArray[np.bool_]
    """Per bid: the tie rule took units from it (one cent less would have kept them)."""

    def release(self) -> None:
        """Free the solver's model and the PuLP problem; ids, prices and maps stay."""
        self.engine.close()
        self.model.release_solver_model()


def first_solve(run: Solving, phase: Callable[[str], None]) -> Solved | Result:
    """Build and solve the model; for a MILP, re-solve the units with the binaries fixed.

    A Result where the round is decided here: nothing to decide, or no allocation.
    """
    problem, settings, mip = run.problem, run.settings, run.mip
    model = build_model(problem, run.options.formulation_for(mip=mip))
    run.clock.lap("build")
    if model.n_cols == 0:  # no items, no bids: nothing to decide (HiGHS calls it an error)
        return Result(
            round=problem.round.id,
            status="optimal",
            objective=Decimal("0.00"),
            continuous_objective=Decimal("0.00"),
            gap=0.0,
            input_hash=problem.input_hash,
            solver=run.info,
            timings=run.clock.timings(),
        )
    model.keep_arrays = len(problem.bids) <= explain_limit(mip=mip)
    engine = make_engine(model, settings)
    phase("solving")
    # HiGHS releases the GIL while it solves: the input hash, which needs nothing from the
    # solver, is made on a second thread meanwhile (from when the model is handed over:
    # started earlier, it would take turns with the hand-over for the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash") as beside:
        engine.when_solving(lambda: beside.submit(getattr, problem, "input_hash"))
        status = engine.run(mip=mip)
    if status == "error" and not settings.presolve:
        # HiGHS's simplex can stop without a verdict ("Unknown") on a badly scaled model:
        # once more with presolve before giving up
        status = engine.run(mip=mip, presolve=True, cold=True)
    if status == "infeasible":
        run.clock.lap("solve")
        return infeasible(run)
    if status == "error":
        raise SolverError(f"{engine.name} stopped without an allocation: {engine.status_message}")
    return settle(model, engine, status, mip=mip, clock=run.clock)


def settle(
    model: AllocationModel,
    engine: Engine,
    status: str,
    *,
    mip: bool,
    clock: Clock | None,
    exact: bool = True,
) -> Solved:
    """What a first run found, made the start of the later passes: for a MILP, the units
    re-solved with the binaries fixed; the continuous optimum, its bound and its duals
    (an LP round's bound, an exact sum over every bid, only where `exact`)."""
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
    if not mip and exact:
        bound = continuous_value(model, continuous)
    col_dual = engine.col_duals()
    row_dual = scaled_duals(model, engine.row_duals())
    # cost ranging of the basis just found, before it is changed (see reduced_cost_range)
    cost_up = None
    if exact:
        cost_up = engine.cost_up() if mip else reduced_cost_range(engine.original_costs(), col_dual)
    if clock is not None:
        clock.lap("solve")
    return Solved(
        model=model,
        engine=engine,
        status=status,
        bound=bound,
        lower=lower,
        upper=upper,
        continuous=continuous,
        col_dual=col_dual,
        row_dual=row_dual,
        cost_up=cost_up,
        tied=np.zeros(len(model.x_col), dtype=np.bool_),
    )


def ties(solved: Solved) -> None:
    """TIE_RULE over the optimal face (solver/ties.py); marks the bids it took units from."""
    model = solved.model
    first = solved.continuous[model.x_col]
    solved.continuous = break_ties(
        model,
        solved.engine,
        solved.continuous,
        solved.col_dual,
        solved.row_dual,
        solved.lower,
        solved.upper,
    )
    solved.tied = solved.continuous[model.x_col] < first - SNAP


def whole_units(run: Solving, solved: Solved) -> WholeUnits | None:
    """Whole units from the continuous optimum, proven within the round's gap; None where
    no whole-unit allocation meets every rule (solver/whole.py)."""
    try:
        rounded: IntArray | None = round_to_whole_units(
            solved.model, solved.engine, solved.continuous, solved.lower, solved.upper
        )
    except WholeUnitsInfeasibleError:
        rounded = None  # no rounding of this optimum: the whole-unit search decides
    return prove_whole_units(
        solved.model,
        solved.engine,
        rounded,
        solved.bound,
        tie_break=run.options.tie_break,
        search=solved.status == "optimal",
    )


def explanations(run: Solving, solved: Solved, whole: WholeUnits) -> Explanation:
    """A reason for each bid, what it would take to win more, and its ceiling.

    Reasons are re-solves' facts up to reasons_limit (solver/reasons.py): in an LP round
    solved by HiGHS each on the solve's own model, one rule's rows freed (resolve_relaxed),
    else on the round rebuilt without the rule; above it they are read from the duals
    (solver/explain.py). cost_to_win_more by re-solves up to explain_limit
    (solver/resolve.py); above it "pending" (a job after publication computes it).
    cost_ceiling is a formula: always.
    """
    model = solved.model
    units = whole.units
    ceilings = cost_ceilings(model)

    def allocate(problem: Problem) -> IntArray | None:
        return whole_allocation(problem, run.options)

    engine = solved.engine
    if len(run.problem.bids) > reasons_limit(mip=run.mip):
        # not re-solved (README: what re-solving them costs): read from the duals
        reasons = explain(
            model,
            units,
            solved.col_dual,
            solved.row_dual,
            solved.cost_up,
            mip=run.mip,
            tied=solved.tied,
            lp_units=solved.continuous,
        ).reasons
    elif isinstance(engine, HighsEngine) and not run.mip:
        engine.keep_bound_row = True  # the re-solves' tie passes share one row
        published = Published.of(model, units, whole.objective, engine.original_costs())

        def in_place(change: Relaxation) -> IntArray | None:
            return resolve_relaxed(run, solved, change, published)

        reasons = confirmed_reasons(model, units, in_place, settled=settled(run, solved, units))
    else:

        def rebuilt(change: Relaxation) -> IntArray | None:
            return allocate(change.problem)

        reasons = confirmed_reasons(model, units, rebuilt)
    if len(run.problem.bids) > explain_limit(mip=run.mip):
        costs = pending_thresholds(model, units)
        return Explanation(reasons=reasons, cost_to_win_more=costs, cost_ceiling=ceilings)
    resolver = Resolver(model, units, allocate)
    thresholds = [resolver.threshold(k) for k in range(len(units))]
    return Explanation(reasons=reasons, cost_to_win_more=thresholds, cost_ceiling=ceilings)


def settled(run: Solving, solved: Solved, units: IntArray) -> bool:
    """An LP round whose continuous tie choice is whole and is what was published: a rule
    with room to spare there changes nothing when removed (solver/reasons.py)."""
    if run.mip or not run.options.tie_break or solved.status != "optimal":
        return False
    x = solved.continuous[solved.model.x_col]
    whole = np.round(x)
    return bool(np.all(np.abs(x - whole) <= SNAP) and np.array_equal(whole, units))


def resolve_relaxed(
    run: Solving,
    solved: Solved,
    change: Relaxation,
    published: Published | None = None,
) -> IntArray | None:
    """The solve's passes again on its own HiGHS model, one rule's rows freed (an LP
    round): from the last basis, at gap 0, the tie rule and the zero-profit rule kept;
    the rows put back after. Its whole units, None where it has no allocation. Given the
    published units, their profit and spend, where the tie choice is whole the answer is
    read from the rules it touches (solver/regain.py): the published units with each
    bid's gain set on them."""
    engine = solved.engine
    assert isinstance(engine, HighsEngine)
    model = relaxed_model(solved.model, change)
    again = replace(run, problem=change.problem, explaining=True)
    before = engine.set_row_sides(change.rows, change.lower, change.upper)
    try:
        engine.restore()
        engine.set_col_bounds(*engine.original_bounds())
        engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
        status = engine.run(mip=False)
        if status == "infeasible":
            return None
        if status != "optimal":
            raise SolverError(f"a reason's re-solve stopped: {engine.status_message}")
        found = settle(model, engine, status, mip=False, clock=None, exact=False)
        optimum = found.continuous
        if run.options.tie_break:
            ties(found)
        if published is not None:
            quick = quick_gains(model, published, found.continuous, change.bids)
            if quick is not None:
                return quick
        found.bound = continuous_value(model, optimum)
        whole = whole_units(again, found)
        return None if whole is None else whole.units
    finally:
        engine.set_row_sides(change.rows, *before)


def engine_settings(problem: Problem, options: SolveOptions, *, mip: bool) -> EngineSettings:
    """How the engine runs a round: the same for a solve and for an explanation's re-solve."""
    return EngineSettings(
        solver=options.solver,
        time_limit=float(options.time_limit),
        mip_rel_gap=float(problem.round.mip_gap),
        threads=options.threads,
        random_seed=options.random_seed,
        presolve=_presolve(options.presolve, mip=mip),
        column_order=options.column_order_for(mip=mip) if options.solver == "highs" else "bid",
    )


def whole_allocation(problem: Problem, options: SolveOptions) -> IntArray | None:
    """The whole units solve() would publish for `problem`, unexplained: the re-solve of an
    explanation (the tie rule and the zero-profit rule kept). None: no allocation."""
    mip = problem.has_binaries
    settings = engine_settings(problem, options, mip=mip)
    run = Solving(problem, options, settings, solver_info(settings, options, mip=mip), Clock(), mip)
    run = replace(run, explaining=True)
    solved = first_solve(run, _no_phase)
    if isinstance(solved, Result):
        if solved.status != "optimal":
            return None
        return np.zeros(len(problem.bids), dtype=np.int64)
    if options.tie_break:
        ties(solved)
    whole = whole_units(run, solved)
    solved.release()
    return None if whole is None else whole.units


def infeasible(run: Solving, *, whole_units: bool = False) -> Result:
    """An infeasible round: no allocation, the rules in conflict named (on the whole-unit
    problem: solver/infeasible.py)."""
    problem = run.problem
    if run.explaining:
        return Result(
            round=problem.round.id,
            status="infeasible",
            input_hash=problem.input_hash,
            solver=run.info,
        )
    what = "no allocation meets every rule"
    if whole_units:
        what = "no allocation in whole units meets every rule"
    formulation = run.options.formulation_for(mip=problem.has_binaries)
    conflicts = find_conflicts(problem, run.settings, formulation)
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
        solver=run.info,
        timings=run.clock.timings(),
        allocations=nothing_allocated(problem),
        conflicts=tuple(conflicts),
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
