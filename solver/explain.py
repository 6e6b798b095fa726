"""Why each bid got what it got (SPEC 3 "Explanations"): a reason and cost_to_win_more.

Reasons come from the whole-unit allocation. A bound is named as the reason only when it
both holds in whole units (one more unit would break it) and matters: one more unit would
raise the profit but for that bound. In an LP round "matters" is read from the problem
and the allocation (_Routes: a rival's units it could take, or one more unit sold, would
pay at its price), because the optimum is often degenerate and its duals then describe
one basis among many (a bid of an item sold exactly to a scenario's demand is given the
last unit's value); the item share also counts when its row's dual says so. In a MILP
round, and for the budget and lots, the duals of the LP with the binaries fixed decide:
the bid's reduced cost with that row's dual added back.

`cost_to_win_more` comes from HiGHS's cost ranging of that LP, not from a single dual: at
a scenario demand the item's dual is not unique, but the range over which the current
basis stays optimal is. The objective coefficient of x_b is -p_b; if it can rise to `hi`
before the basis changes, the bid gets more units exactly when its price falls strictly
below P* = -hi. Translated to a unit cost c with p = ceil_cent(c / (1 - m)): the price is
at most Pmax (the highest cent strictly below P*) exactly when c <= Pmax (1 - m), so the
bid wins more strictly below c* = floor_cent(Pmax (1 - m)) + 0.01. At exactly the
threshold price the bid ties, and the tie rule (solver/solve.py TIE_RULE) decides: where
a rival of higher id wins units of the item at that price, the bid takes them, and P*
itself already wins.

Ranging reads one basis, and the optimum is often degenerate (an item exactly on a
scenario's demand, a bid exactly on its item share): there the range can stop short of
the price at which units really move (found by re-solving random rounds: thresholds
several yuan too low). So in an LP round the threshold is never put below a price at
which the bid surely wins one unit more: a rival's price on its item (its units can move
over) and what one more unit of the item is worth (_surely_winning_price).
Where the budget binds no bid gets a threshold (None): lowering a price also loosens the
budget row, which cost ranging does not see.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from solver.model import DUAL_TOL, SNAP, AllocationModel
from solver.pricing import ask_sets_price
from solver.result import BidAllocation, Reason, Result
from solver.values import CENT

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CENT_SNAP = Decimal("0.000001")


@dataclass(frozen=True)
class Explanation:
    """Per bid, in canonical order: its reason, cost_to_win_more and cost_ceiling."""

    reasons: list[Reason]
    cost_to_win_more: Sequence[Decimal | Literal["pending"] | None]
    cost_ceiling: Sequence[Decimal | None] = ()


def _duals_by_bid(
    model: AllocationModel, row_dual: FloatArray, family: str, bid_factory: IntArray
) -> FloatArray:
    """Per bid, the dual of the row of `family` that holds it (0 where it has none)."""
    problem = model.problem
    out = np.zeros(len(problem.bids))
    if family == "cap_share":
        per_factory = np.zeros(len(problem.factories))
        for k, f in enumerate(problem.factories):
            index = model.rows.get(f"cap_share[{f.id}]")
            if index is not None:
                per_factory[k] = row_dual[index]
        return per_factory[bid_factory] if len(out) else out
    for k, bid in enumerate(problem.bids):
        index = model.rows.get(f"{family}[{bid.id}]")
        if index is not None:
            out[k] = row_dual[index]
    return out


def explain(
    model: AllocationModel,
    units: IntArray,
    col_dual: FloatArray,
    row_dual: FloatArray,
    cost_up: FloatArray | None,
    *,
    mip: bool,
    tied: npt.NDArray[np.bool_] | None = None,
    lp_units: FloatArray | None = None,
) -> Explanation:
    """Reasons by SPEC 3 precedence and cost_to_win_more for every bid.

    `cost_up` is the cost ranging of the LP's first optimal basis. `tied` marks the bids the
    tie rule took units from: they tie with other bids at their own price, so one cent
    less wins them more units and their threshold is their price (the first basis
    describes another optimum for them). `lp_units`: the LP's values by column (after
    the tie rule), whose item shares bound a move as much as the whole units' do.
    """
    problem = model.problem
    bids = problem.bids
    n = len(bids)
    bid_factory = model.bid_factory
    used = np.bincount(bid_factory, weights=units, minlength=len(problem.factories))
    room = np.array([model.room[f.id] for f in problem.factories], dtype=np.float64)
    cap_binds = used[bid_factory] >= room[bid_factory] if n else np.zeros(0, np.bool_)
    dj = col_dual[model.x_col]
    x = units.astype(np.float64)
    # "wants more": one more unit would raise the profit but for the row named
    wants_cap = dj + _duals_by_bid(model, row_dual, "cap_share", bid_factory) > DUAL_TOL
    reason = np.full(n, "lost_on_price", dtype=object)
    reason[x > 0] = "won_partial"
    budget = problem.round.budget
    budget_binds = False
    if budget is not None and n:
        spend = sum(
            (p * int(u) for p, u in zip(model.prices, units.tolist(), strict=True)),
            Decimal(0),
        ) + sum((f for f, u in zip(model.fees, units.tolist(), strict=True) if u > 0), Decimal(0))
        budget_dual = float(row_dual[model.rows[f"budget[{problem.round.id}]"]])
        wants_budget = dj + model.price * budget_dual > DUAL_TOL
        for k in np.flatnonzero(wants_budget & (x < model.capacity)):
            if spend + model.prices[k] > budget:
                reason[k] = "budget_bound"
                budget_binds = True
        budget_binds |= abs(budget_dual) > DUAL_TOL
    routes = _Routes(model, units, mip=mip, lp_units=lp_units)
    if any(i.max_factory_share is not None and i.max_factory_share < 1 for i in problem.items):
        wants_beta = dj + _duals_by_bid(model, row_dual, "item_share", bid_factory) > DUAL_TOL
        for rank in map(int, np.flatnonzero(x < model.capacity)):
            # At a degenerate optimum the share row's dual may say nothing: a bid also
            # wants more when a rival's units or one more unit sold would surely pay.
            if routes.blocked_by_share(rank) and (
                wants_beta[rank] or routes.pays(rank, within_share=False)
            ):
                reason[rank] = "item_share_bound"
    if not mip:
        # The capacity row's dual is not to be trusted at a degenerate optimum either (an
        # item on a scenario's demand gives its bids the value of the last unit sold):
        # in an LP round a bid of a factory at its cap is bound by it when a unit more
        # would surely pay, taken from a rival or sold on top, within its item share.
        wants_cap = routes.pays_within_share(cap_binds & (x < model.capacity))
    reason[cap_binds & wants_cap] = "capacity_bound"
    reason[x >= model.capacity] = "won_full"
    if model.binary.any():
        wants_lot = dj + _duals_by_bid(model, row_dual, "bid_cap", bid_factory) > DUAL_TOL
        reason[(model.min_lot > 0) & (x == 0) & wants_lot] = "below_min_lot"
    costs: list[Decimal | None] = [None] * n
    # Cost ranging moves the bid's objective coefficient alone; its price is also its
    # coefficient in the budget row, so where the budget binds the range is not the
    # threshold: state none rather than a wrong one.
    if budget_binds:
        cost_up = None
    if cost_up is not None:
        m = problem.round.margin_floor
        eligible = (x < model.capacity) & ~cap_binds
        if mip:
            eligible &= ~(model.binary & (x == 0))
        up = cost_up[model.x_col].copy()
        if tied is not None:
            up[tied] = -model.price[tied]
        for rank in map(int, np.flatnonzero(eligible)):
            bid = bids[rank]
            if ask_sets_price(bid, m):
                continue
            at_least = None if mip else routes.surely_winning_price(rank, within_share=True)
            item_rivals = () if tied is not None and tied[rank] else routes.rivals[bid.item]
            # A bid already winning units is basic in the LP, and HiGHS's range for a
            # basic column at these degenerate optima was seen both short (a test: 17.82
            # for 32.27) and past the price that wins (a sole winner of an item sold to
            # its demand offered more one cent lower; a rival's price whose units are
            # promised): in an LP round such a bid's threshold comes from the sure moves
            # alone, which may understate it (or give none) but never overstate it.
            coef_up = float(up[rank])
            if not mip and units[rank] > 0 and not (tied is not None and tied[rank]):
                coef_up = math.inf
            costs[rank] = threshold_cost(
                coef_up,
                m,
                bid.ask_price,
                item_rivals,
                rank=rank,
                at_least=at_least,
                price=model.prices[rank],
            )
    return Explanation(reasons=reason.tolist(), cost_to_win_more=costs)


class _Routes:
    """The two moves always open to a bid with room, for reasons and thresholds.

    A bid not at its capacity, of a factory with room, can take units from a rival on its
    item (a winning bid of a higher price, or of the same price and a higher id, whose
    units are not promised) or sell one more unit of the item (worth what the next unit
    adds). Each says from the allocation and the problem alone, with no dual, that a unit
    more would surely pay: the guard against degenerate optima, where duals and ranging
    describe one basis among many.
    """

    def __init__(
        self,
        model: AllocationModel,
        units: IntArray,
        *,
        mip: bool,
        lp_units: FloatArray | None = None,
    ) -> None:
        problem = model.problem
        self.bids = problem.bids
        self.bid_item = model.bid_item
        self.prices = model.prices
        self.price = model.price
        self.units = units
        self.rivals = _rivals(model, units)
        self.next_unit = {} if mip else _next_unit_values(model, units)
        # the highest cent strictly below the next unit's value: at equal value the tie
        # rule adds no unit
        self.selling = {
            item: value.quantize(CENT, rounding=ROUND_CEILING) - CENT
            for item, value in self.next_unit.items()
        }
        self.totals = {i.id: int(units[model.bids_by_item[i.id]].sum()) for i in problem.items}
        self.betas = {i.id: i.max_factory_share for i in problem.items}
        # The LP's values too: whole units rounded up can leave room under a share that
        # the LP, and so the allocation, has not (a bid on its share, rounded up)
        self.lp_x: FloatArray | None = None
        self.lp_totals: dict[str, float] = {}
        if lp_units is not None:
            self.lp_x = lp_units[model.x_col]
            self.lp_totals = {
                i.id: float(self.lp_x[model.bids_by_item[i.id]].sum()) for i in problem.items
            }

    def _fits(self, rank: int) -> tuple[bool, bool]:
        """One more unit within the item share: taken from a rival (the item's total as it
        is), and sold on top (one more in total)."""
        item = self.bids[rank].item
        beta, total, more = self.betas[item], self.totals[item], int(self.units[rank]) + 1
        if beta is None:
            return True, True
        taking, selling = more <= beta * total, more <= beta * (total + 1)
        if self.lp_x is not None:
            share, x, lp_total = float(beta), float(self.lp_x[rank]), self.lp_totals[item]
            taking &= x + 1 <= share * lp_total + SNAP
            selling &= x + 1 <= share * (lp_total + 1) + SNAP
        return taking, selling

    def surely_winning_price(self, rank: int, *, within_share: bool) -> Decimal | None:
        """The highest price at which the bid surely wins a unit more (or None)."""
        item = self.bids[rank].item
        taking, selling = self._fits(rank) if within_share else (True, True)
        return _surely_winning_price(
            self.rivals[item] if taking else (),
            rank,
            self.selling.get(item) if selling else None,
        )

    def pays_within_share(self, which: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """`pays(rank, within_share=True)` for the bids marked, at once where it can be.

        On an item without a share below 1 a unit more pays exactly when the next unit's
        value is above the bid's price, or a rival's price is above it (or equal to it,
        from a rival of higher id): compared in whole cents, item by item, in numpy.
        """
        n = len(self.bids)
        out = np.zeros(n, dtype=np.bool_)
        items = {item: k for k, item in enumerate(self.rivals)}
        none = np.iinfo(np.int64).min
        selling = np.full(len(items), none, dtype=np.int64)
        top = np.full(len(items), none, dtype=np.int64)
        top_rank = np.full(len(items), -1, dtype=np.int64)
        shared = np.zeros(len(items), dtype=np.bool_)
        for item, k in items.items():
            if item in self.selling:
                selling[k] = int(self.selling[item].scaleb(2))
            rivals = self.rivals[item]
            if rivals:
                top[k], top_rank[k] = int(rivals[0][0].scaleb(2)), rivals[0][1]
            beta = self.betas[item]
            shared[k] = beta is not None and beta < 1
        item_of = self.bid_item  # items are in problem.items' order, as is self.rivals
        cents = np.rint(self.price * 100).astype(np.int64)
        ranks = np.arange(n)
        plain = which & ~shared[item_of]
        out[plain] = (
            (cents <= selling[item_of])
            | (cents < top[item_of])
            | ((cents == top[item_of]) & (top_rank[item_of] > ranks))
        )[plain]
        for rank in map(int, np.flatnonzero(which & shared[item_of])):
            out[rank] = self.pays(rank, within_share=True)
        return out

    def pays(self, rank: int, *, within_share: bool) -> bool:
        """A unit more would surely pay at the bid's own price."""
        surely = self.surely_winning_price(rank, within_share=within_share)
        return surely is not None and self.prices[rank] <= surely

    def blocked_by_share(self, rank: int) -> bool:
        """One more unit fits the item share neither taken from a rival nor sold on top
        (one more sold counts only where it is worth the bid's price)."""
        item = self.bids[rank].item
        beta = self.betas[item]
        if beta is None or beta >= 1:
            return False
        taking, selling = self._fits(rank)
        value = self.next_unit.get(item)
        worth_selling = value is None or value > self.prices[rank]
        return not taking and not (selling and worth_selling)


Rivals = Sequence[tuple[Decimal, int]]
"""An item's winning bids whose units could go to another bid: (price, rank in id order),
highest price first (and, at one price, highest rank first)."""


def _rivals(model: AllocationModel, units: IntArray) -> dict[str, Rivals]:
    """Per item, its winning bids whose units could go to another (see Rivals).

    A bid of a new factory at or under its guarantee is not one: its units are promised.
    """
    problem = model.problem
    placed: dict[str, int] = {}
    for k in np.flatnonzero(units > 0).tolist():
        placed[problem.bids[k].factory] = placed.get(problem.bids[k].factory, 0) + int(units[k])
    held = {f for f, g in model.guarantee.items() if g > 0 and placed.get(f, 0) <= g}
    out: dict[str, list[tuple[Decimal, int]]] = {item.id: [] for item in problem.items}
    for k in np.flatnonzero(units > 0).tolist():
        bid = problem.bids[k]
        if bid.factory not in held:
            out[bid.item].append((model.prices[k], k))
    for rows in out.values():
        rows.sort(reverse=True)
    return dict(out)


def _next_unit_values(model: AllocationModel, units: IntArray) -> dict[str, Decimal]:
    """Per item, what one more unit of it adds to the expected profit before its price.

    (r - h - s) P(D > U) + s for U whole units awarded: the (U + 1)-th unit sells in the
    scenarios with more demand, and is otherwise salvaged. Not with a budget: that unit
    would also spend its price from it.
    """
    problem = model.problem
    if problem.round.budget is not None:
        return {}
    out: dict[str, Decimal] = {}
    for item in problem.items:
        total = int(units[model.bids_by_item[item.id]].sum())
        beyond = sum((s.probability for s in item.demand if s.units > total), Decimal(0))
        margin = item.retail_price - item.handling_cost - item.salvage_value
        out[item.id] = margin * beyond + item.salvage_value
    return out


def _surely_winning_price(rivals: Rivals, rank: int, selling: Decimal | None) -> Decimal | None:
    """The highest price at which the bid surely wins one unit more, all else equal.

    Below a rival's price on its item the bid takes that rival's units (at it, against a
    rival of higher id, by the tie rule); at `selling` or below (the highest cent strictly
    below what one more unit of the item adds) it sells one more. See _Routes.
    """
    best = selling
    for price, other in rivals:
        if best is not None and price < best:
            break
        if other == rank:
            continue
        candidate = price if other > rank else price - CENT
        if best is None or candidate > best:
            best = candidate
    return best


def threshold_cost(
    coef_up: float,
    margin_floor: Decimal,
    ask: Decimal | None,
    rivals: Rivals = (),
    *,
    rank: int = 0,
    at_least: Decimal | None = None,
    price: Decimal | None = None,
) -> Decimal | None:
    """The unit cost strictly below which the bid wins more, from its cost ranging.

    `coef_up` is the highest objective coefficient (-price) at which the basis stays
    optimal. At a threshold price on the cent the bid ties: it wins when a rival of
    higher rank wins units there at that price (`rivals`), and then that price already
    wins more. `at_least`: a price known to win more (_surely_winning_price). `price`: the
    bid's own; a threshold at or above it would mean the bid already wins more where it
    stands, which its allocation says it does not: such a candidate is dropped (a move
    it cannot make, or a range read from another optimum). None where no price can win
    more (no range, or it needs a negative price, or the ask alone keeps the price above
    it).
    """
    highest: Decimal | None = None
    if math.isfinite(coef_up):
        threshold = Decimal(repr(-coef_up))
        on_cent = threshold.quantize(CENT, rounding=ROUND_HALF_UP)
        if abs(threshold - on_cent) <= CENT_SNAP:
            wins_tie = any(p == on_cent and other > rank for p, other in rivals)
            highest = on_cent if wins_tie else on_cent - CENT
        else:
            highest = threshold.quantize(CENT, rounding=ROUND_FLOOR)
    if price is not None and highest is not None and highest >= price:
        highest = None
    if price is not None and at_least is not None and at_least >= price:
        at_least = None
    if at_least is not None and (highest is None or at_least > highest):
        highest = at_least
    if highest is None or highest < 0 or (ask is not None and ask > highest):
        return None
    return (highest * (1 - margin_floor)).quantize(CENT, rounding=ROUND_FLOOR) + CENT


def mark_excluded(result: Result, bid_ids: Iterable[str]) -> Result:
    """A result with the given bids marked `excluded` (by a what-if), which tops precedence."""
    excluded = set(bid_ids)
    rows: list[BidAllocation] = [
        a.model_copy(update={"reason": "excluded", "cost_to_win_more": None})
        if a.bid in excluded
        else a
        for a in result.allocations
    ]
    return result.model_copy(update={"allocations": tuple(rows)})


def reduced_cost_range(costs: FloatArray, col_dual: FloatArray) -> FloatArray:
    """The upper end of each column's cost range, for the bids explain.py reads it of:
    a column at its lower bound, whose range ends where its reduced cost reaches zero,
    c - d (without ranging every other column and row: 0.4 s at 100,000 bids); infinite
    where the reduced cost is already zero (a degenerate optimum)."""
    return np.where(col_dual < -DUAL_TOL, costs - col_dual, np.inf)
