"""HiGHS through highspy: the default engine.

The first solve goes through PuLP (`LpProblem.solve` with an explicitly configured
`pulp.HiGHS`), which reads the PuLP problem (BulkHiGHS). The passes after it change
bounds, costs and integrality on the solver's own model (`lp.solverModel`) with whole
numpy arrays, so a pass never rebuilds or re-exports the model, and the simplex
warm-starts from the last basis.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import pulp
from pulp.apis.core import clocks
from pulp.core.lp_stats import LpSolveStats

from solver.engine import (
    BoolArray,
    EngineSettings,
    FloatArray,
    IntArray,
    RunStatus,
    SolverError,
    later_pass_limit,
)
from solver.memory import give_back_freed_memory
from solver.model import AllocationModel
from solver.pulp_bulk import ModelArrays

HIGHS_MIP_ABS_GAP = 1e-6
"""HiGHS's own default absolute gap, restored for a run that names none."""


class BulkHiGHS(pulp.HiGHS):
    """PuLP's HiGHS solver, handed the problem PuLP holds as whole arrays.

    PuLP's own `buildSolverModel` walks every term of every row in Python and
    `findSolutionValues` writes every value back into a Python variable object; at
    100,000 bids and more that costs as much as the simplex. The arrays are read from the
    same PuLP problem in bulk (solver/pulp_bulk.py `export`, held equal to PuLP's own
    hand-over by a test), so HiGHS solves exactly what `lp.writeMPS()` would write.
    """

    def __init__(self, arrays: ModelArrays, handed_over: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrays: ModelArrays | None = arrays
        self.handed_over = handed_over
        self.is_mip = bool(arrays.integer.any() and self.mip)
        self.num_columns = len(arrays.cost)
        self.num_rows = len(arrays.row_lower)

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
        a = self.arrays
        assert a is not None
        vt = highspy.HighsVarType
        integer = a.integer if self.mip else np.zeros_like(a.integer)
        sense = highspy.ObjSense.kMaximize if a.maximise else highspy.ObjSense.kMinimize
        inf = highspy.kHighsInf
        h = lp.solverModel
        assert h is not None
        h.passModel(
            len(a.cost),
            len(a.row_lower),
            len(a.value),
            int(highspy.MatrixFormat.kRowwise),
            int(sense),
            0.0,
            a.cost,
            a.lower,
            np.clip(a.upper, -inf, inf),
            np.clip(a.row_lower, -inf, inf),
            np.clip(a.row_upper, -inf, inf),
            a.start[:-1].astype(np.int32),
            a.index.astype(np.int32),
            a.value,
            np.where(integer, int(vt.kInteger), int(vt.kContinuous)).astype(np.uint8),
        )
        # HiGHS holds its own copy now: the arrays and the PuLP problem's rows go before
        # the simplex runs, so the two copies never take memory while it works.
        self.arrays = None
        del a
        self.handed_over()

    def buildStats(  # noqa: N802 - PuLP's name
        self,
        lp: pulp.LpProblem,
        status: int,
        has_solution: bool,
        *,
        start: tuple[float, float],
        best_bound: float | None = None,
    ) -> LpSolveStats:
        # PuLP's version counts variables by making a Python object for each one.
        h = lp.solverModel
        assert h is not None
        wall, cpu = clocks()
        return LpSolveStats(
            solver=self.name,
            status=pulp.LpSolveStatus(status),
            has_solution=has_solution,
            time=wall - start[0],
            cpu_time=cpu - start[1],
            objective=float(h.getInfo().objective_function_value) if has_solution else None,
            best_bound=best_bound,
            num_variables=self.num_columns,
            num_constraints=self.num_rows,
            is_mip=self.is_mip,
        )

    def findSolutionValues(self, lp: pulp.LpProblem) -> tuple[int, bool]:  # noqa: N802
        # Status only: the engine reads values and duals from the solver model in bulk.
        h = lp.solverModel
        assert h is not None
        status = h.getModelStatus()
        ms = highspy.HighsModelStatus
        s = pulp.LpSolveStatus
        if status == ms.kOptimal:
            return s.Optimal, True
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            return s.Infeasible, False
        has_solution = h.getInfo().primal_solution_status == 2
        return (s.TimeLimit if status == ms.kTimeLimit else s.Undefined), has_solution


def item_order(model: AllocationModel) -> IntArray:
    """The columns in ColumnOrder "item": HiGHS's column j is the model's column order[j]."""
    by_item = model.x_col[np.argsort(model.bid_item, kind="stable")]
    rest = np.ones(model.n_cols, dtype=np.bool_)
    rest[model.x_col] = False
    return np.concatenate([by_item, np.flatnonzero(rest)]).astype(np.int64)


def reorder_columns(arrays: ModelArrays, order: IntArray) -> ModelArrays:
    """The same model with its columns renumbered: column j is the given one's order[j]."""
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return replace(
        arrays,
        cost=arrays.cost[order],
        lower=arrays.lower[order],
        upper=arrays.upper[order],
        integer=arrays.integer[order],
        index=position[arrays.index],
    )


class HighsEngine:
    """HiGHS through PuLP's `HiGHS` API, then through the same highspy model for later passes.

    Every array in and out is indexed as the model numbers its columns; HiGHS may hold
    them in another order (EngineSettings.column_order), translated here alone.
    """

    name = "HiGHS"
    has_ranging = True
    keep_bound_row = False
    """For an explanation's re-solves: restore() frees the objective's bound row rather than
    deleting it, and bound_objective() with the same costs only moves its bound (adding a
    dense row took 15 ms at 10,000 bids, once per re-solve)."""

    def __init__(self, model: AllocationModel, settings: EngineSettings) -> None:
        self.model: AllocationModel | None = model
        self.maximise = model.lp.sense == pulp.LpMaximize
        self.settings = settings
        # HiGHS's column j is the model's column _order[j]; the model's column c is
        # HiGHS's _position[c] (None: the same order)
        self._order: IntArray | None = None
        self._position: IntArray | None = None
        if settings.column_order == "item" and model.n_cols:
            self._order = item_order(model)
            self._position = np.empty_like(self._order)
            self._position[self._order] = np.arange(len(self._order))
        self.highs: highspy.Highs | None = None
        self.status_message = ""
        self.version = highs_version()
        self._lower: FloatArray | None = None
        self._upper: FloatArray | None = None
        self._costs: FloatArray | None = None
        self._row_lower: FloatArray | None = None
        self._row_upper: FloatArray | None = None
        self._ncols = 0
        self._nrows = 0
        self._started = 0.0
        self._bound_row: int | None = None
        self._bound_costs: FloatArray | None = None
        self._altered = False  # costs, row bounds or the bound row other than as built
        self._dual_bound: float | None = None
        self._when_solving: list[Callable[[], object]] = []

    def run(
        self,
        *,
        mip: bool,
        mip_rel_gap: float | None = None,
        presolve: bool | None = None,
        cold: bool = False,
        mip_abs_gap: float | None = None,
    ) -> RunStatus:
        """First call: build and solve through PuLP; later calls: re-run the changed model.

        `presolve` overrides the setting for one later run (the whole-units MILP, where
        presolve removes the fixed columns). `cold` starts that run from scratch.
        `mip_abs_gap`: the absolute gap that also ends a branch and bound (HiGHS's default
        where None). A MILP run records its proven bound (dual_bound).
        """
        gap = self.settings.mip_rel_gap if mip_rel_gap is None else mip_rel_gap
        if self.highs is None:
            model = self.model
            assert model is not None  # pragma: no cover - released only once solved
            lp = model.lp
            arrays = model.arrays()
            self._capture_original(arrays)
            if self._order is not None:
                arrays = reorder_columns(arrays, self._order)
            solver = BulkHiGHS(
                arrays,
                self._handed_over,
                mip=mip,
                msg=False,
                timeLimit=self.settings.time_limit,
                gapRel=gap,
                threads=self.settings.threads,
                random_seed=self.settings.random_seed,
                presolve="on" if self.settings.presolve else "off",
                output_flag=False,
            )
            del arrays, model
            self._started = time.perf_counter()
            lp.solve(solver)
            self.highs = lp.solverModel
            lp.solverModel = None
        else:
            # HiGHS holds its time limit against one run clock that adds up over every run
            # of the model: the pass's own seconds go on top of what it already reads (a
            # MILP that had used half the limit left its re-solve no time at all).
            budget = later_pass_limit(self.settings, self._started)
            self.highs.setOptionValue("time_limit", self.highs.getRunTime() + budget)
            self.highs.setOptionValue("mip_rel_gap", gap)
            self.highs.setOptionValue(
                "mip_abs_gap", HIGHS_MIP_ABS_GAP if mip_abs_gap is None else mip_abs_gap
            )
            on = self.settings.presolve if presolve is None else presolve
            self.highs.setOptionValue("presolve", "on" if on else "off")
            if cold:  # forget the basis and solver state of the last run
                self.highs.clearSolver()
            self.highs.run()
        self._dual_bound = None
        if mip:
            bound = float(self._h().getInfo().mip_dual_bound)
            self._dual_bound = bound if math.isfinite(bound) else None
        return self._status()

    def _h(self) -> highspy.Highs:
        if self.highs is None:  # pragma: no cover - run() always comes first
            raise SolverError("the model has not been solved yet")
        return self.highs

    def when_solving(self, start: Callable[[], object]) -> None:
        """Call `start` once the model is handed to HiGHS, as its first run begins."""
        self._when_solving.append(start)

    def _handed_over(self) -> None:
        self._hand_over()
        starts, self._when_solving = self._when_solving, []
        for start in starts:
            start()

    def _hand_over(self) -> None:
        """HiGHS holds the model: the PuLP problem is let go before the simplex runs (every
        later pass changes HiGHS's model, and the result is built from the maps)."""
        if self.model is not None:
            self.model.release_solver_model()
            self.model = None
            # PuLP's core freed its many small pieces into the C heap, where HiGHS's large
            # arrays (each mapped on its own) would not reuse them: given back to the
            # system instead (100,000 bids: 43 MB, and the peak as much lower)
            give_back_freed_memory()

    def _capture_original(self, a: ModelArrays) -> None:
        inf = highspy.kHighsInf
        self._ncols = len(a.cost)
        self._nrows = len(a.row_lower)
        self._lower = a.lower.copy()
        self._upper = np.clip(a.upper, -inf, inf)
        self._costs = a.cost.copy()
        self._row_lower = np.clip(a.row_lower, -inf, inf)
        self._row_upper = np.clip(a.row_upper, -inf, inf)

    def _status(self) -> RunStatus:
        h = self._h()
        status = h.getModelStatus()
        self.status_message = h.modelStatusToString(status)
        ms = highspy.HighsModelStatus
        if status == ms.kOptimal:
            return "optimal"
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            return "infeasible"
        if status in (ms.kTimeLimit, ms.kIterationLimit, ms.kInterrupt, ms.kSolutionLimit):
            has_solution = h.getInfo().primal_solution_status == 2
            return "feasible" if has_solution else "error"
        return "error"

    def _from_highs(self, values: FloatArray) -> FloatArray:
        return values if self._position is None else values[self._position]

    def _to_highs(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if self._order is None else values[self._order]

    def values(self) -> FloatArray:
        """Column values, indexed by PuLP variable id."""
        return self._from_highs(np.array(self._h().getSolution().col_value, dtype=np.float64))

    def dual_bound(self) -> float | None:
        """The best proven bound of the last MILP run (None after an LP run, or none found)."""
        return self._dual_bound

    def set_start(self, cols: IntArray, values: FloatArray) -> None:
        """A start for the next MILP run: these columns' values (HiGHS completes the rest)."""
        at = cols if self._position is None else self._position[cols]
        self._h().setSolution(len(cols), at.astype(np.int32), values.astype(np.float64))

    def col_duals(self) -> FloatArray:
        """Column duals (reduced costs), HiGHS's sign for a maximisation."""
        return self._from_highs(np.array(self._h().getSolution().col_dual, dtype=np.float64))

    def row_duals(self) -> FloatArray:
        """Row duals, indexed as AllocationModel.row_meta (a kept bound row left out)."""
        return np.array(self._h().getSolution().row_dual, dtype=np.float64)[: self._nrows]

    def row_values(self) -> FloatArray:
        """Row activities (a kept bound row left out)."""
        return np.array(self._h().getSolution().row_value, dtype=np.float64)[: self._nrows]

    def objective(self) -> float:
        """The solver's objective value (floating point, for logs and checks only)."""
        return float(self._h().getInfo().objective_function_value)

    def original_bounds(self) -> tuple[FloatArray, FloatArray]:
        """Column bounds as first built."""
        assert self._lower is not None
        assert self._upper is not None
        return self._lower.copy(), self._upper.copy()

    def original_costs(self) -> FloatArray:
        """Objective coefficients as first built."""
        assert self._costs is not None
        return self._costs.copy()

    def set_col_bounds(self, lower: FloatArray, upper: FloatArray) -> None:
        """Replace every column's bounds in one call."""
        idx = np.arange(self._ncols, dtype=np.int32)
        self._h().changeColsBounds(self._ncols, idx, self._to_highs(lower), self._to_highs(upper))

    def set_integer(self, integer: BoolArray) -> None:
        """Mark the given columns integer and all others continuous."""
        vt = highspy.HighsVarType
        kinds = np.where(integer, int(vt.kInteger), int(vt.kContinuous)).astype(np.uint8)
        idx = np.arange(self._ncols, dtype=np.int32)
        self._h().changeColsIntegrality(self._ncols, idx, self._to_highs(kinds))

    def set_costs(self, costs: FloatArray) -> None:
        """Replace every objective coefficient in one call."""
        idx = np.arange(self._ncols, dtype=np.int32)
        self._h().changeColsCost(self._ncols, idx, self._to_highs(costs))
        self._altered = True

    def set_rows_equal(self, equal: BoolArray) -> None:
        """Make the marked rows equalities at their finite side; the others as built."""
        assert self._row_lower is not None
        assert self._row_upper is not None
        lower = self._row_lower.copy()
        upper = self._row_upper.copy()
        side = np.where(np.isfinite(upper), upper, lower)
        lower[equal] = side[equal]
        upper[equal] = side[equal]
        idx = np.arange(self._nrows, dtype=np.int32)
        self._h().changeRowsBounds(self._nrows, idx, lower, upper)  # type: ignore[attr-defined]
        self._altered = True

    def set_row_sides(
        self, rows: IntArray, lower: FloatArray, upper: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """These rows' bounds as if built so (restore and set_rows_equal keep them), set on
        the model in place; returns their bounds before. An explanation's re-solve removes
        one rule so, and puts it back (solver/reasons.py)."""
        assert self._row_lower is not None
        assert self._row_upper is not None
        before = self._row_lower[rows].copy(), self._row_upper[rows].copy()
        self._row_lower[rows] = lower
        self._row_upper[rows] = upper
        at = rows.astype(np.int32)
        self._h().changeRowsBounds(len(at), at, lower, upper)  # type: ignore[attr-defined]
        return before

    def bound_objective(self, costs: FloatArray, least: float) -> bool:
        """Add the row costs . x >= least (a maximisation) until drop_objective_bound()."""
        if not self.maximise:  # pragma: no cover - only the allocation LP is bounded
            return False
        h = self._h()
        kept = self._bound_costs
        if self._bound_row is not None and kept is not None and np.array_equal(kept, costs):
            h.changeRowBounds(self._bound_row, least, highspy.kHighsInf)
            self._altered = True
            return True
        if self._bound_row is not None:
            self.drop_objective_bound()
        cols = np.flatnonzero(costs)
        at = cols if self._position is None else self._position[cols]
        h.addRow(least, highspy.kHighsInf, len(cols), at.astype(np.int32), costs[cols])
        self._bound_row = h.getNumRow() - 1
        self._bound_costs = costs.copy() if self.keep_bound_row else None
        self._altered = True
        return True

    def drop_objective_bound(self) -> None:
        """Remove the row bound_objective() added."""
        if self._bound_row is None:
            return
        self._h().deleteRows(1, np.array([self._bound_row], dtype=np.int32))
        self._bound_row = None
        self._bound_costs = None

    def restore(self) -> None:
        """The objective and the row bounds as built, the objective bound dropped: what
        every pass starts from (each sets its own column bounds and integrality). A pass
        that changes them (the tie rule) leaves them so: restored only where another pass
        follows, as most rounds need none."""
        if not self._altered:
            return
        if self._bound_costs is not None and self._bound_row is not None:
            inf = highspy.kHighsInf
            self._h().changeRowBounds(self._bound_row, -inf, inf)
        else:
            self.drop_objective_bound()
        self.set_rows_equal(np.zeros(self._nrows, dtype=np.bool_))
        assert self._costs is not None
        self.set_costs(self._costs)
        self._altered = False

    def cost_up(self) -> FloatArray | None:
        """HiGHS cost ranging: per column, the objective coefficient above which it grows."""
        status, ranging = self._h().getRanging()
        if status != highspy.HighsStatus.kOk or not ranging.valid:
            return None
        return self._from_highs(np.array(ranging.col_cost_up.value_, dtype=np.float64))

    def close(self) -> None:
        """Free the solver's model: the result is built from arrays already read."""
        self.highs = None
        self._hand_over()


@cache
def highs_version() -> str:
    """The exact HiGHS version (and git hash) that highspy links."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    return f"{h.version()} ({h.githash()})"
