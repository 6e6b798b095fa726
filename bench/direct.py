"""The plain form of SPEC 3 handed to HiGHS directly as sparse matrices: the benchmark's limit.

This is what a modeler cannot beat: no per-variable Python object, every column and row
built by numpy in bulk, the matrix passed to `highspy` in one call. It serves twice:

- as the benchmark baseline (`python -m bench.direct PROBLEM.json`), a whole process that
  reads the problem file and solves the model SPEC 3 states first (`y_ik` per scenario);
- as an independent check of the optimum: it shares no code with `solver.model` or
  `solver.pricing`, and `linprog_form` gives the same matrices to scipy's `linprog`.

It reads the exchange format as valid (run `parse_problem` first where that matters):
the baseline measures building and solving, not validation.

Columns, in order: `x_b` per bid, `X_i` per item, `y_ik` per item and scenario, then
`z_b` for bids with a minimum lot or a setup cost. Rows, in SPEC 3 order: item totals
`X_i - sum x_b = 0`; sold units `y_ik - X_i <= 0` (with `y_ik <= d_ik` as a bound); the
capacity share per factory `g_f <= sum x_b <= floor(alpha_f capacity_f - committed_f)`
(at least 0; units are whole, so the floor is the same rule); the item share
`x_b - beta_i X_i <= 0`; the budget; and for bids with a binary `x_b - q_b z_b <= 0` and
`x_b - l_b z_b >= 0`. `X_i >= minfill_i` is a bound.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from solver.problem import Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
INF = math.inf


@dataclass(frozen=True)
class PlainModel:
    """The plain form as arrays: maximise cost @ v subject to row bounds, column bounds.

    The matrix is column-wise (CSC): column j's entries are index[start[j]:start[j+1]].
    """

    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    start: npt.NDArray[np.int32]
    index: npt.NDArray[np.int32]
    value: FloatArray
    integer: npt.NDArray[np.int32]
    """1 for a binary column, 0 otherwise."""
    bid_ids: list[str]
    n_bids: int

    @property
    def has_binaries(self) -> bool:
        """True where the plain form has binary columns (a MILP)."""
        return bool(self.integer.any())


@dataclass(frozen=True)
class DirectSolution:
    """What HiGHS returned for the plain form."""

    status: str
    objective: float
    units: dict[str, float]
    """Units per bid id, as the solver left them (continuous)."""
    build_s: float
    solve_s: float


def build_plain_model(data: Mapping[str, Any] | Problem, *, relax: bool = False) -> PlainModel:
    """Build the plain form of SPEC 3 from a problem (parsed, or raw exchange-format data).

    With `relax`, binaries are continuous in [0, 1] (the LP relaxation).
    """
    raw: Mapping[str, Any] = data.canonical() if isinstance(data, Problem) else data
    rnd = raw["round"]
    margin = Fraction(Decimal(str(rnd.get("margin_floor", "0.10"))))
    default_share = rnd.get("capacity_share") or "0.20"
    budget = rnd.get("budget")

    factories = sorted(raw["factories"], key=lambda f: str(f["id"]))
    items = sorted(raw["items"], key=lambda i: str(i["id"]))
    bids = sorted(raw["bids"], key=lambda b: str(b["id"]))
    n_f, n_i, n_b = len(factories), len(items), len(bids)
    factory_index = {f["id"]: k for k, f in enumerate(factories)}
    item_index = {i["id"]: k for k, i in enumerate(items)}

    # Bids, money in whole cents (the format allows at most two decimals).
    b_factory = np.fromiter((factory_index[b["factory"]] for b in bids), np.int64, n_b)
    b_item = np.fromiter((item_index[b["item"]] for b in bids), np.int64, n_b)
    cost_c = _cents([b["unit_cost"] for b in bids])
    ask_c = _cents([b.get("ask_price") or 0 for b in bids])
    setup_c = _cents([b.get("setup_cost") or 0 for b in bids])
    capacity = np.array([b["capacity"] for b in bids], dtype=np.float64)
    lot = np.array([b.get("min_lot") or 0 for b in bids], dtype=np.float64)
    price = np.maximum(ask_c, _ceil_div_margin(cost_c, margin)) / 100.0
    fee = _ceil_div_margin(setup_c, margin) / 100.0

    # Items: unit value of a sale over a takeover, salvage, scenarios (ragged).
    retail = _cents([i["retail_price"] for i in items])
    handling = _cents([i["handling_cost"] for i in items])
    salvage = _cents([i["salvage_value"] for i in items])
    sale_gain = (retail - handling - salvage) / 100.0
    n_scen = np.array([len(i["demand"]) for i in items], dtype=np.int64)
    y_item = np.repeat(np.arange(n_i, dtype=np.int64), n_scen)
    demand = np.array([s["units"] for i in items for s in i["demand"]], dtype=np.float64)
    prob = np.array([float(s["probability"]) for i in items for s in i["demand"]])
    min_fill = np.array([i.get("min_fill") or 0 for i in items], dtype=np.float64)
    beta = np.array([float(i.get("max_factory_share") or 0) for i in items])
    n_y = len(demand)

    # Factories: capacity share cap and a new factory's guaranteed volume (SPEC 3).
    # Units are whole, so floor(alpha_f capacity_f - committed_f) is the same cap for any
    # whole allocation (computed exactly); a factory past its share gets nothing more.
    cap_share = np.array(
        [
            max(
                0,
                math.floor(
                    Decimal(str(f.get("capacity_share") or default_share)) * f["monthly_capacity"]
                    - (f.get("committed_units") or 0)
                ),
            )
            for f in factories
        ],
        dtype=np.float64,
    )
    bid_total = np.bincount(b_factory, weights=capacity, minlength=n_f)
    promised = np.array(
        [(f.get("guaranteed_units") or 0) if f.get("is_new") else 0 for f in factories],
        dtype=np.float64,
    )
    guarantee = np.maximum(0.0, np.minimum(np.minimum(promised, np.floor(cap_share)), bid_total))

    binary = (lot > 0) | (setup_c > 0)
    z_bid = np.flatnonzero(binary)
    n_z = len(z_bid)

    # Column layout.
    x0, big_x0, y0, z0 = 0, n_b, n_b + n_i, n_b + n_i + n_y
    n_col = z0 + n_z
    cost = np.concatenate([-price, salvage / 100.0, sale_gain[y_item] * prob, -fee[z_bid]])
    col_lower = np.concatenate([np.zeros(n_b), min_fill, np.zeros(n_y), np.zeros(n_z)])
    col_upper = np.concatenate([capacity, np.full(n_i, INF), demand, np.ones(n_z)])

    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    lower: list[FloatArray] = []
    upper: list[FloatArray] = []
    n_row = 0

    def add(r: IntArray, c: IntArray, v: FloatArray | float) -> None:
        rows.append(r)
        cols.append(c)
        vals.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape))

    # Item totals: X_i - sum of its x_b = 0.
    add(np.arange(n_i), big_x0 + np.arange(n_i), 1.0)
    add(b_item, x0 + np.arange(n_b), -1.0)
    lower.append(np.zeros(n_i))
    upper.append(np.zeros(n_i))
    n_row += n_i
    # Units sold per scenario: y_ik - X_i <= 0.
    add(n_row + np.arange(n_y), y0 + np.arange(n_y), 1.0)
    add(n_row + np.arange(n_y), big_x0 + y_item, -1.0)
    lower.append(np.full(n_y, -INF))
    upper.append(np.zeros(n_y))
    n_row += n_y
    # Capacity share and guarantee per factory: g_f <= sum x_b <= alpha_f cap_f - committed_f.
    add(n_row + b_factory, x0 + np.arange(n_b), 1.0)
    lower.append(guarantee)
    upper.append(cap_share)
    n_row += n_f
    # Item share: x_b - beta_i X_i <= 0.
    capped = np.flatnonzero(beta[b_item] > 0)
    if len(capped):
        k = np.arange(len(capped))
        add(n_row + k, x0 + capped, 1.0)
        add(n_row + k, big_x0 + b_item[capped], -beta[b_item[capped]])
        lower.append(np.full(len(capped), -INF))
        upper.append(np.zeros(len(capped)))
        n_row += len(capped)
    # Budget: sum p_b x_b + sum fee_b z_b <= budget.
    if budget is not None:
        add(np.full(n_b, n_row), x0 + np.arange(n_b), price)
        add(np.full(n_z, n_row), z0 + np.arange(n_z), fee[z_bid])
        lower.append(np.array([-INF]))
        upper.append(np.array([float(budget)]))
        n_row += 1
    # Binaries: x_b - q_b z_b <= 0 and x_b - l_b z_b >= 0.
    if n_z:
        k = np.arange(n_z)
        add(n_row + k, x0 + z_bid, 1.0)
        add(n_row + k, z0 + k, -capacity[z_bid])
        add(n_row + n_z + k, x0 + z_bid, 1.0)
        add(n_row + n_z + k, z0 + k, -lot[z_bid])
        lower.append(np.full(n_z, -INF))
        upper.append(np.zeros(n_z))
        lower.append(np.zeros(n_z))
        upper.append(np.full(n_z, INF))
        n_row += 2 * n_z

    row = np.concatenate(rows)
    col = np.concatenate(cols)
    val = np.concatenate(vals)
    order = np.argsort(col, kind="stable")
    start = np.zeros(n_col + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=n_col), out=start[1:])
    integer = np.zeros(n_col, dtype=np.int32)
    if not relax:
        integer[z0:] = 1
    return PlainModel(
        cost=cost,
        col_lower=col_lower,
        col_upper=col_upper,
        row_lower=np.concatenate(lower),
        row_upper=np.concatenate(upper),
        start=start.astype(np.int32),
        index=row[order].astype(np.int32),
        value=val[order],
        integer=integer,
        bid_ids=[str(b["id"]) for b in bids],
        n_bids=n_b,
    )


def _cents(values: Sequence[Any]) -> IntArray:
    """Money (numbers or decimal strings with at most 2 decimals) as whole cents."""
    return np.rint(np.asarray(values, dtype=np.float64) * 100.0).astype(np.int64)


def _ceil_div_margin(cents: IntArray, margin: Fraction) -> IntArray:
    """ceil(cents / (1 - m)) in exact integer arithmetic: the price floor, rounded up."""
    num, den = margin.numerator, margin.denominator
    keep = den - num  # 1 - m = keep / den
    if len(cents) == 0:
        return cents
    if int(cents.max()) * den < 2**62:
        return -((-cents * den) // keep)
    return np.array([-((-int(c) * den) // keep) for c in cents.tolist()], dtype=np.int64)


def solve_plain(
    model: PlainModel, *, time_limit: float = 600.0, mip_gap: float = 1e-3
) -> tuple[str, float, FloatArray]:
    """Solve the plain form with HiGHS: one thread, fixed seed, no output."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    n_col, n_row = len(model.cost), len(model.row_lower)
    h.passModel(
        n_col,
        n_row,
        len(model.value),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        model.cost,
        _finite(model.col_lower),
        _finite(model.col_upper),
        _finite(model.row_lower),
        _finite(model.row_upper),
        model.start,
        model.index,
        model.value,
        model.integer,
    )
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return status, math.nan, np.zeros(n_col)
    objective = float(h.getInfo().objective_function_value)
    return status, objective, np.asarray(h.getSolution().col_value, dtype=np.float64)


def _finite(values: FloatArray) -> FloatArray:
    # HiGHS spells infinity kHighsInf; numpy's inf is the same double, but be explicit.
    return np.clip(values, -highspy.kHighsInf, highspy.kHighsInf)


def solve_direct(
    data: Mapping[str, Any] | Problem, *, relax: bool = False, time_limit: float = 600.0
) -> DirectSolution:
    """Build the plain form and solve it with HiGHS; the optimum and units per bid."""
    started = time.perf_counter()
    model = build_plain_model(data, relax=relax)
    built = time.perf_counter()
    raw_round = data.round.mip_gap if isinstance(data, Problem) else data["round"].get("mip_gap")
    gap = float(raw_round) if raw_round is not None else 1e-3
    status, objective, values = solve_plain(model, time_limit=time_limit, mip_gap=gap)
    solved = time.perf_counter()
    units = dict(zip(model.bid_ids, values[: model.n_bids].tolist(), strict=True))
    return DirectSolution(
        status=status,
        objective=objective,
        units=units,
        build_s=built - started,
        solve_s=solved - built,
    )


def linprog_form(model: PlainModel) -> dict[str, Any]:
    """The same plain form as keyword arguments of scipy.optimize.linprog (which minimises).

    Ranged rows become one or two `<=` rows; equal bounds become equality rows.
    """
    from scipy import sparse

    n_col = len(model.cost)
    matrix = sparse.csc_matrix(
        (model.value, model.index, model.start), shape=(len(model.row_lower), n_col)
    ).tocsr()
    lo, up = model.row_lower, model.row_upper
    equal = np.flatnonzero(lo == up)
    has_up = np.flatnonzero((lo != up) & np.isfinite(up))
    has_lo = np.flatnonzero((lo != up) & np.isfinite(lo))
    a_ub = sparse.vstack([matrix[has_up], -matrix[has_lo]]).tocsr()
    b_ub = np.concatenate([up[has_up], -lo[has_lo]])
    bounds = np.column_stack(
        [model.col_lower, np.where(np.isfinite(model.col_upper), model.col_upper, np.nan)]
    )
    return {
        "c": -model.cost,
        "A_ub": a_ub,
        "b_ub": b_ub,
        "A_eq": matrix[equal],
        "b_eq": lo[equal],
        "bounds": [(lo_, None if math.isnan(up_) else up_) for lo_, up_ in bounds.tolist()],
        "integrality": model.integer if model.has_binaries else None,
        "method": "highs",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark baseline: read a problem file, build the plain form, solve, print timings."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m bench.direct PROBLEM.json", file=sys.stderr)
        return 2
    started = time.perf_counter()
    data = json.loads(Path(args[0]).read_bytes())
    parsed = time.perf_counter()
    gap = float(data["round"].get("mip_gap") or 1e-3)
    model = build_plain_model(data)
    del data  # what a lean caller would do: the matrices are all the solver needs
    built = time.perf_counter()
    status, objective, _ = solve_plain(model, mip_gap=gap)
    solved = time.perf_counter()
    report = {
        "status": status,
        "objective": objective,
        "parse_s": parsed - started,
        "build_s": built - parsed,
        "solve_s": solved - built,
        "total_s": solved - started,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(report))
    return 0 if status == "Optimal" else 1


if __name__ == "__main__":
    sys.exit(main())
