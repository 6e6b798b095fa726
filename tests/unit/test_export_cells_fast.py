"""The whole-number spellings of money and percentages (streamed exports) against the
Decimal path every other export takes: the same text for any amount."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bidding.export_cells import Money, Percent, cents_text, csv_text, ppb_percent_text

PPB = 10**9


@given(st.integers(-(10**15), 10**15))
def test_cents_are_spelled_as_money(cents: int) -> None:
    assert cents_text(cents) == csv_text(Money(Decimal(cents) / 100))


@given(st.integers(-(10**12), 10**12))
def test_parts_per_billion_are_spelled_as_percentages(ppb: int) -> None:
    assert ppb_percent_text(ppb) == csv_text(Percent(Decimal(ppb) / PPB))


def test_examples() -> None:
    assert [cents_text(c) for c in (0, 5, -5, 123456)] == ["0.00", "0.05", "-0.05", "1234.56"]
    assert [ppb_percent_text(p) for p in (0, 125_000_000, 10**9, -5_000_000, 1)] == [
        "0.00%",
        "12.50%",
        "100.00%",
        "-0.50%",
        "0.0000001%",
    ]
