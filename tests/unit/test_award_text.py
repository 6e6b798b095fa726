"""Awards in plain words: one sentence per reason and per null case, from fixture figures."""

from dataclasses import replace
from decimal import Decimal

import pytest

from bidding.award_text import AwardInWords, explanation, percent

JAR = AwardInWords(
    reason="won_partial",
    units=3000,
    item_name="Glass jar 500ml",
    period="2027-07",
    currency="CNY",
    supply_price=Decimal("20.56"),
    capacity=8000,
    share=Decimal("0.2"),
    monthly_capacity=50000,
)


def test_a_full_share_states_alpha_capacity_and_the_cap_all_awarded_in_this_round() -> None:
    figures = replace(
        JAR, reason="capacity_bound", units=6000, factory_units=10000, cost_to_win_more=None
    )
    assert explanation(figures) == (
        "Your share for 2027-07 is full: 20% of 50,000 units = 10,000, all awarded in this round."
    )


def test_a_full_share_names_the_units_committed_in_earlier_rounds_of_the_period() -> None:
    figures = replace(
        JAR,
        reason="capacity_bound",
        share=Decimal("0.15"),
        monthly_capacity=40000,
        committed=2500,
        factory_units=3500,
        cost_to_win_more=Decimal("8.40"),
    )
    assert explanation(figures) == (
        "Your share for 2027-07 is full: 15% of 40,000 units = 6,000; 2,500 were awarded in "
        "earlier rounds of 2027-07 and 3,500 in this round. At a unit cost of 8.40 CNY or less you "
        "would have won more units of Glass jar 500ml."
    )


def test_a_share_with_a_few_units_left_says_how_many() -> None:
    figures = replace(JAR, reason="capacity_bound", factory_units=9990)
    assert explanation(figures) == (
        "Your share for 2027-07 stopped this bid: 20% of 50,000 units = 10,000; 9,990 are "
        "awarded in this round, and the 10 units left are too few for more of this bid."
    )


def test_the_item_share_cap_states_beta_and_the_units_that_reach_it() -> None:
    figures = replace(
        JAR, reason="item_share_bound", item_share=Decimal("0.30"), units=3600, capacity=5000
    )
    assert explanation(figures) == (
        "One factory may supply at most 30% of the Glass jar 500ml bought in this round, and "
        "your 3,600 units reach that share."
    )


def test_the_budget_names_its_amount_in_the_round_currency() -> None:
    figures = replace(
        JAR, reason="budget_bound", budget=Decimal("1250000"), cost_to_win_more=Decimal("17.3")
    )
    assert explanation(figures) == (
        "The round's budget of 1,250,000.00 CNY is spent: you won 3,000 units of Glass jar "
        "500ml, and buying more of this bid would exceed it. At a unit cost of 17.30 CNY or "
        "less you would have won more units of Glass jar 500ml."
    )


def test_a_guarantee_says_units_went_to_new_factories_without_naming_them() -> None:
    figures = replace(JAR, reason="guarantee_bound", units=0)
    assert explanation(figures) == (
        "Units of this round are guaranteed to new factories, and that guarantee took units "
        "of Glass jar 500ml this bid would otherwise have won."
    )


def test_a_minimum_lot_too_large_states_the_lot() -> None:
    figures = replace(JAR, reason="below_min_lot", units=0, min_lot=12000)
    assert explanation(figures) == (
        "Your minimum lot of 12,000 units of Glass jar 500ml is more than this round could "
        "take from you, so the bid won no units."
    )


def test_won_in_full_has_no_threshold_sentence() -> None:
    figures = replace(JAR, reason="won_full", units=8000)
    assert explanation(figures) == (
        "You won your full capacity: 8,000 units of Glass jar 500ml at 20.56 CNY each."
    )


def test_won_in_part_states_what_was_offered_and_the_threshold() -> None:
    figures = replace(JAR, cost_to_win_more=Decimal("19.99"))
    assert explanation(figures) == (
        "You won 3,000 of the 8,000 units of Glass jar 500ml you offered, at 20.56 CNY each: "
        "more would not have paid at that price, given the expected demand and the other "
        "offers. At a unit cost of 19.99 CNY or less you would have won more units of Glass "
        "jar 500ml."
    )


def test_lost_on_price_states_the_supply_price_and_the_cost_that_wins_units() -> None:
    figures = replace(
        JAR,
        reason="lost_on_price",
        units=0,
        supply_price=Decimal("9.34"),
        cost_to_win_more=Decimal("8.40"),
    )
    assert explanation(figures) == (
        "You won no units of Glass jar 500ml: at your supply price of 9.34 CNY, no unit would "
        "have paid, given the expected demand and the other offers. At a unit cost of 8.40 CNY "
        "or less you would have won units of Glass jar 500ml."
    )


def test_an_excluded_bid_says_so_and_nothing_more() -> None:
    figures = replace(JAR, reason="excluded", units=0, capacity=None, cost_ceiling=Decimal("12.00"))
    assert explanation(figures) == (
        "This bid was left out of the allocation by a what-if, so it won no units."
    )


def test_a_pending_threshold_says_it_is_being_worked_out() -> None:
    figures = replace(JAR, cost_to_win_more="pending")
    assert explanation(figures).endswith(
        "The unit cost at which you would have won more units of Glass jar 500ml is being "
        "worked out and will be shown here."
    )


def test_an_ask_that_sets_the_price_explains_the_null_threshold() -> None:
    figures = replace(
        JAR, reason="lost_on_price", units=0, ask_price=Decimal("25"), supply_price=Decimal("25")
    )
    assert explanation(figures).endswith(
        "Your ask price of 25.00 CNY sets your supply price, so a lower unit cost alone would "
        "not have won you units."
    )


def test_an_ask_below_the_supply_price_makes_no_claim_about_a_lower_cost() -> None:
    # The price is the cost's floor (20.56), not the ask: a null threshold here may be
    # "not worked out yet" (a round above the size explained with the solve).
    figures = replace(JAR, reason="won_partial", ask_price=Decimal("5"))
    assert "ask price" not in explanation(figures)
    assert explanation(figures).endswith("the expected demand and the other offers.")


def test_a_cost_ceiling_is_stated_as_the_cost_at_which_no_unit_can_be_won() -> None:
    figures = replace(
        JAR,
        reason="lost_on_price",
        units=0,
        cost_to_win_more=Decimal("8.40"),
        cost_ceiling=Decimal("11.25"),
    )
    assert explanation(figures).endswith(
        "At a unit cost of 8.40 CNY or less you would have won units of Glass jar 500ml. "
        "At a unit cost of 11.25 CNY or more this bid cannot win a unit, whatever the other "
        "factories bid."
    )


def test_a_ceiling_of_zero_says_no_unit_cost_wins() -> None:
    figures = replace(JAR, reason="lost_on_price", units=0, cost_ceiling=Decimal("0.00"))
    assert explanation(figures).endswith(
        "This bid cannot win a unit at any unit cost, whatever the other factories bid."
    )


def test_a_null_ceiling_adds_no_sentence() -> None:
    assert "whatever the other factories bid" not in explanation(replace(JAR, cost_ceiling=None))


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [(Decimal("0.2"), "20%"), (Decimal("0.125"), "12.5%"), (Decimal("1"), "100%")],
)
def test_shares_are_percentages_without_trailing_zeros(fraction: Decimal, shown: str) -> None:
    assert percent(fraction) == shown


def test_a_null_threshold_without_an_ask_claims_nothing_about_a_lower_cost() -> None:
    # Null may be SPEC 3's "not even at 0.00" or the allocator's "not stated" (a binding
    # budget): no figure tells them apart, so no sentence about a lower cost is made.
    figures = replace(JAR, reason="lost_on_price", units=0, budget=Decimal("5000"))
    assert explanation(figures) == (
        "You won no units of Glass jar 500ml: at your supply price of 20.56 CNY, no unit would "
        "have paid, given the expected demand and the other offers."
    )
