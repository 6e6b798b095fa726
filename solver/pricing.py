"""Supply prices and setup fees (SPEC 3), in exact decimal arithmetic.

The margin guarantee is a promise about money, so these are computed exactly (in whole
cents and integers, never binary floating point) and rounded *up* to the cent: rounding
down could leave a unit a fraction of a cent below the margin floor.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from itertools import compress, repeat
from operator import is_not

from solver.problem import Problem, ProblemBid
from solver.values import CENT

_SCALE = 10**12
"""m has at most 9 decimal places (problem.py): m * 10**12 is a whole number."""


def _cents(value: Decimal) -> int:
    # money has at most 2 decimal places (problem.py), so this is exact
    return int(value.scaleb(2))


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def floor_price_cents(unit_cost: Decimal, margin_floor: Decimal) -> int:
    """ceil(c / (1 - m)) in whole cents, computed in integers."""
    keep = _SCALE - int((margin_floor * _SCALE).to_integral_value(rounding=ROUND_CEILING))
    return _ceil_div(_cents(unit_cost) * _SCALE, keep)


def floor_price(unit_cost: Decimal, margin_floor: Decimal) -> Decimal:
    """c / (1 - m) rounded up to the cent: the lowest price that keeps the margin floor."""
    return Decimal(floor_price_cents(unit_cost, margin_floor)).scaleb(-2)


def supply_price(bid: ProblemBid, margin_floor: Decimal) -> Decimal:
    """p_b = max(ask, c / (1 - m)) rounded up to the cent (SPEC 3)."""
    floor = floor_price_cents(bid.unit_cost, margin_floor)
    if bid.ask_price is not None:
        floor = max(floor, _cents(bid.ask_price))
    return Decimal(floor).scaleb(-2)


def setup_fee(bid: ProblemBid, margin_floor: Decimal) -> Decimal:
    """F_b / (1 - m) rounded up to the cent: the one-time fee that covers a setup (SPEC 3)."""
    return floor_price(bid.setup_cost, margin_floor)


def ask_sets_price(bid: ProblemBid, margin_floor: Decimal) -> bool:
    """True where the bid's ask, not its cost floor, sets the supply price."""
    return bid.ask_price is not None and bid.ask_price.scaleb(2) >= floor_price_cents(
        bid.unit_cost, margin_floor
    )


def bid_prices(problem: Problem) -> tuple[list[Decimal], list[Decimal]]:
    """Supply price and setup fee of every bid, in the problem's (canonical) order.

    Bids share few distinct costs, asks and setups, so each is computed once per value.
    """
    m = problem.round.margin_floor
    columns = problem.bid_columns
    costs = columns.unit_cost
    floors = {value: floor_price(value, m) for value in set(costs)}
    prices = list(map(floors.__getitem__, costs))
    asks = columns.ask_price
    for k in compress(range(len(asks)), map(is_not, asks, repeat(None))):  # bids with an ask
        ask = asks[k]
        if ask is not None and ask > prices[k]:
            prices[k] = ask.quantize(CENT)
    zero = Decimal("0.00")
    setups = columns.setup_cost
    fees_by_setup = {value: floor_price(value, m) if value > 0 else zero for value in set(setups)}
    fees = list(map(fees_by_setup.__getitem__, setups))
    return prices, fees
