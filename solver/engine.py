"""What solve() asks of a solver, whichever it is: the Engine protocol and its settings.

The backends, one module each: solver/highs_engine.py (HiGHS through highspy, the default)
and solver/cbc_engine.py (CBC, the optional small-problem path); solver/engines.py picks one
by name. Every pass after the first solve (binaries fixed, ties, whole units) changes
bounds, costs and integrality of the solver's own model through this protocol: it never
rebuilds.

Duals follow HiGHS's convention for a maximisation: a column's dual is its objective
coefficient minus the row duals it meets, so a positive dual at a lower bound means one
more unit would raise the objective.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
RunStatus = Literal["optimal", "feasible", "infeasible", "error"]
SolverName = Literal["highs", "cbc"]

ColumnOrder = Literal["bid", "item"]
"""bid: HiGHS gets the columns as the model numbers them, bids in id order; item: the bids'
columns grouped by item (each item's bids together, in id order), the other columns after
them as they are. HiGHS's dual simplex ran about a tenth faster on the latter on LP rounds
(0.76 s against 0.87 s at 100,000 bids, medians of 8 paired runs)."""


@dataclass(frozen=True)
class EngineSettings:
    """Every option a solver is given; reported verbatim in Result.solver."""

    solver: SolverName
    time_limit: float
    mip_rel_gap: float
    threads: int
    random_seed: int
    presolve: bool
    column_order: ColumnOrder = "bid"
    """The order HiGHS is given the bids' columns in (the model's own order is by bid)."""


def later_pass_limit(settings: EngineSettings, started: float) -> float:
    """Seconds a pass after the first may take: what is left, but never less than a quarter.

    The first run (a MILP's branch and bound especially) may use the whole time limit;
    the passes that make its answer usable (units re-solved with the binaries fixed, the
    tie rule, whole units) then still get time of their own, so a run that found an
    allocation in time is not lost for want of a second.
    """
    left = settings.time_limit - (time.perf_counter() - started)
    return max(left, settings.time_limit / 4, 1.0)


class SolverError(RuntimeError):
    """The solver could not run or gave an answer that cannot be used."""


class Engine(Protocol):
    """What solve() needs from a solver: run, read, and change bounds, costs, integrality."""

    name: str
    version: str
    status_message: str
    has_ranging: bool

    def run(
        self,
        *,
        mip: bool,
        mip_rel_gap: float | None = None,
        presolve: bool | None = None,
        cold: bool = False,
        mip_abs_gap: float | None = None,
    ) -> RunStatus: ...
    def values(self) -> FloatArray: ...
    def dual_bound(self) -> float | None: ...
    def set_start(self, cols: IntArray, values: FloatArray) -> None: ...
    def col_duals(self) -> FloatArray: ...
    def row_duals(self) -> FloatArray: ...
    def row_values(self) -> FloatArray: ...
    def objective(self) -> float: ...
    def original_bounds(self) -> tuple[FloatArray, FloatArray]: ...
    def original_costs(self) -> FloatArray: ...
    def set_col_bounds(self, lower: FloatArray, upper: FloatArray) -> None: ...
    def set_integer(self, integer: BoolArray) -> None: ...
    def set_costs(self, costs: FloatArray) -> None: ...
    def set_rows_equal(self, equal: BoolArray) -> None: ...
    def cost_up(self) -> FloatArray | None: ...
    def bound_objective(self, costs: FloatArray, least: float) -> bool: ...
    def drop_objective_bound(self) -> None: ...
    def restore(self) -> None: ...
    def close(self) -> None: ...
    def when_solving(self, start: Callable[[], object]) -> None:
        """Call `start` once, as the solver's first run begins with the model handed over:
        work beside the solver (the input hash) then runs while the solver holds no lock
        Python needs, not while the model is being handed over."""
