"""The verifier's price floors in whole numbers equal its exact decimal division."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.verify import _Prices, price_floor

CENTS = st.integers(0, 10**12)
MARGINS = st.decimals(min_value=0, max_value="0.999999999", places=9, allow_nan=False)


@settings(max_examples=500, deadline=None)
@given(cents=CENTS, margin=MARGINS)
def test_the_whole_number_floor_is_the_decimal_one(cents: int, margin: Decimal) -> None:
    amount = Decimal(cents).scaleb(-2)
    got = _Prices(margin).floor(amount)
    want = price_floor(amount, margin)
    assert got == want
    assert str(got) == str(want)


def test_amounts_past_the_cent_and_odd_margins_take_the_decimal_way() -> None:
    assert _Prices(Decimal("0.1")).floor(Decimal("1.005")) == price_floor(
        Decimal("1.005"), Decimal("0.1")
    )
    assert _Prices(Decimal("0.3")).floor(Decimal("7")) == Decimal("10.00")
    assert _Prices(Decimal("0.15")).floor(Decimal("8.50")) == Decimal("10.00")
