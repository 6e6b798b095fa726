"""Exact conversions between API values and stored integers, and opaque ids (no database)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.values import from_cents, from_ppb, new_id, plain, to_cents, to_ppb
from solver.values import MAX_MONEY


@given(st.decimals(min_value=0, max_value=MAX_MONEY, places=2, allow_nan=False))
def test_money_survives_the_round_trip_through_cents_exactly(amount: Decimal) -> None:
    assert from_cents(to_cents(amount)) == amount
    assert str(from_cents(to_cents(amount))).count(".") == 1


@given(st.decimals(min_value=0, max_value=1, places=9, allow_nan=False))
def test_fractions_survive_the_round_trip_through_parts_per_billion(fraction: Decimal) -> None:
    assert from_ppb(to_ppb(fraction)) == fraction


def test_money_is_spelt_with_two_decimals_and_fractions_shortest() -> None:
    assert str(from_cents(1850)) == "18.50"
    assert str(from_ppb(100_000_000)) == "0.1"
    assert str(from_ppb(1_000_000_000)) == "1"


def test_more_decimals_than_stored_are_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="2 decimals"):
        to_cents(Decimal("18.505"))
    with pytest.raises(ValueError, match="9 decimals"):
        to_ppb(Decimal("0.1234567891"))


def test_ids_are_prefixed_random_and_reveal_no_count() -> None:
    ids = {new_id("bid") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("bid_") and len(i) == 20 for i in ids)


@given(st.integers(min_value=0, max_value=10**9))
def test_fractions_are_spelt_without_an_exponent_however_small(parts: int) -> None:
    spelt = plain(from_ppb(parts))
    assert "E" not in spelt.upper()
    assert Decimal(spelt) == Decimal(parts) / 10**9


def test_ten_parts_per_billion_are_spelt_plainly() -> None:
    assert plain(from_ppb(10)) == "0.00000001"
    assert plain(from_cents(1850)) == "18.50"
