"""The independent verifier: a correct result passes, and each kind of tampering is named.

The round below is solved by hand (m = 10%, alpha = 20%):

- F1 (capacity 10,000, share 2,000 units), F2 (capacity 5,000, share 1,000 units).
- I1: r 40, h 4, s 8, demand 1,000 or 2,000 (1/2 each). A unit's marginal value is
  28 * P(D > X) + 8: 36 below 1,000 units, 22 up to 2,000, 8 beyond.
- I2: r 30, h 3, s 6, demand 500 (certain): 21 + 6 = 27 per unit up to 500, 6 beyond.
- B1 (F1, I1): c 18.00, q 1,500: p = 18 / 0.9 = 20.00.
- B2 (F2, I1): c 18.50, q 800, ask 21.00: floor 20.5555.. -> 20.56, so p = 21.00.
- B3 (F1, I2): c 9.00, q 600, lot 100, setup 90.00: p = 10.00, fee 90 / 0.9 = 100.00.

Optimum: B1 1,500 and B2 500 fill I1 to 2,000 (both below 22, B1 cheaper); B3 500 fills
I2 (27 > 10); F1 gives 1,500 + 500 = 2,000, exactly its share.
Objective: I1 28 * (0.5 * 1,000 + 0.5 * 2,000) + 8 * 2,000 = 58,000; I2 21 * 500 + 6 * 500
= 13,500; spend 20 * 1,500 + 21 * 500 + 10 * 500 + 100 = 45,600; profit 25,900.00.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from solver.problem import Problem, parse_problem
from solver.result import BidAllocation, Result, SolverInfo
from solver.verify import Finding, expected_profit, price_floor, verify


def problem_data(**round_terms: Any) -> dict[str, Any]:
    """The hand-solved round of this module, as exchange-format data."""
    return {
        "round": {"id": "R-test", "margin_floor": "0.10", "capacity_share": "0.20", **round_terms},
        "factories": [
            {"id": "F1", "monthly_capacity": 10_000},
            {"id": "F2", "monthly_capacity": 5_000},
        ],
        "items": [
            {
                "id": "I1",
                "retail_price": "40.00",
                "handling_cost": "4.00",
                "salvage_value": "8.00",
                "demand": [
                    {"units": 1000, "probability": "0.5"},
                    {"units": 2000, "probability": "0.5"},
                ],
            },
            {
                "id": "I2",
                "retail_price": "30.00",
                "handling_cost": "3.00",
                "salvage_value": "6.00",
                "demand": [{"units": 500, "probability": 1}],
            },
        ],
        "bids": [
            {"id": "B1", "factory": "F1", "item": "I1", "unit_cost": "18.00", "capacity": 1500},
            {
                "id": "B2",
                "factory": "F2",
                "item": "I1",
                "unit_cost": "18.50",
                "capacity": 800,
                "ask_price": "21.00",
            },
            {
                "id": "B3",
                "factory": "F1",
                "item": "I2",
                "unit_cost": "9.00",
                "capacity": 600,
                "min_lot": 100,
                "setup_cost": "90.00",
            },
        ],
    }


def correct_rows() -> list[BidAllocation]:
    """The hand-computed optimum; margins and shares stated as the arithmetic gives them."""
    return [
        BidAllocation(
            bid="B1",
            factory="F1",
            item="I1",
            units=1500,
            supply_price=Decimal("20.00"),
            setup_fee=Decimal("0.00"),
            capacity_share_used=0.15,
            margin=0.1,  # (20 - 18) * 1500 / (20 * 1500)
            reason="won_full",
        ),
        BidAllocation(
            bid="B2",
            factory="F2",
            item="I1",
            units=500,
            supply_price=Decimal("21.00"),
            setup_fee=Decimal("0.00"),
            capacity_share_used=0.1,
            margin=0.119048,  # 2.5 / 21
            reason="won_partial",
        ),
        BidAllocation(
            bid="B3",
            factory="F1",
            item="I2",
            units=500,
            supply_price=Decimal("10.00"),
            setup_fee=Decimal("100.00"),
            capacity_share_used=0.05,
            margin=0.1,  # (1 * 500 + 100 - 90) / (5000 + 100)
            reason="capacity_bound",
        ),
    ]


def make_result(
    problem: Problem,
    rows: list[BidAllocation],
    *,
    objective: str = "25900.00",
    status: str = "optimal",
) -> Result:
    return Result.model_validate(
        {
            "round": problem.round.id,
            "status": status,
            "objective": objective,
            "continuous_objective": objective,
            "gap": 0.0,
            "input_hash": problem.input_hash,
            "solver": SolverInfo(name="hand", version="1", options={}),
            "allocations": rows,
        }
    )


def with_row(rows: list[BidAllocation], bid: str, **changes: Any) -> list[BidAllocation]:
    return [r.model_copy(update=changes) if r.bid == bid else r for r in rows]


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


@pytest.fixture
def problem() -> Problem:
    return parse_problem(problem_data())


def test_the_hand_solved_optimum_passes(problem: Problem) -> None:
    assert verify(problem, make_result(problem, correct_rows())) == []


def test_expected_profit_is_the_hand_computed_objective(problem: Problem) -> None:
    assert expected_profit(problem, {"B1": 1500, "B2": 500, "B3": 500}) == Decimal("25900")


def test_price_floor_rounds_up_to_the_cent() -> None:
    assert price_floor(Decimal("18.50"), Decimal("0.10")) == Decimal("20.56")
    assert price_floor(Decimal("18.00"), Decimal("0.10")) == Decimal("20.00")
    assert price_floor(Decimal("0.01"), Decimal("0.5")) == Decimal("0.02")


def test_a_price_one_cent_below_the_floor_breaks_the_unit_and_factory_margin(
    problem: Problem,
) -> None:
    rows = with_row(correct_rows(), "B1", supply_price=Decimal("19.99"), margin=0.099550)
    findings = verify(problem, make_result(problem, rows))
    assert rules(findings) == {
        "price_below_floor",
        "unit_margin_below_floor",
        "factory_margin_below_floor",
    }
    assert {f.bid for f in findings if f.rule == "price_below_floor"} == {"B1"}
    assert {f.factory for f in findings if f.rule == "factory_margin_below_floor"} == {"F1"}


def test_a_price_above_the_stated_rule_is_a_mismatch(problem: Problem) -> None:
    rows = with_row(correct_rows(), "B2", supply_price=Decimal("21.01"), margin=0.119467)
    assert rules(verify(problem, make_result(problem, rows))) == {"price_mismatch"}


def test_an_ask_below_the_floor_does_not_lower_the_price(problem: Problem) -> None:
    data = problem_data()
    data["bids"][1]["ask_price"] = "20.00"  # below the floor of 20.56
    low_ask = parse_problem(data)
    rows = with_row(correct_rows(), "B2", supply_price=Decimal("20.00"))
    assert "price_below_floor" in rules(verify(low_ask, make_result(low_ask, rows)))


def test_units_above_the_bid_capacity_are_found(problem: Problem) -> None:
    rows = with_row(correct_rows(), "B2", units=801, capacity_share_used=0.1602, margin=0.119048)
    findings = verify(problem, make_result(problem, rows))
    assert "bid_capacity_exceeded" in rules(findings)
    assert [f.bid for f in findings if f.rule == "bid_capacity_exceeded"] == ["B2"]


def test_a_factory_over_its_capacity_share_is_found(problem: Problem) -> None:
    # F1: 1,500 + 501 = 2,001 > 20% of 10,000. The unit beyond demand: 6 (salvage) - 10.
    rows = with_row(correct_rows(), "B3", units=501, capacity_share_used=0.0501, margin=0.1)
    findings = verify(problem, make_result(problem, rows, objective="25896.00"))
    assert rules(findings) == {"capacity_share_exceeded"}
    assert findings[0].factory == "F1"


def test_committed_units_count_against_the_share() -> None:
    data = problem_data()
    data["factories"][1]["committed_units"] = 600  # F2 may give 1,000 - 600 = 400 more
    committed = parse_problem(data)
    findings = verify(committed, make_result(committed, correct_rows()))
    assert rules(findings) == {"capacity_share_exceeded"}
    assert findings[0].factory == "F2"


def test_a_lot_below_the_minimum_is_found(problem: Problem) -> None:
    # B3 at 50 units: I2 gives 50 * 27 = 1,350, not 13,500; spend 500 + 100, not 5,100.
    rows = with_row(correct_rows(), "B3", units=50, capacity_share_used=0.005, margin=0.1)
    findings = verify(problem, make_result(problem, rows, objective="18250.00"))
    assert rules(findings) == {"below_min_lot"}


def test_an_exceeded_budget_is_found() -> None:
    over = parse_problem(problem_data(budget="45599.99"))  # spend is 45,600.00
    findings = verify(over, make_result(over, correct_rows()))
    assert rules(findings) == {"budget_exceeded"}
    exact = parse_problem(problem_data(budget="45600.00"))
    assert verify(exact, make_result(exact, correct_rows())) == []


def test_an_objective_off_by_a_cent_is_found(problem: Problem) -> None:
    off = verify(problem, make_result(problem, correct_rows(), objective="25900.02"))
    assert rules(off) == {"objective_mismatch"}
    # the exact profit rounded half up to the cent, and nothing else (review C9 b)
    cent = verify(problem, make_result(problem, correct_rows(), objective="25900.01"))
    assert rules(cent) == {"objective_mismatch"}


def test_a_missing_row_is_found(problem: Problem) -> None:
    # Without B2, I1 has 1,500 units: 28 * 1,250 + 8 * 1,500 = 47,000; spend 10,500 less.
    rows = [r for r in correct_rows() if r.bid != "B2"]
    findings = verify(problem, make_result(problem, rows, objective="25400.00"))
    assert [(f.rule, f.bid) for f in findings] == [("missing_row", "B2")]


def test_unknown_and_duplicate_rows_and_wrong_ids_are_found(problem: Problem) -> None:
    rows = correct_rows()
    ghost = rows[0].model_copy(update={"bid": "B9", "units": 0, "margin": None})
    rows = [*rows, ghost, rows[1]]
    rows = with_row(rows, "B3", factory="F2", item="I1")
    found = {(f.rule, f.bid) for f in verify(problem, make_result(problem, rows))}
    assert found == {
        ("unknown_bid", "B9"),
        ("duplicate_row", "B2"),
        ("wrong_factory", "B3"),
        ("wrong_item", "B3"),
    }


def test_a_wrong_setup_fee_is_found(problem: Problem) -> None:
    rows = with_row(correct_rows(), "B3", setup_fee=Decimal("90.00"), margin=0.098039)
    findings = verify(problem, make_result(problem, rows))
    assert "setup_fee_mismatch" in rules(findings)
    # Paying the setup at cost leaves F1's round below its margin: 3,490 / 35,090.
    assert "factory_margin_below_floor" in rules(findings)


def test_stated_margin_and_share_must_match_the_units(problem: Problem) -> None:
    rows = with_row(correct_rows(), "B2", margin=0.2, capacity_share_used=0.5)
    assert rules(verify(problem, make_result(problem, rows))) == {
        "margin_mismatch",
        "capacity_share_used_mismatch",
    }


def test_a_min_fill_not_met_is_found() -> None:
    short = parse_problem(_with_item(problem_data(), "I1", min_fill=2100))
    findings = verify(short, make_result(short, correct_rows()))
    assert [(f.rule, f.item) for f in findings] == [("min_fill_not_met", "I1")]


def test_an_item_share_above_beta_is_found() -> None:
    # beta 0.7: B1 may have at most 0.7 * 2,000 = 1,400 of I1's units; it has 1,500.
    capped = parse_problem(_with_item(problem_data(), "I1", max_factory_share="0.7"))
    findings = verify(capped, make_result(capped, correct_rows()))
    assert [(f.rule, f.bid) for f in findings] == [("item_share_exceeded", "B1")]


def test_a_new_factory_guarantee_not_met_is_found() -> None:
    data = problem_data()
    data["factories"][1].update(is_new=True, guaranteed_units=800)
    # g = min(800, floor(0.2 * 5,000), B2's 800) = 800 > 500 awarded.
    promised = parse_problem(data)
    findings = verify(promised, make_result(promised, correct_rows()))
    assert [(f.rule, f.factory) for f in findings] == [("guarantee_not_met", "F2")]


def test_a_guarantee_is_capped_by_the_factory_bids() -> None:
    data = problem_data()
    data["factories"][1].update(is_new=True, guaranteed_units=900)
    data["bids"][1]["capacity"] = 500  # g = min(900, 1000, 500) = 500: met exactly
    capped = parse_problem(data)
    rows = with_row(correct_rows(), "B2", reason="won_full")
    assert verify(capped, make_result(capped, rows)) == []


def test_a_stated_result_needs_its_continuous_optimum(problem: Problem) -> None:
    result = make_result(problem, correct_rows())
    missing = result.model_copy(update={"continuous_objective": None, "gap": None})
    assert rules(verify(problem, missing)) == {"continuous_objective_missing"}


def test_won_partial_needs_units(problem: Problem) -> None:
    rows = [
        r.model_copy(update={"units": 0, "margin": None, "capacity_share_used": 0.0})
        if r.bid == "B1"
        else r
        for r in correct_rows()
    ]
    rows = [r.model_copy(update={"reason": "won_partial"}) if r.bid == "B1" else r for r in rows]
    findings = verify(problem, make_result(problem, rows))
    assert "reason_mismatch" in rules(findings)


def test_an_infeasible_result_must_award_nothing(problem: Problem) -> None:
    empty = [
        r.model_copy(update={"units": 0, "margin": None, "capacity_share_used": 0.0})
        for r in correct_rows()
    ]
    # nothing about units, but no allocation is not a verified allocation (review C9 a)
    assert rules(verify(problem, make_result(problem, empty, status="infeasible"))) == {
        "no_allocation"
    }
    findings = verify(problem, make_result(problem, correct_rows(), status="infeasible"))
    assert rules(findings) == {"units_without_solution", "no_allocation"}


def test_a_result_of_another_problem_is_found(problem: Problem) -> None:
    other = parse_problem(problem_data(budget="1000000"))
    assert rules(verify(problem, make_result(other, correct_rows()))) == {"input_hash_mismatch"}


def test_a_result_of_another_round_is_one_finding_not_one_per_row(problem: Problem) -> None:
    rows = [r.model_copy(update={"factory": "F-other", "units": 10**6}) for r in correct_rows()]
    other_round = make_result(problem, rows).model_copy(update={"round": "R-other"})
    assert [f.rule for f in verify(problem, other_round)] == ["round_mismatch"]
    other_problem = make_result(problem, rows).model_copy(update={"input_hash": "sha256:0"})
    assert [f.rule for f in verify(problem, other_problem)] == ["input_hash_mismatch"]


def test_a_reason_contradicting_the_units_is_found(problem: Problem) -> None:
    rows = with_row(correct_rows(), "B2", reason="won_full")
    assert rules(verify(problem, make_result(problem, rows))) == {"reason_mismatch"}
    rows = with_row(correct_rows(), "B1", reason="capacity_bound")
    assert rules(verify(problem, make_result(problem, rows))) == {"reason_mismatch"}


def test_a_findings_message_names_rule_and_ids() -> None:
    finding = Finding("capacity_share_exceeded", "too many", factory="F1")
    assert str(finding) == "capacity_share_exceeded (factory F1): too many"


def _with_item(data: dict[str, Any], item_id: str, **changes: Any) -> dict[str, Any]:
    for item in data["items"]:
        if item["id"] == item_id:
            item.update(changes)
    return data
