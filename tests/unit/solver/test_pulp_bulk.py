"""solver/pulp_bulk.py against PuLP's public paths, on random models.

The adapter is the one module that reaches into PuLP's internals. These tests hold it to
the public API: rows and columns it writes read back as PuLP's public builders write
them, and the matrix it exports is the one `pulp.HiGHS.buildSolverModel` hands HiGHS. A
PuLP upgrade that changes its internals fails here, not in a round.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import highspy
import numpy as np
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csc_matrix, csr_matrix

from solver.model import build_model
from solver.problem import parse_problem
from solver.pulp_bulk import ModelArrays, Sense, add_columns, add_row, export, set_objective
from tests.unit.solver.builders import random_problem_data

COEF = st.integers(-40, 40).map(lambda k: k / 4) | st.floats(-1e3, 1e3, allow_nan=False)


def public_handover(lp: pulp.LpProblem, *, mip: bool = True) -> Any:
    """What PuLP's own HiGHS API gives HiGHS for this problem: the HighsLp it built."""
    solver = pulp.HiGHS(msg=False, mip=mip)
    solver.createAndConfigureSolver(lp)
    solver.buildSolverModel(lp)
    assert lp.solverModel is not None
    return lp.solverModel.getLp()


def assert_same_as_public(lp: pulp.LpProblem) -> None:
    """export(lp) is the public hand-over, entry for entry (zeros aside: PuLP's public
    path leaves them out; HiGHS drops them, and any below its small_matrix_value, from
    whatever it is given)."""
    ours = export(lp)
    theirs = public_handover(lp)
    n = len(ours.cost)
    inf = highspy.kHighsInf
    assert theirs.num_col_ == n
    assert theirs.num_row_ == len(ours.row_lower)
    np.testing.assert_array_equal(np.array(theirs.col_cost_), ours.cost)
    np.testing.assert_array_equal(np.array(theirs.col_lower_), np.clip(ours.lower, -inf, inf))
    np.testing.assert_array_equal(np.array(theirs.col_upper_), np.clip(ours.upper, -inf, inf))
    np.testing.assert_array_equal(np.array(theirs.row_lower_), np.clip(ours.row_lower, -inf, inf))
    np.testing.assert_array_equal(np.array(theirs.row_upper_), np.clip(ours.row_upper, -inf, inf))
    integrality = np.array([int(k) for k in theirs.integrality_] or [0] * n)
    np.testing.assert_array_equal(integrality != 0, ours.integer)
    assert (theirs.sense_ == highspy.ObjSense.kMaximize) == ours.maximise
    matrix = theirs.a_matrix_
    shape = (theirs.num_row_, n)
    args = (np.array(matrix.value_), np.array(matrix.index_), np.array(matrix.start_))
    public = (
        csr_matrix(args, shape=shape)
        if matrix.format_ == highspy.MatrixFormat.kRowwise
        else csc_matrix(args, shape=shape)
    )
    assert lp.solverModel is not None
    small = lp.solverModel.getOptionValue("small_matrix_value")[1]
    kept = np.where(np.abs(ours.value) > small, ours.value, 0.0)
    exported = csr_matrix((kept, ours.index, ours.start), shape=shape)
    exported.eliminate_zeros()
    assert (public != exported).nnz == 0


@st.composite
def public_models(draw: st.DrawFn) -> pulp.LpProblem:
    """A random problem written with PuLP's public API only, every variable used."""
    sense = draw(st.sampled_from([pulp.LpMinimize, pulp.LpMaximize]))
    lp = pulp.LpProblem("random", sense)
    n = draw(st.integers(1, 8))
    variables = []
    for k in range(n):
        low = draw(st.none() | st.integers(-5, 5).map(float))
        up = draw(st.none() | st.integers(5, 20).map(float))
        cat: Literal["Continuous", "Integer", "Binary"] = draw(
            st.sampled_from(["Continuous", "Integer", "Binary"])
        )
        variables.append(lp.add_variable(f"v{k}", lowBound=low, upBound=up, cat=cat))
    lp.setObjective(pulp.lpSum_vars_coefs((v, draw(COEF)) for v in variables))
    for r in range(draw(st.integers(0, 6))):
        members = draw(st.lists(st.sampled_from(variables), min_size=1, max_size=n, unique=True))
        expr = pulp.lpSum_vars_coefs((v, draw(COEF)) for v in members)
        rhs = draw(st.integers(-10, 10))
        kind = draw(st.sampled_from(["<=", ">=", "="]))
        row = expr <= rhs if kind == "<=" else expr >= rhs if kind == ">=" else expr == rhs
        lp.addConstraint(row, f"r{r}")
    return lp


@settings(max_examples=150, deadline=None)
@given(lp=public_models())
def test_the_export_is_pulps_public_hand_over_on_random_models(lp: pulp.LpProblem) -> None:
    assert_same_as_public(lp)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("formulation", ["segments", "scenarios"])
@pytest.mark.parametrize("elastic", [False, True])
def test_the_export_is_pulps_public_hand_over_on_allocation_models(
    seed: int, formulation: str, elastic: bool
) -> None:
    problem = parse_problem(random_problem_data(seed, milp=seed % 2 == 1, bids=25))
    model = build_model(problem, formulation, elastic=elastic)  # type: ignore[arg-type]
    assert_same_as_public(model.lp)
    assert isinstance(model.arrays(), ModelArrays)


def read_back(lp: pulp.LpProblem, *, public_row_names: bool = False) -> dict[str, Any]:
    """Everything a problem holds, through PuLP's public API only.

    `public_row_names`: row names as `addConstraint` would store them. The public builder
    replaces "[", "]" and other characters by "_" in a row's name; add_row keeps the name
    as given (`cap_share[F1]`), the one difference, which only names change.
    """
    objective = lp.objective

    def row_name(name: str) -> str:
        return name.translate(pulp.LpVariable.trans) if public_row_names else name

    return {
        "sense": lp.sense,
        "variables": [(v.name, v.lowBound, v.upBound, v.cat) for v in lp.variables()],
        "objective": [] if objective is None else [(v.name, c) for v, c in objective.items()],
        "rows": [
            (row_name(c.name), c.sense, c.constant, [(v.name, a) for v, a in c.items()])
            for c in lp.constraints()
        ],
    }


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_bulk_writing_makes_what_the_public_builders_make(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 8))
    uppers = data.draw(st.lists(st.none() | st.integers(1, 50).map(float), min_size=n, max_size=n))
    integer = data.draw(st.booleans())
    names = [f"x[{k}]" for k in range(n)]
    bulk = pulp.LpProblem("bulk", pulp.LpMaximize)
    public = pulp.LpProblem("bulk", pulp.LpMaximize)
    upper = np.array([math.inf if u is None else u for u in uppers], dtype=np.float64)
    cols = add_columns(bulk, names, "integer" if integer else "continuous", upper)
    made = public.add_variable_matrix("x[%s]", range(n), lowBound=0)
    for var, up in zip(made, uppers, strict=True):
        var.upBound = up
        var.cat = pulp.LpInteger if integer else pulp.LpContinuous
    costs = data.draw(st.lists(COEF, min_size=n, max_size=n))
    set_objective(bulk, cols, np.array(costs))
    public.setObjective(pulp.lpSum_vars_coefs(zip(made, costs, strict=True)))
    for r in range(data.draw(st.integers(0, 5))):
        members = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        coefs = data.draw(st.lists(COEF, min_size=len(members), max_size=len(members)))
        rhs = float(data.draw(st.integers(-10, 10)))
        kind: Sense = data.draw(st.sampled_from(["<=", ">=", "="]))
        add_row(bulk, f"row[{r}]", cols[members], np.array(coefs), kind, rhs)
        expr = pulp.lpSum_vars_coefs((made[k], c) for k, c in zip(members, coefs, strict=True))
        row = expr <= rhs if kind == "<=" else expr >= rhs if kind == ">=" else expr == rhs
        public.addConstraint(row, f"row[{r}]")
    assert names == [v.name for v in made]
    assert read_back(bulk, public_row_names=True) == read_back(public)


@pytest.mark.parametrize("rows_per_piece", [1, 2, 7])
def test_the_export_read_in_pieces_of_rows_is_the_public_hand_over(
    rows_per_piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terms are read a few rows at a time: pieces of any size give the same matrix."""
    import solver.pulp_bulk

    monkeypatch.setattr(solver.pulp_bulk, "_EXPORT_ROWS", rows_per_piece)
    problem = parse_problem(random_problem_data(3, milp=True, bids=25))
    assert_same_as_public(build_model(problem, "scenarios").lp)


def test_a_variable_map_finds_each_id_s_variable_and_iterates_in_order() -> None:
    from solver.pulp_bulk import VariableMap

    lp = pulp.LpProblem("map", pulp.LpMaximize)
    cols = add_columns(lp, ["x[b]", "x[a]", "x[c]"], "continuous", np.array([1.0, 2.0, 3.0]))
    mapped = VariableMap(lp, ["b", "a", "c"], cols)
    assert list(mapped) == ["b", "a", "c"]
    assert len(mapped) == 3
    assert [mapped[k].name for k in ("a", "b", "c")] == ["x[a]", "x[b]", "x[c]"]
    assert mapped["c"].upBound == 3.0
    assert "d" not in mapped
    with pytest.raises(KeyError):
        mapped["d"]
