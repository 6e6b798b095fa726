"""The allocation model of SPEC 3, built with PuLP 4 from a parsed Problem.

One builder per constraint family, called in SPEC order. Each indexes first (bids by
item, bids by factory, computed once), then writes every row as one bulk expression:
variable ids and coefficients as numpy arrays handed to PuLP in one call
(solver/pulp_bulk.py), so no per-term Python object is made and no row scans all bids.
The PuLP problem is the model: the solver is given what it holds (AllocationModel.arrays).
Rows are named by family and id (`cap_share[F001]`) and recorded in
`AllocationModel.row_meta`, so duals map straight back to the business. Bids, items and
factories come in canonical order (sorted by id): the model, and so the allocation, does
not depend on the order of the input lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress
from typing import Literal

import numpy as np
import numpy.typing as npt
import pulp

from solver.pricing import bid_prices
from solver.problem import Problem, ProblemItem
from solver.pulp_bulk import (
    ModelArrays,
    Sense,
    VariableLists,
    VariableMap,
    add_columns,
    add_row,
    empty,
    export,
    num_columns,
    set_objective,
)

Formulation = Literal["segments", "scenarios"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SNAP = 1e-6
"""Values within this of a whole number are that number (SPEC 3 "Whole units")."""
DUAL_TOL = 1e-7
"""A reduced cost or row dual smaller than this is zero: HiGHS's dual feasibility tolerance."""
SHARE_DECIMALS = 9
"""A share has at most 9 decimals (problem.py)."""


def share_scale(share: Decimal) -> int:
    """The least power of ten that makes the share a whole number."""
    exponent = share.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    decimals: int = min(max(0, -exponent), SHARE_DECIMALS)
    return int(10**decimals)


"""Item shares have at most 9 decimals (SPEC 2): times this they are whole numbers."""
ELASTIC_FAMILIES = ("min_fill", "item_share", "budget", "guarantee")
"""Families that get a violation slack in the elastic (infeasibility) model: what a round
asks for. A factory's capacity share, a bid's capacity and its lot are what it offers, and
stay hard: the rule reported broken is the ask they make impossible (SPEC 3)."""

_LE: Sense = "<="
_GE: Sense = ">="
_EQ: Sense = "="


@dataclass
class AllocationModel:
    """A built model and the maps from business ids to its columns and rows."""

    problem: Problem
    lp: pulp.LpProblem
    formulation: Formulation
    elastic: bool
    prices: list[Decimal]
    fees: list[Decimal]
    price: FloatArray
    fee: FloatArray
    capacity: FloatArray
    min_lot: FloatArray
    binary: npt.NDArray[np.bool_]
    bid_item: IntArray
    """Per bid, its item's position in problem.items; bid_factory likewise."""
    bid_factory: IntArray
    bids_by_item: dict[str, IntArray]
    bids_by_factory: dict[str, IntArray]
    room: dict[str, int]
    guarantee: dict[str, int]
    x: Mapping[str, pulp.LpVariable] = field(default_factory=dict)
    z: Mapping[str, pulp.LpVariable] = field(default_factory=dict)
    total: Mapping[str, pulp.LpVariable] = field(default_factory=dict)
    sales: Mapping[str, list[pulp.LpVariable]] = field(default_factory=dict)
    sales_col: dict[str, IntArray] = field(default_factory=dict)
    _segments: dict[str, list[tuple[Decimal, Decimal]]] = field(default_factory=dict)
    slack: dict[str, pulp.LpVariable] = field(default_factory=dict)
    x_col: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    z_col: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    total_col: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_meta: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    n_cols: int = 0
    keep_arrays: bool = False
    """Keep the arrays handed to the solver after the PuLP problem is let go: a round
    explained by re-solves (solver/resolve.py) builds its own model from them."""
    _kept: ModelArrays | None = None
    row_scale: dict[int, float] = field(default_factory=dict)
    """Rows written scaled to integer coefficients (item share by the least power of ten
    that makes its share whole, budget by 100):
    row index -> factor. A row dual divided by nothing else is per scaled unit; multiply
    by the factor to get it per unit of the rule as written in SPEC 3."""

    @property
    def num_rows(self) -> int:
        """Number of rows, in the order the solver sees them."""
        return len(self.row_meta)

    def release_solver_model(self) -> None:
        """Let go of the PuLP problem's rows and columns once the solver holds them (the
        HiGHS engine does so before its simplex runs); ids, prices and maps stay."""
        empty(self.lp)
        self.x = self.z = self.total = {}
        self.sales = {}

    def segments(self, item: ProblemItem) -> list[tuple[Decimal, Decimal]]:
        """demand_segments(item), computed once per item."""
        found = self._segments.get(item.id)
        if found is None:
            found = self._segments[item.id] = demand_segments(item)
        return found

    def arrays(self) -> ModelArrays:
        """The model as sparse arrays (row-wise), read from the PuLP problem: what the
        solver is given (solver/pulp_bulk.py); once the PuLP problem is let go, the arrays
        kept where keep_arrays asked for them."""
        if self._kept is not None:
            return self._kept
        arrays = export(self.lp)
        if self.keep_arrays:
            self._kept = arrays
        return arrays


def build_model(
    problem: Problem, formulation: Formulation = "segments", *, elastic: bool = False
) -> AllocationModel:
    """Build SPEC 3's model; with `elastic`, soft rules get slacks and violation is minimised.

    `formulation="segments"` writes E[min(X_i, D_i)] with one row per item (segment
    variables between sorted distinct demands); `"scenarios"` writes it plainly with one
    variable and one row per scenario. Both have the same optimum (tests prove it).
    """
    if formulation not in ("segments", "scenarios"):
        raise ValueError(f"unknown formulation {formulation!r}")
    prices, fees = bid_prices(problem)
    columns = problem.bid_columns
    positions = problem.bid_positions
    n = len(problem.bids)
    min_lot = np.array(columns.min_lot, dtype=np.float64)
    model = AllocationModel(
        problem=problem,
        lp=pulp.LpProblem("allocation", pulp.LpMinimize if elastic else pulp.LpMaximize),
        formulation=formulation,
        elastic=elastic,
        prices=prices,
        fees=fees,
        price=np.fromiter(map(float, prices), np.float64, n),
        fee=np.fromiter(map(float, fees), np.float64, n),
        capacity=np.array(columns.capacity, dtype=np.float64),
        min_lot=min_lot,
        # a lot or a setup cost (never negative: non-zero is positive)
        binary=(min_lot > 0) | np.fromiter(map(bool, columns.setup_cost), np.bool_, n),
        bid_item=positions.item,
        bid_factory=positions.factory,
        bids_by_item=_group(positions.item, [i.id for i in problem.items]),
        bids_by_factory=_group(positions.factory, [f.id for f in problem.factories]),
        room={},
        guarantee={},
    )
    _add_columns(model)
    # SPEC 3 "Maximise expected platform profit", then "Subject to", in the SPEC's order.
    _objective(model)
    _expected_sales(model)
    _item_totals(model)
    _capacity_share(model)
    _bid_capacity(model)
    _minimum_lot(model)
    _minimum_fill(model)
    _item_share(model)
    _budget(model)
    _new_factory_guarantee(model)
    if elastic:
        _elastic_objective(model)
    model.n_cols = num_columns(model.lp)
    return model


def _group(keys: IntArray, names: list[str]) -> dict[str, IntArray]:
    """Positions of the bids under each key, by one stable sort (no scan per key)."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(len(names) + 1))
    return {name: order[bounds[k] : bounds[k + 1]] for k, name in enumerate(names)}


def _add_row(
    model: AllocationModel,
    family: str,
    key: str,
    cols: IntArray,
    coefs: FloatArray,
    sense: Sense,
    rhs: float,
) -> int:
    """Add one row named `family[key]`; returns its index (its solver row)."""
    name = f"{family}[{key}]"
    if model.elastic and family in ELASTIC_FAMILIES:
        slack = model.lp.add_variable(f"slack_{name}", lowBound=0)
        model.slack[name] = slack
        model.n_cols = slack.id + 1
        # a >= row is relaxed upwards by +s, a <= row downwards by -s
        cols = np.append(cols, slack.id)
        coefs = np.append(coefs, 1.0 if sense == _GE else -1.0)
    index = add_row(model.lp, name, cols, coefs, sense, rhs)
    if index != len(model.row_meta):  # pragma: no cover - PuLP numbers rows in order of addition
        raise RuntimeError("row numbering out of step with PuLP")
    model.row_meta.append((family, key))
    model.rows[name] = index
    return index


def _add_columns(model: AllocationModel) -> None:
    """x_b in [0, q_b] (bid capacity as a bound), z_b binary where a lot or setup exists, X_i.

    Each kind of variable is made in one batch; PuLP numbers them consecutively, so their
    ids are ranges, and the business-id -> variable maps wrap a variable only when asked.
    """
    problem = model.problem
    # the elastic model is solved in whole units (SPEC 3 "Infeasible rounds")
    units: Literal["continuous", "integer"] = "integer" if model.elastic else "continuous"
    bid_ids = problem.bid_columns.id
    model.x_col = add_columns(model.lp, [f"x[{b}]" for b in bid_ids], units, model.capacity)
    model.x = VariableMap(model.lp, bid_ids, model.x_col)
    binary_ids = list(compress(bid_ids, model.binary.tolist()))
    z = add_columns(model.lp, [f"z[{b}]" for b in binary_ids], "integer", np.ones(len(binary_ids)))
    model.z = VariableMap(model.lp, binary_ids, z)
    model.z_col = np.full(len(problem.bids), -1, dtype=np.int64)
    model.z_col[model.binary] = z
    item_ids = [i.id for i in problem.items]
    model.total_col = add_columns(model.lp, [f"X[{i}]" for i in item_ids], "continuous", None)
    model.total = VariableMap(model.lp, item_ids, model.total_col)
    names: list[str] = []
    upper: list[float] = []
    counts: list[int] = []
    for item in problem.items:
        bounds = _sales_bounds(model, item)
        letter = "u" if model.formulation == "segments" else "y"
        names.extend(f"{letter}[{item.id},{k}]" for k in range(len(bounds)))
        upper.extend(bounds)
        counts.append(len(bounds))
    cols = add_columns(model.lp, names, "continuous", np.array(upper, dtype=np.float64))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    model.sales_col = {
        item.id: cols[offsets[k] : offsets[k + 1]] for k, item in enumerate(problem.items)
    }
    model.sales = VariableLists(model.lp, model.sales_col)


def _sales_bounds(model: AllocationModel, item: ProblemItem) -> list[float]:
    """Upper bounds of an item's sales variables: segment lengths (last one unbounded)."""
    if model.formulation == "segments":
        ends = [float(upper) for upper, _ in model.segments(item)]
        return [b - a for a, b in zip([0.0, *ends], ends, strict=False)] + [math.inf]
    return [float(s.units) for s in item.demand]


def demand_segments(item: ProblemItem) -> list[tuple[Decimal, Decimal]]:
    """(upper end, P(D >= upper end)) per segment of sorted distinct positive demands.

    On the segment (d_{k-1}, d_k], d/dX E[min(X, D)] = P(D > X) = P(D >= d_k): the slope
    of expected sales there. The unbounded segment beyond the largest demand has slope 0.
    """
    mass: dict[int, Decimal] = {}
    for s in item.demand:
        if s.units > 0:
            mass[s.units] = mass.get(s.units, Decimal(0)) + s.probability
    tail = sum(mass.values(), Decimal(0))  # P(D >= smallest positive demand)
    out = []
    for units in sorted(mass):
        out.append((Decimal(units), tail))
        tail -= mass[units]
    return out


def sales_coefficients(model: AllocationModel, item: ProblemItem) -> FloatArray:
    """Objective coefficients of an item's sales variables: (r - h - s) times a probability."""
    margin = item.retail_price - item.handling_cost - item.salvage_value
    if model.formulation == "segments":
        slopes = [margin * p for _, p in model.segments(item)] + [Decimal(0)]
    else:
        slopes = [margin * s.probability for s in item.demand]
    return np.array([float(v) for v in slopes], dtype=np.float64)


def _objective(model: AllocationModel) -> None:
    """SPEC 3: max sum_i [(r-h-s) E[min(X_i, D_i)] + s_i X_i] - sum p_b x_b - sum fee_b z_b."""
    if model.elastic:
        return
    problem = model.problem
    sales_coefs = [sales_coefficients(model, item) for item in problem.items]
    salvage = np.array([float(i.salvage_value) for i in problem.items], dtype=np.float64)
    binary = model.binary
    cols = np.concatenate(
        [
            model.x_col,
            model.z_col[binary],
            model.total_col,
            *(model.sales_col[item.id] for item in problem.items),
        ]
    )
    coefs = np.concatenate([-model.price, -model.fee[binary], salvage, *sales_coefs])
    _set_objective(model, cols, np.ascontiguousarray(coefs, dtype=np.float64))


def _set_objective(model: AllocationModel, cols: IntArray, coefs: FloatArray) -> None:
    """The objective as one bulk expression."""
    set_objective(model.lp, cols, coefs)


def _expected_sales(model: AllocationModel) -> None:
    """SPEC 3 E[min(X_i, D_i)]: X_i = sum of segments, or y_ik <= X_i per scenario."""
    items = model.problem.items
    if model.formulation == "segments":
        sales = [model.sales_col[item.id] for item in items]
        cols, coefs, starts = _headed_rows(model.total_col, sales)
        for k, item in enumerate(items):
            a, b = starts[k], starts[k + 1]
            _add_row(model, "item_sales", item.id, cols[a:b], coefs[a:b], _EQ, 0.0)
        return
    for item_pos, item in enumerate(items):
        total = int(model.total_col[item_pos])
        for k, var in enumerate(model.sales_col[item.id].tolist()):
            cols = np.array([var, total], dtype=np.int64)
            _add_row(model, "item_sales", f"{item.id},{k}", cols, np.array([1.0, -1.0]), _LE, 0.0)


def _item_totals(model: AllocationModel) -> None:
    """SPEC 3 "X_i the total units of item i": X_i - sum of its bids' x_b = 0."""
    items = model.problem.items
    members = [model.x_col[model.bids_by_item[item.id]] for item in items]
    cols, coefs, starts = _headed_rows(model.total_col, members)
    for k, item in enumerate(items):
        a, b = starts[k], starts[k + 1]
        _add_row(model, "item_total", item.id, cols[a:b], coefs[a:b], _EQ, 0.0)


def _headed_rows(heads: IntArray, groups: list[IntArray]) -> tuple[IntArray, FloatArray, list[int]]:
    """Rows of the form heads[k] - sum(groups[k]), all in two arrays: row k's columns and
    coefficients are cols[starts[k]:starts[k + 1]] (one numpy call for all rows, not
    four per row)."""
    sizes = np.fromiter(map(len, groups), np.int64, len(groups)) + 1
    bounds = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    total = int(bounds[-1])
    cols = np.empty(total, dtype=np.int64)
    coefs = np.full(total, -1.0)
    head_at = bounds[:-1]
    cols[head_at] = heads
    coefs[head_at] = 1.0
    rest = np.ones(total, dtype=np.bool_)
    rest[head_at] = False
    if groups:
        cols[rest] = np.concatenate(groups)
    return cols, coefs, bounds.tolist()


def capacity_room(problem: Problem) -> dict[str, int]:
    """floor(alpha_f * capacity_f - committed_f), at least 0: the units a factory may still take.

    Units are whole, so the floor loses nothing; a factory already past its share in this
    period gets no more units rather than making the round infeasible.
    """
    room = {}
    for f in problem.factories:
        limit = problem.factory_share(f) * f.monthly_capacity - f.committed_units
        room[f.id] = max(0, math.floor(limit))
    return room


def _capacity_share(model: AllocationModel) -> None:
    """SPEC 3 capacity share: sum of factory f's x_b <= alpha_f * capacity_f - committed_f."""
    model.room = capacity_room(model.problem)
    for factory in model.problem.factories:
        members = model.bids_by_factory[factory.id]
        if len(members) == 0:
            continue
        _add_row(
            model,
            "cap_share",
            factory.id,
            model.x_col[members],
            np.ones(len(members)),
            _LE,
            float(model.room[factory.id]),
        )


def _bid_capacity(model: AllocationModel) -> None:
    """SPEC 3 bid capacity: x_b <= q_b z_b where z_b exists (elsewhere x_b's upper bound)."""
    for k in np.flatnonzero(model.binary):
        bid = model.problem.bids[k]
        cols = np.array([model.x_col[k], model.z_col[k]], dtype=np.int64)
        _add_row(model, "bid_cap", bid.id, cols, np.array([1.0, -float(bid.capacity)]), _LE, 0.0)


def _minimum_lot(model: AllocationModel) -> None:
    """SPEC 3 minimum lot: x_b >= l_b z_b."""
    for k in np.flatnonzero(model.min_lot > 0):
        bid = model.problem.bids[k]
        cols = np.array([model.x_col[k], model.z_col[k]], dtype=np.int64)
        _add_row(model, "min_lot", bid.id, cols, np.array([1.0, -float(bid.min_lot)]), _GE, 0.0)


def _minimum_fill(model: AllocationModel) -> None:
    """SPEC 3 optional: X_i >= minfill_i."""
    for k, item in enumerate(model.problem.items):
        if item.min_fill <= 0:
            continue
        cols = np.array([model.total_col[k]], dtype=np.int64)
        _add_row(model, "min_fill", item.id, cols, np.ones(1), _GE, float(item.min_fill))


def _item_share(model: AllocationModel) -> None:
    """SPEC 3 optional: x_b <= beta_i X_i for every bid on an item with a cap beta."""
    for i, item in enumerate(model.problem.items):
        if item.max_factory_share is None or item.max_factory_share >= 1:
            continue
        # beta has at most 9 decimals: 10^d x_b - (10^d beta) X_i <= 0, d its decimals,
        # has integer coefficients, so a solver's feasibility tolerance cannot admit a
        # violation. d is no more than beta needs: with 10^9 for a beta of 0.6 the row's
        # dual fell a billion times under HiGHS's dual tolerance and the simplex stopped
        # short of the optimum (review: 624.30 for 624.35).
        # (The elastic model keeps the unscaled row: its slacks are weighed in units.)
        scale = 1 if model.elastic else share_scale(item.max_factory_share)
        scaled_beta = item.max_factory_share * scale
        coefs = np.array([float(scale), -float(scaled_beta)])
        total = model.total_col[i]
        for k in model.bids_by_item[item.id]:
            cols = np.array([model.x_col[k], total], dtype=np.int64)
            bid_id = model.problem.bids[k].id
            row = _add_row(model, "item_share", bid_id, cols, coefs, _LE, 0.0)
            if scale != 1:
                model.row_scale[row] = float(scale)


def _budget(model: AllocationModel) -> None:
    """SPEC 3 optional: sum p_b x_b + sum fee_b z_b <= budget."""
    budget = model.problem.round.budget
    if budget is None or len(model.problem.bids) == 0:
        return
    binary = model.binary
    cols = np.concatenate([model.x_col, model.z_col[binary]])
    coefs = np.concatenate([model.price, model.fee[binary]])
    if model.elastic:
        _add_row(model, "budget", model.problem.round.id, cols, coefs, _LE, float(budget))
        return
    # In cents every coefficient and the bound are whole numbers (money has 2 decimals):
    # no feasibility tolerance can let the spend pass the budget.
    cents = np.round(coefs * 100.0)
    row = _add_row(model, "budget", model.problem.round.id, cols, cents, _LE, float(budget * 100))
    model.row_scale[row] = 100.0


def guaranteed_units(
    problem: Problem, room: dict[str, int], supply: dict[str, int]
) -> dict[str, int]:
    """g_f = min(guaranteed_f, floor(alpha_f capacity_f - committed_f), sum of f's q_b)."""
    return {
        f.id: min(f.guaranteed_units, room[f.id], supply.get(f.id, 0))
        for f in problem.factories
        if f.is_new and f.guaranteed_units > 0
    }


def _new_factory_guarantee(model: AllocationModel) -> None:
    """SPEC 3 optional, hard: sum of new factory f's x_b >= g_f."""
    supply = {f: int(model.capacity[members].sum()) for f, members in model.bids_by_factory.items()}
    model.guarantee = guaranteed_units(model.problem, model.room, supply)
    for factory_id, g in model.guarantee.items():
        members = model.bids_by_factory[factory_id]
        if g <= 0 or len(members) == 0:
            continue
        _add_row(
            model,
            "guarantee",
            factory_id,
            model.x_col[members],
            np.ones(len(members)),
            _GE,
            float(g),
        )


def _elastic_objective(model: AllocationModel) -> None:
    """Minimise total violation: units for unit rules, budget money over the top price."""
    if not model.slack:
        return
    top_price = max(1.0, float(model.price.max(initial=1.0)))
    cols = np.array([v.id for v in model.slack.values()], dtype=np.int64)
    coefs = np.array(
        [1.0 / top_price if name.startswith("budget[") else 1.0 for name in model.slack],
        dtype=np.float64,
    )
    _set_objective(model, cols, coefs)
