"""CBC through PuLP's COIN_CMD (the cbcbox binary): the optional, small-problem engine.

Every pass re-solves through PuLP, changing its variables one by one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pulp

from solver.engine import BoolArray, EngineSettings, FloatArray, IntArray, RunStatus, SolverError

_COIN_CMD: Any = pulp.COIN_CMD  # untyped in PuLP


class CbcEngine:
    """CBC through PuLP's COIN_CMD (the cbcbox binary); every pass re-solves through PuLP."""

    name = "CBC"
    has_ranging = False

    def __init__(self, lp: pulp.LpProblem, settings: EngineSettings) -> None:
        self.lp = lp
        self.settings = settings
        self.status_message = ""
        self.version = cbc_version()
        self.variables = lp.variables()
        self.constraints = lp.constraints()
        self._lower = np.array([v.lowBound for v in self.variables], dtype=np.float64)
        self._upper = np.array([v.upBound for v in self.variables], dtype=np.float64)
        self._integer = np.array([v.cat == pulp.LpInteger for v in self.variables])
        self._senses = [c.sense for c in self.constraints]
        costs = np.zeros(len(self.variables))
        objective = lp.objective
        if objective is not None:
            for var, coef in objective.items():
                costs[var.id] = coef
        self._costs = costs
        self._sign = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        self._when_solving: list[Callable[[], object]] = []
        if not _COIN_CMD(msg=False).available():
            raise SolverError("CBC is not installed: install the `cbc` extra (cbcbox)")

    def run(
        self,
        *,
        mip: bool,
        mip_rel_gap: float | None = None,
        presolve: bool | None = None,
        cold: bool = False,
        mip_abs_gap: float | None = None,
    ) -> RunStatus:
        """Solve the PuLP problem as it stands with CBC."""
        gap = self.settings.mip_rel_gap if mip_rel_gap is None else mip_rel_gap
        solver = _COIN_CMD(
            mip=mip,
            msg=False,
            timeLimit=self.settings.time_limit,
            gapRel=gap,
            gapAbs=mip_abs_gap,
            threads=self.settings.threads,
            randomSeed=self.settings.random_seed,
            presolve=self.settings.presolve if presolve is None else presolve,
        )
        starts, self._when_solving = self._when_solving, []
        for start in starts:
            start()
        try:
            stats = self.lp.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed: {exc}") from exc
        status = stats.status
        self.status_message = status.name
        if status == pulp.LpSolveStatus.Infeasible:
            return "infeasible"
        if not stats.has_solution:
            return "error"
        return "optimal" if status == pulp.LpSolveStatus.Optimal else "feasible"

    def values(self) -> FloatArray:
        """Column values, indexed by PuLP variable id."""
        return np.array([v.varValue or 0.0 for v in self.variables], dtype=np.float64)

    def dual_bound(self) -> float | None:
        """CBC's bound is not read through PuLP: None (solve() then proves otherwise)."""
        return None

    def set_start(self, cols: IntArray, values: FloatArray) -> None:
        """No start is given to CBC (the small-problem path)."""

    def col_duals(self) -> FloatArray:
        """Reduced costs in HiGHS's sign convention."""
        return self._sign * np.array([v.dj or 0.0 for v in self.variables], dtype=np.float64)

    def row_duals(self) -> FloatArray:
        """Row duals in HiGHS's sign convention."""
        return self._sign * np.array([c.pi or 0.0 for c in self.constraints], dtype=np.float64)

    def row_values(self) -> FloatArray:
        """Row activities."""
        return np.array([c.value() or 0.0 for c in self.constraints], dtype=np.float64)

    def objective(self) -> float:
        """The objective value of the current solution."""
        return float(pulp.value(self.lp.objective) or 0.0)

    def original_bounds(self) -> tuple[FloatArray, FloatArray]:
        """Column bounds as first built."""
        return self._lower.copy(), self._upper.copy()

    def original_costs(self) -> FloatArray:
        """Objective coefficients as first built."""
        return self._costs.copy()

    def set_col_bounds(self, lower: FloatArray, upper: FloatArray) -> None:
        """Replace every column's bounds (one PuLP call per variable)."""
        for var, lo, up in zip(self.variables, lower.tolist(), upper.tolist(), strict=True):
            var.lowBound = lo
            var.upBound = up

    def set_integer(self, integer: BoolArray) -> None:
        """Mark the given columns integer and all others continuous."""
        for var, flag in zip(self.variables, integer.tolist(), strict=True):
            var.cat = "Integer" if flag else "Continuous"

    def set_costs(self, costs: FloatArray) -> None:
        """Replace the objective."""
        ids = np.flatnonzero(costs).tolist()
        self.lp.setObjective(
            pulp.lpSum_vars_coefs((self.variables[k], float(costs[k])) for k in ids)
        )

    def set_rows_equal(self, equal: BoolArray) -> None:
        """Make the marked rows equalities; the others as built."""
        for row, sense, flag in zip(self.constraints, self._senses, equal.tolist(), strict=True):
            row.sense = pulp.LpConstraintEQ if flag else sense

    def bound_objective(self, costs: FloatArray, least: float) -> bool:
        """Not supported through PuLP's CBC: the caller checks the objective itself."""
        return False

    def drop_objective_bound(self) -> None:
        """Nothing was added."""

    def restore(self) -> None:
        """The objective and the row senses as built (see HighsEngine.restore)."""
        self.set_costs(self._costs)
        self.set_rows_equal(np.zeros(len(self.constraints), dtype=np.bool_))

    def cost_up(self) -> FloatArray | None:
        """CBC gives no cost ranging through PuLP."""
        return None

    def when_solving(self, start: Callable[[], object]) -> None:
        """Call `start` as the first run begins."""
        self._when_solving.append(start)

    def close(self) -> None:
        """Nothing to free: CBC ran as a separate process."""


@cache
def cbc_version() -> str:
    """The CBC binary's own version line, and the cbcbox wheel that ships it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        box = f"cbcbox {version('cbcbox')}"
    except PackageNotFoundError:
        box = "cbc on PATH"
    path = _COIN_CMD(msg=False).path
    try:
        out = subprocess.run(
            [path, "-quit"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return box
    fields = dict(line.strip().split(":", 1) for line in out.splitlines() if line.count(":") == 1)
    cbc = fields.get("Version", "").strip()
    built = fields.get("Build Date", "").strip()
    return f"{cbc}, built {built} ({box})" if cbc else box
