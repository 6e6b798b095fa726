"""PuLP's model written and read in bulk: the one module that reaches into PuLP's core.

The allocation model is a PuLP problem, and HiGHS solves what that problem holds, read
back from it here (`export`), so `lp.writeMPS()` and the solved model cannot differ. PuLP's
public builders make a Python object per term (`lpSum_vars_coefs` takes (variable,
coefficient) pairs, `addConstraint` checks each term again) and its public HiGHS hand-over
(`pulp.HiGHS.buildSolverModel`) walks every coefficient in Python: 1.5 s at 100,000 bids,
against 0.2 s here. So this module writes rows as whole arrays of variable ids and
coefficients (`add_row`), makes each kind of variable in one batch (`add_columns`), and
reads the matrix back row by row in PuLP's own order.

Only this module uses PuLP's internals (`lp._model`, `pulp._rustcore`). Its tests hold it
equal to the public paths on random models (tests/unit/solver/test_pulp_bulk.py): rows
written here read back as `lpSum_vars_coefs` + `addConstraint` write them, and `export`
gives what `pulp.HiGHS.buildSolverModel` hands HiGHS. A PuLP upgrade that changes its
internals fails those tests, not a round.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter, eq, itemgetter, methodcaller, ne
from typing import Literal

import numpy as np
import numpy.typing as npt
import pulp
from pulp import _rustcore

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Sense = Literal["<=", ">=", "="]

_SENSES = {
    "<=": _rustcore.Sense.LessEqual,
    ">=": _rustcore.Sense.GreaterEqual,
    "=": _rustcore.Sense.Equal,
}
_CATEGORIES = {"continuous": _rustcore.Category.Continuous, "integer": _rustcore.Category.Integer}
_SET_UB = _rustcore.Variable.set_ub
_ID = methodcaller("id")


@dataclass(frozen=True)
class ModelArrays:
    """A model as the arrays a solver takes: costs, bounds, integrality, CSR rows.

    Columns are PuLP's variables in id order, rows its constraints in the order added.
    """

    maximise: bool
    cost: FloatArray
    lower: FloatArray
    upper: FloatArray
    integer: npt.NDArray[np.bool_]
    row_lower: FloatArray
    row_upper: FloatArray
    start: IntArray
    index: IntArray
    value: FloatArray


def add_columns(
    lp: pulp.LpProblem,
    names: list[str],
    category: Literal["continuous", "integer"],
    upper: FloatArray | None,
) -> IntArray:
    """Variables made in one call, lower bound 0, these upper bounds (none where None or
    infinite); their ids, consecutive."""
    variables = lp._model.add_variables_batch(names, 0.0, math.inf, _CATEGORIES[category])
    if not variables:
        return np.zeros(0, dtype=np.int64)
    first, last = variables[0].id(), variables[-1].id()
    if last - first != len(variables) - 1:  # pragma: no cover - PuLP numbers in order
        raise RuntimeError("variable numbering out of step with PuLP")
    if upper is not None:
        if len(upper) != len(variables):  # pragma: no cover - a caller's bug
            raise RuntimeError("one upper bound per variable expected")
        finite = np.isfinite(upper)
        bounded = compress(variables, finite.tolist())
        deque(map(_SET_UB, bounded, upper[finite].tolist()), maxlen=0)  # a loop in C
    return np.arange(first, last + 1, dtype=np.int64)


def add_row(
    lp: pulp.LpProblem, name: str, cols: IntArray, coefs: FloatArray, sense: Sense, rhs: float
) -> int:
    """The row sum(coefs * x[cols]) <sense> rhs, named, as one bulk expression; its index."""
    expr = _rustcore.AffineExpr()
    expr.add_term_ids_coeffs(
        lp._model,
        np.ascontiguousarray(cols, dtype=np.uint64),
        np.ascontiguousarray(coefs, dtype=np.float64),
    )
    expr.set_constant(-rhs)
    expr.set_sense(_SENSES[sense])
    expr.set_name(name)
    # Straight to the core: LpProblem.addConstraint re-checks every term in Python.
    return int(lp._model.add_constraint(expr).id())


def set_objective(lp: pulp.LpProblem, cols: IntArray, coefs: FloatArray) -> None:
    """The objective sum(coefs * x[cols]) as one bulk expression."""
    expr = _rustcore.AffineExpr()
    expr.add_term_ids_coeffs(
        lp._model,
        np.ascontiguousarray(cols, dtype=np.uint64),
        np.ascontiguousarray(coefs, dtype=np.float64),
    )
    lp._model.set_objective(expr)


def empty(lp: pulp.LpProblem) -> None:
    """Let go of every variable, row and the objective the problem holds, in place: the
    problem stays (its name and sense), a caller still holding it holds nothing large."""
    core = _rustcore.Model(lp.name)
    core.set_sense(lp._model.get_sense())
    lp._model = core


def num_columns(lp: pulp.LpProblem) -> int:
    """Variables in the problem (PuLP's variables() makes an object for each)."""
    return int(lp._model.num_variables)


def num_rows(lp: pulp.LpProblem) -> int:
    """Constraints in the problem."""
    return int(lp._model.num_constraints)


def variable(lp: pulp.LpProblem, col: int) -> pulp.LpVariable:
    """The PuLP variable of a column id, wrapped only when asked for."""
    return pulp.LpVariable(lp._model.get_variable(col))


def export(lp: pulp.LpProblem) -> ModelArrays:
    """The problem as PuLP holds it, as arrays: what HiGHS is given to solve.

    Every variable is a column, in id order (the allocation model uses every one; PuLP's
    public hand-over leaves out those no row nor the objective uses). Coefficients come in
    the order PuLP keeps them, each row's as written. The terms are read a piece of rows
    at a time, so PuLP's object per term never exists for the whole matrix at once.
    """
    core = lp._model
    variables = core.list_variables()
    n = len(variables)
    lower = np.fromiter(map(_LB, variables), np.float64, n)
    upper = np.fromiter(map(_UB, variables), np.float64, n)
    continuous = _rustcore.Category.Continuous
    integer = np.fromiter(map(ne, map(_CATEGORY, variables), repeat(continuous)), np.bool_, n)
    del variables
    cost = np.zeros(n)
    objective = core.get_objective()
    if objective is not None:
        terms = objective.num_terms()
        cost[np.fromiter(map(_ID, objective.keys()), np.int64, terms)] = np.fromiter(
            objective.values(), np.float64, terms
        )
    rows = core.list_constraints()
    m = len(rows)
    start = np.zeros(m + 1, dtype=np.int64)
    index_pieces: list[IntArray] = []
    value_pieces: list[FloatArray] = []
    for first in range(0, m, _EXPORT_ROWS):
        piece = list(map(_ITEMS, rows[first : first + _EXPORT_ROWS]))
        counts = np.fromiter(map(len, piece), np.int64, len(piece))
        start[first + 1 : first + 1 + len(piece)] = counts
        terms = int(counts.sum())
        index_pieces.append(np.fromiter(map(_ID, map(_VARIABLE, _flat(piece))), np.int64, terms))
        value_pieces.append(np.fromiter(map(_COEFFICIENT, _flat(piece)), np.float64, terms))
        del piece
    np.cumsum(start, out=start)
    rhs = np.fromiter(map(_RHS, rows), np.float64, m)
    senses = list(map(_SENSE, rows))
    del rows
    le = np.fromiter(map(eq, senses, repeat(_SENSES["<="])), np.bool_, m)
    ge = np.fromiter(map(eq, senses, repeat(_SENSES[">="])), np.bool_, m)
    return ModelArrays(
        maximise=core.get_sense() == _rustcore.ObjSense.Maximize,
        cost=cost,
        lower=lower,
        upper=upper,
        integer=integer,
        row_lower=np.where(le, -math.inf, rhs),
        row_upper=np.where(ge, math.inf, rhs),
        start=start,
        index=np.concatenate(index_pieces) if index_pieces else np.zeros(0, dtype=np.int64),
        value=np.concatenate(value_pieces) if value_pieces else np.zeros(0),
    )


_EXPORT_ROWS = 2048
_LB = attrgetter("lb")
_UB = attrgetter("ub")
_CATEGORY = attrgetter("category")
_RHS = attrgetter("rhs")
_SENSE = attrgetter("sense")
_ITEMS = methodcaller("items")
_VARIABLE = itemgetter(0)
_COEFFICIENT = itemgetter(1)


def _flat(per_row: list[list[tuple[_rustcore.Variable, float]]]) -> Iterator[tuple[object, float]]:
    return chain.from_iterable(per_row)


class VariableMap(Mapping[str, pulp.LpVariable]):
    """Business id -> PuLP variable, wrapping a variable only when it is looked up.

    A dict of 100,000 wrappers made up front cost a tenth of the whole build.
    """

    def __init__(self, lp: pulp.LpProblem, ids: list[str], cols: IntArray) -> None:
        if len(ids) != len(cols):  # pragma: no cover - a caller's bug
            raise ValueError("one column per id expected")
        self._lp = lp
        self._ids = ids
        self._cols = cols
        self._index: dict[str, int] | None = None  # made on the first lookup (most solves
        # make none: HiGHS reads the model whole)

    def __getitem__(self, key: str) -> pulp.LpVariable:
        if self._index is None:
            self._index = dict(zip(self._ids, self._cols.tolist(), strict=True))
        return variable(self._lp, self._index[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class VariableLists(Mapping[str, list[pulp.LpVariable]]):
    """Business id -> its variables (an item's segments or scenarios), wrapped on lookup."""

    def __init__(self, lp: pulp.LpProblem, cols: dict[str, IntArray]) -> None:
        self._lp = lp
        self._cols = cols

    def __getitem__(self, key: str) -> list[pulp.LpVariable]:
        return [variable(self._lp, c) for c in self._cols[key].tolist()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)
