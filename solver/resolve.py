"""Re-solves for `cost_to_win_more` (SPEC 3 "Explanations"): one HiGHS model kept alive.

The threshold of bid k is the highest cent c at which, its unit cost set to c and all else
equal, the bid gets more whole units than the u it was published with. Its units only
rise as its price falls (the tie rule is a fixed weight per unit, so the exchange argument
holds), so the threshold is found on one bracket of cents, each cent decided by two
re-solves of the whole-unit problem at gap 0, bid k priced at p(c):

- V+ : the best profit with x_k >= u + 1;  V- : the best profit with x_k <= u.

V+ > V- (exactly, in Decimal) means every optimum gives k more units; V+ < V- none;
V+ = V- is a tie, decided by the tie rule: the solve's own passes re-run on the round with
k's cost set to c (`Allocate`). The bracket starts at [0.00, cost - 0.01] and is narrowed
by Newton steps (V+ - V- falls by at least x_k+ - x_k- per unit of price) and bisection;
the answer is proven by its two ends: c wins more, c + 0.01 does not.

Each re-solve changes one column's cost and bounds (and its budget coefficient) on the
same highspy model through its public API and starts from the last basis; the LP answer
is taken where its units and binaries are whole (then it is the whole-unit optimum), the
MILP at gap 0 otherwise. Every profit compared is recomputed exactly from the whole units.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt

from solver.model import AllocationModel
from solver.pricing import ask_sets_price, floor_price, floor_price_cents
from solver.problem import Problem
from solver.values import CENT
from solver.whole import tie_weights

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Allocate = Callable[[Problem], "IntArray | None"]
"""The solve's passes up to whole units (tie rule and zero-profit rule kept), at gap 0, on
a changed round: its whole units, or None where it has no allocation."""

EXPLAIN_UP_TO = 1000
"""Bids of an LP round explained by re-solves with the solve (SUPPLYBID_EXPLAIN_UP_TO)."""
EXPLAIN_MILP_UP_TO = 10
"""Bids of a round with lots or setup costs likewise (SUPPLYBID_EXPLAIN_MILP_UP_TO): its
re-solves are MILPs at gap 0 without presolve (see _solve), measured 4 s at 10 bids and
33 s at 20 (loaded 2-core machine)."""


def explain_limit(*, mip: bool) -> int:
    """The most bids a round may have to be explained with its solve (README: measured)."""
    name, default = (
        ("SUPPLYBID_EXPLAIN_MILP_UP_TO", EXPLAIN_MILP_UP_TO)
        if mip
        else ("SUPPLYBID_EXPLAIN_UP_TO", EXPLAIN_UP_TO)
    )
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


WHOLE = 1e-9
WEIGHT_TOL = 1e-9
"""Tie weights differ by more than 0.5 / n per unit moved (whole.tie_weights)."""
MAX_PROBES = 200


@dataclass(frozen=True)
class Probe:
    """One cent decided: the price it gives, whether the bid wins more there, and the
    two optima's profits and the bid's units in them (None: no allocation gives more)."""

    cost: Decimal
    price: Decimal
    wins: bool | None
    """None: a tie of profits at this price, for the tie rule to decide."""
    plus: tuple[Decimal, int] | None
    minus: tuple[Decimal, int] | None
    plus_units: IntArray | None = None


class Resolver:
    """The round's whole-unit problem in one highspy model, re-solved one change at a time."""

    def __init__(self, model: AllocationModel, units: IntArray, allocate: Allocate) -> None:
        self.model = model
        self.problem = model.problem
        self.units = units
        self.allocate = allocate
        a = model.arrays()
        inf = highspy.kHighsInf
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        for name, value in (
            ("output_flag", False),
            ("threads", 1),
            ("random_seed", 0),
            ("mip_rel_gap", 0.0),
            ("mip_abs_gap", 0.0),
        ):
            h.setOptionValue(name, value)
        sense = highspy.ObjSense.kMaximize if a.maximise else highspy.ObjSense.kMinimize
        self.n = len(a.cost)
        h.passModel(
            self.n,
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
            np.full(self.n, int(highspy.HighsVarType.kContinuous), dtype=np.int32),
        )
        self.h = h
        self.cost = a.cost.copy()
        self.lower = a.lower.copy()
        self.upper = np.clip(a.upper, -inf, inf)
        self.integer = np.zeros(self.n, dtype=np.bool_)
        self.integer[model.x_col] = True
        self.integer[model.z_col[model.binary]] = True
        self.whole_cols = np.flatnonzero(self.integer).astype(np.int32)
        self.budget_row = model.rows.get(f"budget[{self.problem.round.id}]")
        self.solves = 0
        self.weights = tie_weights(len(units))
        self._last_plus: IntArray | None = None
        self._income: dict[tuple[int, int], Decimal] = {}
        self.published_value = self._value(units, 0, model.prices[0]) if len(units) else Decimal(0)
        best = self._solve() if len(units) else None
        self.published_optimal = best is not None and self.published_value >= self._value(
            best, 0, model.prices[0]
        )

    # one re-solve -------------------------------------------------------------------

    def _solve(self) -> IntArray | None:
        """The whole-unit optimum of the model as it stands (None: infeasible)."""
        h = self.h
        self.solves += 1
        h.setOptionValue("presolve", "off")
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            if status in (
                highspy.HighsModelStatus.kInfeasible,
                highspy.HighsModelStatus.kUnboundedOrInfeasible,
            ):
                return None
            h.clearSolver()
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
        values = np.array(h.getSolution().col_value, dtype=np.float64)
        whole = values[self.whole_cols]
        if np.all(np.abs(whole - np.round(whole)) <= WHOLE):
            return np.round(values[self.model.x_col]).astype(np.int64)
        vt = highspy.HighsVarType
        cols = self.whole_cols
        h.changeColsIntegrality(len(cols), cols, np.full(len(cols), int(vt.kInteger), np.uint8))
        # presolve off: HiGHS 1.15.1's MIP presolve was seen to return a worse optimum as
        # "optimal" on a 4-bid round with a setup cost and an item share (59.08 for 57.55)
        h.run()
        found: IntArray | None = None
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            values = np.array(h.getSolution().col_value, dtype=np.float64)
            found = np.round(values[self.model.x_col]).astype(np.int64)
        h.changeColsIntegrality(len(cols), cols, np.full(len(cols), int(vt.kContinuous), np.uint8))
        return found

    def _value(self, units: IntArray, k: int, price: Decimal) -> Decimal:
        """The exact profit of whole units with bid k priced at `price` (whole.py's
        expected_profit, each item's income kept by its total)."""
        model = self.model
        totals = np.bincount(model.bid_item, weights=units, minlength=len(self.problem.items))
        income = Decimal(0)
        for i in np.flatnonzero(totals).tolist():
            key = (i, int(totals[i]))
            found = self._income.get(key)
            if found is None:
                found = self._income[key] = self._item_income(i, key[1])
            income += found
        spend = Decimal(0)
        prices, fees = model.prices, model.fees
        for j in np.flatnonzero(units > 0).tolist():
            spend += (price if j == k else prices[j]) * int(units[j]) + fees[j]
        return income - spend

    def _item_income(self, i: int, total: int) -> Decimal:
        item = self.problem.items[i]
        sold = sum((s.probability * min(total, s.units) for s in item.demand), Decimal(0))
        margin = item.retail_price - item.handling_cost - item.salvage_value
        return margin * sold + item.salvage_value * total

    def _side(self, k: int, lo: float, hi: float, price: Decimal) -> tuple[Decimal, int] | None:
        col = int(self.model.x_col[k])
        self.h.changeColBounds(col, lo, hi)
        units = self._solve()
        self.h.changeColBounds(col, float(self.lower[col]), float(self.upper[col]))
        if lo > 0:
            self._last_plus = units
        if units is None:
            return None
        return self._value(units, k, price), int(units[k])

    def price_at(self, k: int, cost: Decimal) -> Decimal:
        """p(c): the bid's supply price at unit cost c (ask and cent rounding included)."""
        bid = self.problem.bids[k]
        price = floor_price(cost, self.problem.round.margin_floor)
        if bid.ask_price is not None and bid.ask_price > price:
            return bid.ask_price
        return price

    def probe(self, k: int, cost: Decimal) -> Probe:
        """Does bid k, at unit cost `cost`, get more whole units than published? (None:
        the best profits with more and with no more units are equal: a tie.)"""
        u = int(self.units[k])
        price = self.price_at(k, cost)
        col = int(self.model.x_col[k])
        self.h.changeColCost(col, -float(price))
        if self.budget_row is not None:
            self.h.changeCoeff(self.budget_row, col, float(price * 100))
        try:
            plus = self._side(k, float(u + 1), float(self.upper[col]), price)
            minus: tuple[Decimal, int] | None = None
            if plus is not None:
                minus = self._no_more(k, u, price)
        finally:
            self.h.changeColCost(col, float(self.cost[col]))
            if self.budget_row is not None:
                self.h.changeCoeff(self.budget_row, col, float(self.model.prices[k] * 100))
        wins: bool | None
        if plus is None:
            wins = False
        elif minus is None or plus[0] > minus[0]:
            wins = True
        else:
            wins = None if plus[0] == minus[0] else False
        return Probe(cost, price, wins, plus, minus, self._last_plus)

    def _no_more(self, k: int, u: int, price: Decimal) -> tuple[Decimal, int] | None:
        """V-: the best profit with x_k <= u at this price. Where the published units are a
        whole-unit optimum and no budget prices the bid, no re-solve is needed: at a lower
        price no allocation with x_k <= u gains more than (p_k - price) u, and the
        published one gains exactly that."""
        if self.published_optimal and self.budget_row is None:
            return self.published_value + (self.model.prices[k] - price) * u, u
        return self._side(k, 0.0, float(u), price)

    def _tie_wins(self, k: int, probe: Probe) -> bool:
        """TIE_RULE at a tie of profits: the least id-weighted optimum gives k more units?

        Where no budget prices the bid and the published units are optimal, the optima with
        x_k <= u at a lower price are exactly the published round's optima with x_k = u,
        the least weighted of which is the published allocation; so k wins more where an
        optimum with x_k > u weighs less: the one the probe found, or else the least
        weighted (a MILP over the optima, the profit held by a row). Otherwise, or where
        that answer is not exactly optimal, the solve's own passes decide."""
        u = int(self.units[k])
        if probe.plus is None:
            return False
        # a round with binaries: the solve fixes them before its continuous tie pass, so
        # its ties are its passes' (not always the least weighted): asked of them alone
        if self.published_optimal and self.budget_row is None and not self.model.binary.any():
            published = float(self.weights @ self.units)
            if probe.plus_units is not None and float(self.weights @ probe.plus_units) < published:
                return True
            least = self._least_weight(k, probe)
            if least is not None:
                weight, units = least
                if weight >= published - WEIGHT_TOL:
                    return False
                if units is not None and self._value(units, k, probe.price) == probe.plus[0]:
                    return True  # a whole-unit optimum with more units that weighs less
        bids = list(self.problem.bids)
        cost = _highest_cost(probe.price, self.problem.round.margin_floor)
        bids[k] = bids[k].model_copy(update={"unit_cost": cost})
        terms = self.problem.round.model_copy(update={"mip_gap": Decimal(0)})
        units = self.allocate(self.problem.model_copy(update={"bids": tuple(bids), "round": terms}))
        return units is not None and int(units[k]) > u

    def _least_weight(self, k: int, probe: Probe) -> tuple[float, IntArray | None] | None:
        """A lower bound on the id-weight of the optima with x_k > u: the LP relaxation of
        the least weighted of them, the profit held by a row, and its units where they
        are whole (then it is that least weighted optimum). None: no answer."""
        assert probe.plus is not None
        value = probe.plus[0]
        h = self.h
        col = int(self.model.x_col[k])
        costs = self.cost.copy()
        costs[col] = -float(probe.price)
        cols = np.flatnonzero(costs).astype(np.int32)
        slack = 1e-12 * max(1.0, abs(float(value))) + 1e-6
        h.addRow(float(value) - slack, highspy.kHighsInf, len(cols), cols, costs[cols])
        tie = np.zeros(self.n)
        tie[self.model.x_col] = -self.weights
        every = np.arange(self.n, dtype=np.int32)
        h.changeColsCost(self.n, every, tie)
        h.changeColBounds(col, float(self.units[k] + 1), float(self.upper[col]))
        try:
            self.solves += 1
            h.run()
            least: tuple[float, IntArray | None] | None = None
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                values = np.array(h.getSolution().col_value, dtype=np.float64)
                whole = values[self.whole_cols]
                units = None
                if np.all(np.abs(whole - np.round(whole)) <= WHOLE):
                    units = np.round(values[self.model.x_col]).astype(np.int64)
                least = (-float(h.getInfo().objective_function_value), units)
        finally:
            h.changeColBounds(col, float(self.lower[col]), float(self.upper[col]))
            h.changeColsCost(self.n, every, self.cost)
            h.deleteRows(1, np.array([h.getNumRow() - 1], dtype=np.int32))
        return least

    # the threshold -------------------------------------------------------------------

    def threshold(self, k: int) -> Decimal | None:
        """SPEC 3 cost_to_win_more of bid k: the highest cent at which it wins more units;
        None where an ask sets its price, it has its full capacity, or 0.00 wins no more."""
        bid = self.problem.bids[k]
        m = self.problem.round.margin_floor
        if int(self.units[k]) >= bid.capacity or ask_sets_price(bid, m):
            return None
        top = bid.unit_cost - CENT
        if top < 0:
            return None
        low = self.probe(k, Decimal("0.00"))
        if low.wins is None:
            return self._at_tie(k, low)
        if not low.wins:
            return None
        high = self.probe(k, top)
        if high.wins is None:
            return self._at_tie(k, high)
        if high.wins:
            return top
        lo, hi = low, high
        for step in range(MAX_PROBES):
            if hi.cost - lo.cost <= CENT:
                break
            guess = _newton(lo if step % 2 == 0 else hi, m) if step % 3 != 2 else None
            middle = ((lo.cost + hi.cost) / 2).quantize(CENT, rounding=ROUND_FLOOR)
            cost = middle if guess is None else min(max(guess, lo.cost + CENT), hi.cost - CENT)
            probe = self.probe(k, cost)
            if probe.wins is None:
                return self._at_tie(k, probe)
            if probe.wins:
                lo = probe
            else:
                hi = probe
        return lo.cost if hi.cost - lo.cost <= CENT else None

    def _at_tie(self, k: int, probe: Probe) -> Decimal | None:
        """The threshold where the profits tie at the probe's price P: V+ - V- falls
        strictly with the price, so every lower price wins more and every higher one does
        not; at P itself the tie rule decides (the solve's passes, once)."""
        m = self.problem.round.margin_floor
        ask = self.problem.bids[k].ask_price
        at = probe.price
        # at its own price the published allocation is the tie rule's answer (where it is
        # the whole-unit optimum): no more units
        same = at == self.model.prices[k] and self.published_optimal
        if same or not self._tie_wins(k, probe):
            at -= CENT
        if at < 0 or (ask is not None and ask > at):
            return None
        return _highest_cost(at, m)


def _highest_cost(price: Decimal, margin_floor: Decimal) -> Decimal:
    """The highest cent c with ceil_cent(c / (1 - m)) <= price."""
    return (price * (1 - margin_floor)).quantize(CENT, rounding=ROUND_FLOOR)


def pending_thresholds(
    model: AllocationModel, units: IntArray
) -> list[Decimal | Literal["pending"] | None]:
    """Above the size explained with the solve: "pending" for each bid whose threshold a
    job after publication will find, null where SPEC 3 says null without a re-solve (full
    capacity, an ask that sets the price)."""
    m = model.problem.round.margin_floor
    asks = model.problem.bid_columns.ask_price
    costs = model.problem.bid_columns.unit_cost
    full = units >= model.capacity  # its full capacity
    out: list[Decimal | Literal["pending"] | None] = [
        None if f else "pending" for f in full.tolist()
    ]
    floors: dict[Decimal, int] = {}  # bids share few distinct costs: each floor once
    for k in np.flatnonzero(~full).tolist():
        ask = asks[k]
        if ask is None:
            continue
        floor = floors.get(costs[k])
        if floor is None:
            floor = floors[costs[k]] = floor_price_cents(costs[k], m)
        if ask.scaleb(2) >= floor:  # the ask sets its price (pricing.ask_sets_price)
            out[k] = None
    return out


def _newton(probe: Probe, margin_floor: Decimal) -> Decimal | None:
    """The cost where the line through this probe's two optima crosses: V+ - V- changes by
    (x+ - x-) per unit of price, as long as neither optimum changes."""
    if probe.plus is None or probe.minus is None:
        return None
    (v_plus, a), (v_minus, b) = probe.plus, probe.minus
    if a <= b:
        return None
    price = probe.price + (v_plus - v_minus) / (a - b)
    if price < 0:
        return Decimal("0.00")
    return (price * (1 - margin_floor)).quantize(CENT, rounding=ROUND_FLOOR)
