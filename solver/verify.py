"""The independent verifier: a result checked against SPEC 3 and 4, as finance runs it.

It trusts nothing in a result but each row's bid id and units. Prices, setup fees, margins,
shares and the objective are recomputed here in exact decimal arithmetic, written apart
from `solver.pricing` and `solver.model` on purpose: a mistake there must not be repeated
here. Every broken promise becomes one `Finding`; an empty list means the allocation keeps
every guarantee of SPEC 4 that an allocation can break.
"""

from __future__ import annotations

import decimal
import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import accumulate

from solver.problem import Problem, ProblemBid, ProblemFactory, ProblemItem
from solver.result import BidAllocation, Result
from solver.values import CENT
from solver.version import recorded_version

OBJECTIVE_TOLERANCE = CENT
"""How far the continuous optimum may sit below the objective (both rounded to the cent);
the objective itself must equal the exact expected profit rounded half up to the cent."""
RATIO_TOLERANCE = 1e-4
"""Stated margins and capacity shares are rounded for reading; allow that rounding."""
GAP_TOLERANCE = 1e-6
CEILINGS_FROM = 3
"""The allocator version from which results state cost_ceiling (solver/version.py)."""

_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Finding:
    """One broken guarantee or inconsistency in a result, named by rule and by id."""

    rule: str
    message: str
    bid: str | None = None
    factory: str | None = None
    item: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            f"{key} {value}"
            for key, value in (("bid", self.bid), ("factory", self.factory), ("item", self.item))
            if value is not None
        )
        return f"{self.rule} ({where}): {self.message}" if where else f"{self.rule}: {self.message}"


def supply_price(bid: ProblemBid, margin_floor: Decimal) -> Decimal:
    """p_b = max(a_b, c_b / (1 - m)), rounded up to the cent (SPEC 3)."""
    floor = price_floor(bid.unit_cost, margin_floor)
    return max(bid.ask_price, floor) if bid.ask_price is not None else floor


def price_floor(unit_cost: Decimal, margin_floor: Decimal) -> Decimal:
    """c / (1 - m) rounded up to the cent: the lowest price that keeps the margin m."""
    return _EXACT.divide(unit_cost, 1 - margin_floor).quantize(CENT, rounding=ROUND_CEILING)


def setup_fee(bid: ProblemBid, margin_floor: Decimal) -> Decimal:
    """F_b / (1 - m) rounded up to the cent: the one-time fee of a bid with a setup cost."""
    return price_floor(bid.setup_cost, margin_floor)


class _Prices:
    """Each price floor, supply price and setup fee computed once per distinct amount.

    At 100,000 bids the exact divisions, bid by bid, were most of the verifier's time; bids
    share a few thousand unit costs. Each figure is still `supply_price`'s and `setup_fee`'s.
    """

    def __init__(self, margin_floor: Decimal) -> None:
        self.m = margin_floor
        keep = 1 - margin_floor
        self._keep = keep.as_integer_ratio() if keep > 0 else None
        self._floors: dict[Decimal, Decimal] = {}
        self._prices: dict[tuple[Decimal, Decimal | None], Decimal] = {}

    def floor(self, amount: Decimal) -> Decimal:
        """c / (1 - m) rounded up to the cent (`price_floor`)."""
        found = self._floors.get(amount)
        if found is None:
            found = self._floors[amount] = self._floor(amount)
        return found

    def _floor(self, amount: Decimal) -> Decimal:
        """`price_floor` in whole numbers, for whole cents: with 1 - m = n/d, the least
        whole number of cents at or above cents * d / n. Equal to the decimal division
        (tests/unit/solver/test_verify_prices.py): its 60 digits never reach a cent's
        boundary, the fraction being a multiple of 1/n."""
        cents = amount * 100
        if self._keep is None or cents != cents.to_integral_value():
            return price_floor(amount, self.m)
        n, d = self._keep
        return Decimal(-((-int(cents) * d) // n)).scaleb(-2)

    def price(self, bid: ProblemBid) -> Decimal:
        """p_b (`supply_price`)."""
        key = (bid.unit_cost, bid.ask_price)
        found = self._prices.get(key)
        if found is None:
            found = self._prices[key] = supply_price(bid, self.m)
        return found

    def fee(self, bid: ProblemBid) -> Decimal:
        """The setup fee of a bid with a setup cost (`setup_fee`), 0 without."""
        return self.floor(bid.setup_cost) if bid.setup_cost > 0 else Decimal(0)


def guaranteed_units(problem: Problem, factory: ProblemFactory, bids: Iterable[ProblemBid]) -> int:
    """g_f = min(guaranteed_f, floor(alpha_f capacity_f - committed_f), sum of f's q_b)."""
    if not factory.is_new or factory.guaranteed_units <= 0:
        return 0
    room = _share_room(problem, factory).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(factory.guaranteed_units, int(room), sum(b.capacity for b in bids)))


def expected_profit(
    problem: Problem, units: dict[str, int], prices: _Prices | None = None
) -> Decimal:
    """The objective of SPEC 3 for whole units, exactly: expected sales, salvage, spend, fees."""
    prices = prices or _Prices(problem.round.margin_floor)
    total_units: dict[str, int] = defaultdict(int)
    spend = Decimal(0)
    for bid in problem.bids:
        x = units.get(bid.id, 0)
        if x <= 0:
            continue
        total_units[bid.item] += x
        spend += prices.price(bid) * x + prices.fee(bid)
    revenue = Decimal(0)
    for item in problem.items:
        x_total = total_units.get(item.id, 0)
        if x_total == 0:
            continue
        sold = sum(
            (_EXACT.multiply(s.probability, min(x_total, s.units)) for s in item.demand),
            Decimal(0),
        )
        gain = item.retail_price - item.handling_cost - item.salvage_value
        revenue += _EXACT.multiply(gain, sold) + item.salvage_value * x_total
    return revenue - spend


def verify(problem: Problem, result: Result) -> list[Finding]:
    """Every guarantee the result breaks, recomputed from the problem and the units alone."""
    # A result of another problem breaks nothing of this one: its rows would only repeat
    # the mismatch bid by bid, so it is one finding and the check stops there.
    if result.round != problem.round.id:
        return [
            Finding("round_mismatch", f"result of round {result.round!r}, not {problem.round.id!r}")
        ]
    if result.input_hash != problem.input_hash:
        return [Finding("input_hash_mismatch", "the result was not computed from this problem")]
    findings: list[Finding] = []
    rows = _rows_by_bid(problem, result, findings)
    units = {bid_id: row.units for bid_id, row in rows.items()}
    if result.status in ("infeasible", "error"):
        for bid_id, row in rows.items():
            if row.units != 0:
                findings.append(
                    Finding(
                        "units_without_solution",
                        f"{row.units} units awarded in a result with status {result.status}",
                        bid=bid_id,
                    )
                )
        # Nothing about units holds or fails here, but a result with no allocation is not
        # a verified allocation: say so, so that `supplybid verify` does not print OK.
        findings.append(
            Finding("no_allocation", f"status {result.status}: the result claims no allocation")
        )
        return findings

    prices = _Prices(problem.round.margin_floor)
    bids_by_id = {b.id: b for b in problem.bids}
    capacity = {f.id: f.monthly_capacity for f in problem.factories}
    for bid_id, row in rows.items():
        bid = bids_by_id[bid_id]
        found = _check_bid(bid, row, prices, capacity[bid.factory])
        if found:
            findings.extend(found)
    awarded = _Awarded.of(problem, units)
    findings.extend(_check_factories(problem, awarded, rows))
    findings.extend(_check_items(problem, awarded))
    findings.extend(_check_budget(problem, awarded, prices))
    findings.extend(_check_objective(problem, result, units, prices))
    if int(recorded_version(result.solver.options)) >= CEILINGS_FROM:
        findings.extend(_check_ceilings(problem, rows))
    return findings


@dataclass(frozen=True)
class _Awarded:
    """The units of the problem's bids, summed per factory and per item in one pass; the
    bids with units other than 0, in bid order (the rest add nothing to any total)."""

    units: dict[str, int]
    factory_total: dict[str, int]
    item_total: dict[str, int]
    by_factory: dict[str, list[tuple[ProblemBid, int]]]
    by_item: dict[str, list[tuple[ProblemBid, int]]]

    @classmethod
    def of(cls, problem: Problem, units: dict[str, int]) -> _Awarded:
        factory_total: dict[str, int] = defaultdict(int)
        item_total: dict[str, int] = defaultdict(int)
        by_factory: dict[str, list[tuple[ProblemBid, int]]] = defaultdict(list)
        by_item: dict[str, list[tuple[ProblemBid, int]]] = defaultdict(list)
        for bid in problem.bids:
            x = units.get(bid.id, 0)
            if x != 0:
                factory_total[bid.factory] += x
                item_total[bid.item] += x
                by_factory[bid.factory].append((bid, x))
                by_item[bid.item].append((bid, x))
        return cls(units, factory_total, item_total, by_factory, by_item)


def _rows_by_bid(
    problem: Problem, result: Result, findings: list[Finding]
) -> dict[str, BidAllocation]:
    """One row per bid: flag unknown, duplicate and missing rows and wrong factory or item."""
    bids_by_id = {b.id: b for b in problem.bids}
    rows: dict[str, BidAllocation] = {}
    for row in result.allocations:
        bid = bids_by_id.get(row.bid)
        if bid is None:
            findings.append(
                Finding("unknown_bid", "a row for a bid not in the problem", bid=row.bid)
            )
            continue
        if row.bid in rows:
            findings.append(Finding("duplicate_row", "more than one row for the bid", bid=row.bid))
            continue
        if row.factory != bid.factory:
            findings.append(
                Finding(
                    "wrong_factory",
                    f"row names factory {row.factory!r}, the bid is from {bid.factory!r}",
                    bid=row.bid,
                    factory=bid.factory,
                )
            )
        if row.item != bid.item:
            findings.append(
                Finding(
                    "wrong_item",
                    f"row names item {row.item!r}, the bid is on {bid.item!r}",
                    bid=row.bid,
                    item=bid.item,
                )
            )
        rows[row.bid] = row
    for bid in problem.bids:
        if bid.id not in rows:
            findings.append(
                Finding(
                    "missing_row", "no allocation row for the bid", bid=bid.id, factory=bid.factory
                )
            )
    return rows


def _check_bid(
    bid: ProblemBid, row: BidAllocation, prices: _Prices, monthly_capacity: int
) -> list[Finding] | None:
    """Units, price, fee, unit margin and the row's stated figures for one bid (None: none)."""
    out: list[Finding] = []

    def flag(rule: str, message: str) -> None:
        out.append(Finding(rule, message, bid=bid.id, factory=bid.factory, item=bid.item))

    x = row.units
    m = prices.m
    if x < 0:
        flag("negative_units", f"{x} units")
    if x > bid.capacity:
        flag("bid_capacity_exceeded", f"{x} units above the bid's capacity of {bid.capacity}")
    if 0 < x < bid.min_lot:
        flag("below_min_lot", f"{x} units below the minimum lot of {bid.min_lot}")

    floor = prices.floor(bid.unit_cost)
    price = prices.price(bid)
    if row.supply_price < floor:
        flag(
            "price_below_floor",
            f"supply price {row.supply_price} below c/(1-m) = {floor} rounded up to the cent",
        )
    elif row.supply_price != price:
        flag("price_mismatch", f"supply price {row.supply_price}, expected {price}")
    fee = prices.fee(bid)
    # A losing bid pays no fee; its row may state the fee it would have been paid.
    if row.setup_fee != fee and not (x == 0 and row.setup_fee == 0):
        flag("setup_fee_mismatch", f"setup fee {row.setup_fee}, expected {fee}")

    used = x / monthly_capacity
    if not math.isclose(row.capacity_share_used, used, abs_tol=RATIO_TOLERANCE):
        flag(
            "capacity_share_used_mismatch",
            f"capacity share used stated {row.capacity_share_used}, expected {used:.6f}",
        )
    if x > 0:
        # Margins on what the result pays (its stated price and fee), not on our prices:
        # a price stated below the floor breaks the factory's guarantee, and says so here.
        paid_price, paid_fee = row.supply_price, _paid_fee(bid, row)
        if paid_price * (1 - m) < bid.unit_cost:
            flag(
                "unit_margin_below_floor",
                f"({paid_price} - {bid.unit_cost}) / {paid_price} is below the margin floor {m}",
            )
        amount = paid_price * x + paid_fee
        margin = (
            ((paid_price - bid.unit_cost) * x + paid_fee - bid.setup_cost) / amount
            if amount
            else Decimal(0)
        )
        if amount and (
            row.margin is None
            or not math.isclose(row.margin, float(margin), abs_tol=RATIO_TOLERANCE)
        ):
            flag("margin_mismatch", f"margin stated {row.margin}, expected {float(margin):.6f}")
    elif row.margin is not None:
        flag("margin_mismatch", f"margin stated {row.margin} for a bid that wins nothing")
    # SPEC 3 precedence: a bid at its full capacity is won_full, and only such a bid.
    if (row.reason == "won_full") != (x == bid.capacity):
        flag("reason_mismatch", f"reason {row.reason} with {x} of {bid.capacity} units")
    if row.reason in ("excluded", "lost_on_price") and x != 0:
        flag("reason_mismatch", f"reason {row.reason} with {x} units")
    if row.reason == "won_partial" and x == 0:
        flag("reason_mismatch", "reason won_partial with no units")
    if row.cost_to_win_more is not None and x == bid.capacity:
        flag("cost_to_win_more_mismatch", "a threshold stated for a bid at its full capacity")
    if row.cost_to_win_more is not None and bid.ask_price is not None and bid.ask_price > floor:
        flag("cost_to_win_more_mismatch", "a threshold stated for a bid priced by its ask")
    return out or None


def _paid_fee(bid: ProblemBid, row: BidAllocation) -> Decimal:
    """The setup fee a winning row pays: its stated fee where the bid has a setup cost."""
    return row.setup_fee if bid.setup_cost > 0 and row.units > 0 else Decimal(0)


def _share_room(problem: Problem, factory: ProblemFactory) -> Decimal:
    """alpha_f * capacity_f - committed_f: what the factory may still give this period."""
    return problem.factory_share(factory) * factory.monthly_capacity - factory.committed_units


def _check_factories(
    problem: Problem, awarded: _Awarded, rows: dict[str, BidAllocation]
) -> list[Finding]:
    """Capacity share, guarantee, round margin with setup, and the stated shares."""
    out: list[Finding] = []
    m = problem.round.margin_floor
    bids_of_new: dict[str, list[ProblemBid]] = defaultdict(list)
    new = {f.id for f in problem.factories if f.is_new and f.guaranteed_units > 0}
    for bid in problem.bids:
        if bid.factory in new:
            bids_of_new[bid.factory].append(bid)
    for factory in problem.factories:
        total = awarded.factory_total.get(factory.id, 0)
        room = _share_room(problem, factory)
        # A factory already past its share from earlier rounds breaks nothing with 0 units.
        if total > 0 and total > room:
            out.append(
                Finding(
                    "capacity_share_exceeded",
                    f"{total} units above alpha * capacity - committed = {room}",
                    factory=factory.id,
                )
            )
        g = guaranteed_units(problem, factory, bids_of_new.get(factory.id, []))
        if total < g:
            out.append(
                Finding(
                    "guarantee_not_met",
                    f"{total} units below the new factory's guaranteed {g}",
                    factory=factory.id,
                )
            )
        paid = Decimal(0)
        earned = Decimal(0)
        for bid, x in awarded.by_factory.get(factory.id, ()):
            if x <= 0:
                continue
            row = rows[bid.id]
            price, fee = row.supply_price, _paid_fee(bid, row)
            paid += price * x + fee
            earned += (price - bid.unit_cost) * x + fee - bid.setup_cost
        if paid > 0 and earned < m * paid:
            out.append(
                Finding(
                    "factory_margin_below_floor",
                    f"round margin {_EXACT.divide(earned, paid):.6f} below {m}",
                    factory=factory.id,
                )
            )
    return out


def _check_items(problem: Problem, awarded: _Awarded) -> list[Finding]:
    """Minimum fills and the item share cap beta."""
    out: list[Finding] = []
    for item in problem.items:
        total = awarded.item_total.get(item.id, 0)
        if total < item.min_fill:
            out.append(
                Finding(
                    "min_fill_not_met",
                    f"{total} units below the minimum fill of {item.min_fill}",
                    item=item.id,
                )
            )
        out.extend(_check_item_share(problem, item, awarded, total))
    return out


def _check_item_share(
    problem: Problem, item: ProblemItem, awarded: _Awarded, total: int
) -> list[Finding]:
    beta = item.max_factory_share
    if beta is None:
        return []
    # A bid with no units is above the cap only where the total is below 0: then all count.
    if beta * total < 0:
        bids = [(b, awarded.units.get(b.id, 0)) for b in problem.bids if b.item == item.id]
    else:
        bids = awarded.by_item.get(item.id, [])
    return [
        Finding(
            "item_share_exceeded",
            f"{x} of the item's {total} units, above its share cap {beta}",
            bid=b.id,
            factory=b.factory,
            item=item.id,
        )
        for b, x in bids
        if x > beta * total
    ]


def _check_budget(problem: Problem, awarded: _Awarded, prices: _Prices) -> list[Finding]:
    """sum p_b x_b + setup fees <= budget."""
    budget = problem.round.budget
    if budget is None:
        return []
    spend = Decimal(0)
    for awards in awarded.by_factory.values():
        for bid, x in awards:
            if x > 0:
                spend += prices.price(bid) * x + prices.fee(bid)
    if spend > budget:
        return [Finding("budget_exceeded", f"spend {spend} above the budget {budget}")]
    return []


def _check_objective(
    problem: Problem, result: Result, units: dict[str, int], prices: _Prices
) -> list[Finding]:
    """The stated objective against the exact expected profit; bound and gap consistent."""
    out: list[Finding] = []
    expected = expected_profit(problem, units, prices)
    if result.objective is None:
        out.append(Finding("objective_mismatch", f"no objective stated, expected {expected:.2f}"))
        return out
    # The objective is stated to the cent, rounded half up: exactly that, nothing near it.
    if result.objective != expected.quantize(CENT, rounding=ROUND_HALF_UP):
        out.append(
            Finding(
                "objective_mismatch",
                f"objective stated {result.objective}, the units give {expected:.4f}",
            )
        )
    bound = result.continuous_objective
    if bound is None and result.status in ("optimal", "feasible"):
        out.append(
            Finding("continuous_objective_missing", f"no continuous optimum for a {result.status}")
        )
    if bound is not None and result.gap is None and bound != 0:
        out.append(Finding("gap_mismatch", "no gap stated beside a continuous optimum"))
    if bound is not None:
        if bound < result.objective - OBJECTIVE_TOLERANCE:
            out.append(
                Finding(
                    "continuous_objective_below_objective",
                    f"continuous optimum {bound} below the integer objective {result.objective}",
                )
            )
        if result.gap is not None and bound != 0:
            gap = float((bound - result.objective) / abs(bound))
            # Both objectives are stated to the cent: allow what that rounding moves the gap.
            slack = max(GAP_TOLERANCE, float(2 * OBJECTIVE_TOLERANCE / abs(bound)))
            if not math.isclose(result.gap, gap, abs_tol=slack):
                out.append(Finding("gap_mismatch", f"gap stated {result.gap}, expected {gap:.8f}"))
    return out


def _pays(bid: ProblemBid, price: Decimal, values: list[tuple[int, Decimal]]) -> bool:
    """Some quantity x, bringing `value` after the fee, pays at price floor `price`."""
    if bid.ask_price is not None and bid.ask_price > price:
        price = bid.ask_price
    return any(value - price * x > 0 for x, value in values)


class _Sales:
    """What x units of an item bring, s x + (r - h - s) E[min(D, x)], once per x: with the
    scenarios sorted, E[min(D, x)] is p d summed up to x plus x times p summed above it."""

    def __init__(self, item: ProblemItem) -> None:
        scenarios = sorted(item.demand, key=lambda s: s.units)
        self.units = [s.units for s in scenarios]
        # p d summed over the first k scenarios; p summed over the scenarios from k on
        masses = (_EXACT.multiply(s.probability, s.units) for s in scenarios)
        self.below = list(accumulate(masses, _EXACT.add, initial=Decimal(0)))
        tails = (s.probability for s in reversed(scenarios))
        self.above = list(accumulate(tails, _EXACT.add, initial=Decimal(0)))[::-1]
        self.gain = item.retail_price - item.handling_cost - item.salvage_value
        self.salvage = item.salvage_value
        self.known: dict[int, Decimal] = {}

    def worth(self, x: int) -> Decimal:
        """What x units bring, before any price or fee."""
        found = self.known.get(x)
        if found is None:
            k = bisect_right(self.units, x)
            sold = _EXACT.add(self.below[k], _EXACT.multiply(self.above[k], x))
            found = self.known[x] = _EXACT.multiply(self.gain, sold) + self.salvage * x
        return found


def _check_ceilings(problem: Problem, rows: dict[str, BidAllocation]) -> list[Finding]:
    """cost_ceiling (SPEC 3): at it no quantity pays, one cent below it one does; null only
    where a minimum fill or a guarantee could force units on the bid, and there always.

    A quantity x pays at price p where what its units bring, s x + (r - h - s) E[min(D, x)],
    is above p x plus the setup fee. Between two demand points that is a line in x, so
    whether some x in a range pays is decided at the range's ends and the demand points
    inside it. What a quantity of an item brings, a factory's room and whether it can be
    forced, and each price floor are reckoned once (100,000 bids share them).
    """
    out: list[Finding] = []
    prices = _Prices(problem.round.margin_floor)
    items = {i.id: i for i in problem.items}
    by_factory: dict[str, list[ProblemBid]] = defaultdict(list)
    for bid in problem.bids:
        by_factory[bid.factory].append(bid)
    forced_by = {
        f.id: guaranteed_units(problem, f, by_factory[f.id]) > 0 for f in problem.factories
    }
    room_of = {
        f.id: max(int(_share_room(problem, f).to_integral_value(rounding=ROUND_FLOOR)), 0)
        for f in problem.factories
    }
    demand_points = {i.id: sorted({s.units for s in i.demand}) for i in problem.items}
    sales = {i.id: _Sales(i) for i in problem.items}
    at_points = {
        i.id: [(x, sales[i.id].worth(x)) for x in demand_points[i.id]] for i in problem.items
    }

    for bid in problem.bids:
        row = rows.get(bid.id)
        if row is None:
            continue
        item = items[bid.item]
        forced = item.min_fill > 0 or forced_by[bid.factory]
        stated = row.cost_ceiling

        if forced or stated is None:
            if forced != (stated is None):
                why = "can" if forced else "cannot"
                message = f"cost_ceiling {stated}: a fill or guarantee {why} force units"
                out.append(Finding("cost_ceiling_mismatch", message, bid=bid.id, item=bid.item))
            continue
        top = min(bid.capacity, room_of[bid.factory])
        least = max(bid.min_lot, 1)
        values: list[tuple[int, Decimal]] = []
        if least <= top:
            points, sale = demand_points[bid.item], sales[bid.item]
            inside = at_points[bid.item][bisect_left(points, least) : bisect_right(points, top)]
            values = [(least, sale.worth(least)), *inside, (top, sale.worth(top))]
        if bid.setup_cost > 0:
            fee = prices.fee(bid)
            values = [(x, value - fee) for x, value in values]
        problem_found = None
        if _pays(bid, prices.floor(stated), values):
            problem_found = f"at the cost_ceiling {stated} some quantity still pays"
        elif stated > 0 and not _pays(bid, prices.floor(stated - CENT), values):
            problem_found = f"cost_ceiling {stated} is not the least such cent"
        if problem_found:
            out.append(Finding("cost_ceiling_mismatch", problem_found, bid=bid.id, item=bid.item))
    return out
