"""Settlement arithmetic: takeover attribution and reconciliation of every figure."""

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.takeover import (
    AwardFigures,
    ItemTerms,
    SalesExceedAllocation,
    attribute_takeover,
    expectation,
    expected_items,
    expected_result,
    realised_result,
    statements,
    takeover_by_bid,
)


def test_takeover_is_pro_rata_with_largest_remainder_ties_to_lower_bid_id() -> None:
    # 7 unsold over 3 + 3 + 4 = 10 units: exact shares 2.1, 2.1, 2.8; floors 2, 2, 2 use 6;
    # the one left goes to the largest remainder, 0.8, bid C.
    assert attribute_takeover({"A": 3, "B": 3, "C": 4}, 7) == {"A": 2, "B": 2, "C": 3}
    # 1 unsold over three equal bids: remainders tie at 1/3; the lowest id takes the unit.
    assert attribute_takeover({"B": 5, "A": 5, "C": 5}, 1) == {"A": 1, "B": 0, "C": 0}


def test_takeover_edge_cases_zero_sold_all_sold_and_one_unit() -> None:
    assert attribute_takeover({"A": 3, "B": 1}, 4) == {"A": 3, "B": 1}  # nothing sold
    assert attribute_takeover({"A": 3, "B": 1}, 0) == {"A": 0, "B": 0}  # all sold
    many = {f"B{i:02d}": 1 for i in range(12)}
    assert attribute_takeover(many, 1) == {bid: int(bid == "B00") for bid in many}


def test_sales_above_the_allocated_units_are_refused() -> None:
    award = AwardFigures(
        "B1", "F1", "I1", 10, Decimal("2.00"), Decimal(0), Decimal("1.50"), Decimal(0)
    )
    with pytest.raises(SalesExceedAllocation, match="11 units sold, but only 10"):
        takeover_by_bid([award], {"I1": 11})


@given(
    units=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12),
    unsold_share=st.fractions(min_value=0, max_value=1),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_takeover_sums_to_unsold_stays_within_one_unit_and_ignores_order(
    units: list[int], unsold_share: Fraction, seed: int
) -> None:
    by_bid = {f"B{i}": u for i, u in enumerate(units)}
    total = sum(units)
    unsold = int(unsold_share * total)
    split = attribute_takeover(by_bid, unsold)
    assert sum(split.values()) == unsold
    for bid, taken in split.items():
        assert 0 <= taken <= by_bid[bid]
        exact = Fraction(unsold * by_bid[bid], total) if total else Fraction(0)
        assert abs(taken - exact) < 1
    shuffled = list(by_bid.items())
    random.Random(seed).shuffle(shuffled)
    assert attribute_takeover(dict(shuffled), unsold) == split


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


@st.composite
def settled_rounds(draw: st.DrawFn) -> tuple[list[AwardFigures], list[ItemTerms], dict[str, int]]:
    n_items = draw(st.integers(min_value=1, max_value=4))
    items = []
    for i in range(n_items):
        retail = draw(money)
        handling = draw(st.decimals(min_value=0, max_value=retail, places=2))
        salvage = draw(st.decimals(min_value=0, max_value=retail - handling, places=2))
        items.append(ItemTerms(f"I{i}", retail, handling, salvage))
    awards = []
    for b in range(draw(st.integers(min_value=1, max_value=10))):
        cost = draw(money)
        setup = draw(st.sampled_from([Decimal(0), draw(money)]))
        awards.append(
            AwardFigures(
                bid=f"B{b:02d}",
                factory=f"F{draw(st.integers(min_value=0, max_value=3))}",
                item=f"I{draw(st.integers(min_value=0, max_value=n_items - 1))}",
                units=draw(st.integers(min_value=0, max_value=5_000)),
                supply_price=(cost / Decimal("0.9")).quantize(Decimal("0.01"), "ROUND_CEILING"),
                setup_fee=(setup / Decimal("0.9")).quantize(Decimal("0.01"), "ROUND_CEILING"),
                unit_cost=cost,
                setup_cost=setup,
            )
        )
    sold = {}
    for item in items:
        allocated = sum(a.units for a in awards if a.item == item.item)
        sold[item.item] = draw(st.integers(min_value=0, max_value=allocated))
    return awards, items, sold


@given(settled_rounds())
def test_every_figure_reconciles_to_the_cent(
    case: tuple[list[AwardFigures], list[ItemTerms], dict[str, int]],
) -> None:
    awards, items, sold = case
    takeover = takeover_by_bid(awards, sold)
    lines = statements(awards, takeover)
    result = realised_result(awards, items, sold, takeover)
    terms = {t.item: t for t in items}

    assert sum(line.amount for line in lines) == result.supply_spend
    assert sum(line.units for line in lines) == result.units_ordered
    assert sum(line.takeover_units for line in lines) == result.units_taken_over
    assert result.units_sold + result.units_taken_over == result.units_ordered
    # The platform's net is what it sold, less handling and what it paid, plus salvage.
    sales = sum((terms[i].retail_price - terms[i].handling_cost) * n for i, n in sold.items())
    assert result.net == sales - result.supply_spend + result.salvage
    assert result.takeover_loss == result.takeover_spend - result.salvage
    for value in (result.revenue, result.supply_spend, result.salvage, result.net):
        assert value == value.quantize(Decimal("0.01"))  # whole cents, nothing lost
    for line in lines:
        if line.margin is not None:
            # Prices and fees are c/(1-m) and F/(1-m) rounded up: the margin holds.
            assert line.margin >= Decimal("0.10")


def test_expected_figures_take_e_min_x_d_from_the_demand_scenarios_by_hand() -> None:
    terms = ItemTerms("I1", Decimal("39.90"), Decimal("4.00"), Decimal("8.00"))
    demand = [(9000, Decimal("0.25")), (12000, Decimal("0.5")), (16000, Decimal("0.25"))]
    awards = [
        AwardFigures(
            "B1", "F1", "I1", 7000, Decimal("20.56"), Decimal(0), Decimal("18.50"), Decimal(0)
        ),
        AwardFigures(
            "B2", "F2", "I1", 5000, Decimal("18.89"), Decimal("10.00"), Decimal("17"), Decimal(9)
        ),
    ]
    [item] = expected_items(awards, [terms], {"I1": demand})
    # E[min(12000, D)] = 0.25 x 9000 + 0.5 x 12000 + 0.25 x 12000 = 11250; 750 unsold.
    assert item.units_sold == 11250
    assert item.units_taken_over == 750
    assert item.revenue == Decimal("448875.00")  # 11250 x 39.90
    assert item.handling == Decimal("45000.00")
    assert item.supply_spend == Decimal("238380.00")  # 7000 x 20.56 + 5000 x 18.89 + 10.00
    # Unsold at the average price (143920 + 94450) / 12000: 750 x 19.8641666... = 14898.125
    # exactly, a half cent, rounded half even.
    assert item.takeover_spend == Decimal("14898.12")
    assert item.salvage == Decimal("6000.00")
    assert item.takeover_loss == Decimal("8898.12")
    total = expected_result(awards, [terms], {"I1": demand})
    assert total.net == Decimal("448875.00") - Decimal("45000.00") - Decimal("238380.00") + 6000
    assert expectation(0, Decimal(0), Decimal("8.00"), demand).unsold == 0


@given(settled_rounds())
def test_the_round_totals_are_the_sums_of_the_items_realised_and_expected(
    case: tuple[list[AwardFigures], list[ItemTerms], dict[str, int]],
) -> None:
    awards, items, sold = case
    takeover = takeover_by_bid(awards, sold)
    demand = {t.item: [(0, Decimal("0.5")), (sold[t.item], Decimal("0.5"))] for t in items}
    for totals in (
        realised_result(awards, items, sold, takeover),
        expected_result(awards, items, demand),
    ):
        for name in ("revenue", "handling", "supply_spend", "salvage", "takeover_spend", "net"):
            assert getattr(totals, name) == sum(
                (getattr(i, name) for i in totals.items), Decimal(0)
            )
        assert totals.units_sold + totals.units_taken_over == totals.units_ordered
