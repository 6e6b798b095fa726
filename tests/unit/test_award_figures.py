"""The figures an award's sentence is built from, gathered from an allocation's stored
problem and result (plain JSON, as a page reads them): the factory's own share where it has
one, its units committed in earlier rounds, the item's share cap, the bid's terms, and a
ceiling only where the result states one."""

from decimal import Decimal
from typing import Any

from bidding.award_figures import context_of_documents, stated_cost_ceiling
from solver.result import BidAllocation

PROBLEM: dict[str, Any] = {
    "round": {"id": "R", "currency": "CNY", "capacity_share": "0.2", "budget": "90000"},
    "factories": [
        {"id": "F1", "monthly_capacity": 50000, "capacity_share": None, "committed_units": 0},
        {"id": "F2", "monthly_capacity": 40000, "capacity_share": "0.15", "committed_units": 2500},
    ],
    "items": [
        {"id": "JAR", "max_factory_share": "0.3"},
        {"id": "LID", "max_factory_share": None},
    ],
    "bids": [
        {"id": "B1", "factory": "F1", "item": "JAR", "unit_cost": 5, "capacity": 12000},
        {
            "id": "B2",
            "factory": "F2",
            "item": "JAR",
            "unit_cost": "7.5",
            "capacity": 3000,
            "min_lot": 500,
            "ask_price": "9.00",
        },
        {"id": "B3", "factory": "F2", "item": "LID", "unit_cost": "1", "capacity": 800},
    ],
}
RESULT: dict[str, Any] = {
    "allocations": [
        {"bid": "B1", "factory": "F1", "item": "JAR", "units": 10000},
        {"bid": "B2", "factory": "F2", "item": "JAR", "units": 3000, "cost_ceiling": "11.25"},
        {"bid": "B3", "factory": "F2", "item": "LID", "units": 500},
    ]
}


def _row(bid: str, factory: str, item: str, units: int, reason: str) -> BidAllocation:
    return BidAllocation(
        bid=bid,
        factory=factory,
        item=item,
        units=units,
        supply_price=Decimal("10.00"),
        setup_fee=Decimal("0.00"),
        capacity_share_used=0.0,
        margin=None,
        reason=reason,
    )


def test_each_figure_comes_from_the_stored_problem_and_result() -> None:
    context = context_of_documents(
        period="2027-07", currency="CNY", problem=PROBLEM, result=RESULT, bid_ids={"B2"}
    )
    f = context.figures(
        bid="B2",
        factory="F2",
        item="JAR",
        item_name="Glass jar 500ml",
        units=3000,
        supply_price=Decimal("9.00"),
        reason="capacity_bound",
        cost_to_win_more=None,
    )
    assert (f.share, f.monthly_capacity, f.committed) == (Decimal("0.15"), 40000, 2500)
    assert f.factory_units == 3500  # both of F2's awards in this round
    assert (f.item_share, f.budget) == (Decimal("0.3"), Decimal("90000"))
    assert (f.capacity, f.min_lot, f.ask_price) == (3000, 500, Decimal("9.00"))
    assert f.cost_ceiling == Decimal("11.25")
    assert (f.period, f.currency, f.item_name) == ("2027-07", "CNY", "Glass jar 500ml")


def test_a_factory_without_its_own_share_has_the_rounds_and_only_wanted_bids_are_read() -> None:
    context = context_of_documents(
        period="2027-07", currency="CNY", problem=PROBLEM, result=RESULT, bid_ids={"B1"}
    )
    words = context.explain_row(_row("B1", "F1", "JAR", 10000, "capacity_bound"), "Glass jar")
    assert words.startswith(
        "Your share for 2027-07 is full: 20% of 50,000 units = 10,000, all awarded in this round."
    )
    assert set(context.bids) == {"B1"}
    assert context.ceilings == {"B1": None}


def test_a_ceiling_is_read_from_a_row_or_a_model_and_is_none_where_not_stated() -> None:
    assert stated_cost_ceiling({"cost_ceiling": "4.10"}) == Decimal("4.10")
    assert stated_cost_ceiling({"cost_ceiling": 0}) == Decimal("0")
    assert stated_cost_ceiling({"bid": "B1"}) is None
    assert stated_cost_ceiling({"cost_ceiling": "pending"}) is None
    assert stated_cost_ceiling({"cost_ceiling": 12.5}) == Decimal("12.5")
    assert stated_cost_ceiling(_row("B1", "F1", "JAR", 0, "lost_on_price")) is None
