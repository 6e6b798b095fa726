"""Supply prices and setup fees: exact decimals, rounded up to the cent (SPEC 3)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from solver.pricing import ask_sets_price, bid_prices, floor_price, setup_fee, supply_price
from solver.problem import ProblemBid
from tests.unit.solver.builders import bid, make_problem


def _bid(**fields: object) -> ProblemBid:
    return ProblemBid.model_validate(
        {"id": "B1", "factory": "F1", "item": "I1", "unit_cost": "18.5", "capacity": 10, **fields}
    )


def test_price_is_cost_over_one_minus_margin_rounded_up_to_the_cent() -> None:
    # 18.50 / 0.9 = 20.5555... -> 20.56 (up, never 20.55)
    assert supply_price(_bid(), Decimal("0.10")) == Decimal("20.56")


def test_price_that_divides_exactly_is_not_rounded_up_further() -> None:
    # 9 / 0.9 = 10 exactly
    assert supply_price(_bid(unit_cost="9"), Decimal("0.10")) == Decimal("10.00")


def test_an_ask_above_the_floor_sets_the_price() -> None:
    bid_ = _bid(unit_cost="9", ask_price="12.34")
    assert supply_price(bid_, Decimal("0.10")) == Decimal("12.34")
    assert ask_sets_price(bid_, Decimal("0.10"))


def test_an_ask_below_the_floor_does_not_lower_the_price() -> None:
    bid_ = _bid(unit_cost="9", ask_price="9.50")
    assert supply_price(bid_, Decimal("0.10")) == Decimal("10.00")
    assert not ask_sets_price(bid_, Decimal("0.10"))


def test_setup_fee_is_setup_cost_over_one_minus_margin_rounded_up() -> None:
    # 100 / 0.7 = 142.857... -> 142.86
    assert setup_fee(_bid(setup_cost="100"), Decimal("0.3")) == Decimal("142.86")


def test_margin_floor_with_nine_places_is_exact() -> None:
    # 1 / (1 - 0.333333333) = 1.4999999992... -> 1.50, not 1.49
    assert floor_price(Decimal("1"), Decimal("0.333333333")) == Decimal("1.50")


@given(
    cents=st.integers(min_value=0, max_value=10**11),
    margin=st.integers(min_value=0, max_value=999_999_999),
)
def test_price_keeps_the_margin_and_is_the_lowest_cent_that_does(cents: int, margin: int) -> None:
    cost = Decimal(cents).scaleb(-2)
    m = Decimal(margin).scaleb(-9)
    price = floor_price(cost, m)
    assert price == price.quantize(Decimal("0.01"))
    assert price * (1 - m) >= cost  # (p - c) / p >= m
    below = price - Decimal("0.01")
    assert below < 0 or below * (1 - m) < cost


def test_bid_prices_agree_with_supply_price_and_setup_fee() -> None:
    problem = make_problem(
        [
            bid("B1", "F1", cost="18.5"),
            bid("B2", "F2", cost="9", ask_price="11"),
            bid("B3", "F3", cost="9", ask_price="5", setup_cost="7", min_lot=1),
        ]
    )
    prices, fees = bid_prices(problem)
    m = problem.round.margin_floor
    assert prices == [supply_price(b, m) for b in problem.bids]
    assert fees == [setup_fee(b, m) for b in problem.bids]
    assert prices == [Decimal("20.56"), Decimal("11.00"), Decimal("10.00")]
    assert fees == [Decimal("0.00"), Decimal("0.00"), Decimal("7.78")]  # 7 / 0.9 = 7.777...
