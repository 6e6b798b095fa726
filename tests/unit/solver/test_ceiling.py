"""solver/ceiling.py's table of paying prices against the definition, bid by bid: the same
highest price for any item, range and fee (extreme amounts included, where S(x) is not
exact in 28 digits and every candidate is worked out), and the same ceilings for whole
random rounds."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.ceiling import _PayingPrices, ceiling_cost, cost_ceilings, highest_paying_price
from solver.model import build_model
from solver.problem import ProblemItem, parse_problem
from solver.values import MAX_MONEY, MAX_UNITS
from tests.unit.solver.builders import random_problem_data

UNITS = st.integers(0, 2000) | st.integers(0, MAX_UNITS)
MONEY = st.decimals(min_value=0, max_value=500, places=2) | st.decimals(
    min_value=0, max_value=MAX_MONEY, places=2
)


@st.composite
def items(draw: st.DrawFn) -> ProblemItem:
    """An item with 1 to 12 scenarios (probabilities summing to 1, 9 places) and money
    from cents to the format's largest amounts."""
    weights = draw(st.lists(st.integers(1, 1000), min_size=1, max_size=12))
    parts = [Decimal(w * 10**9 // sum(weights)) for w in weights]
    parts[0] += 10**9 - sum(parts)
    units = draw(st.lists(UNITS, min_size=len(weights), max_size=len(weights)))
    retail = draw(MONEY)
    handling = draw(st.decimals(min_value=0, max_value=retail, places=2))
    salvage = draw(st.decimals(min_value=0, max_value=retail - handling, places=2))
    return ProblemItem.model_validate(
        {
            "id": "I",
            "retail_price": retail,
            "handling_cost": handling,
            "salvage_value": salvage,
            "demand": [
                {"units": u, "probability": p.scaleb(-9)} for u, p in zip(units, parts, strict=True)
            ],
        }
    )


@settings(max_examples=300, deadline=None)
@given(
    item=items(),
    ranges=st.lists(st.tuples(UNITS, UNITS), min_size=1, max_size=6),
    fee=st.sampled_from([Decimal("0.00"), Decimal(0)]) | MONEY,
)
def test_the_table_gives_the_definitions_highest_price(
    item: ProblemItem, ranges: list[tuple[int, int]], fee: Decimal
) -> None:
    table = _PayingPrices(item)
    for a, b in ranges:
        lo, hi = max(min(a, b), 1), max(a, b, 1)
        expected = highest_paying_price(item, lo, hi, fee)
        assert table.highest(lo, hi, fee) == expected
        # the ceiling is a function of the price's value: the same ceiling
        assert ceiling_cost(table.highest(lo, hi, fee), None, Decimal("0.1")) == ceiling_cost(
            expected, None, Decimal("0.1")
        )


def _scaled(data: dict[str, Any], factor: int, seed: int) -> dict[str, Any]:
    """The round with asks up to 1.2 times the retail price and setup costs without lots
    on some bids, and every amount of its items and bids times `factor` (10**7: amounts
    of hundreds of millions, where S(x) is not exact in 28 digits)."""
    rng = random.Random(seed)
    retail = {i["id"]: Decimal(i["retail_price"]) for i in data["items"]}
    for row in data["bids"]:
        if rng.random() < 0.3:
            row["ask_price"] = str(
                (retail[row["item"]] * Decimal(rng.uniform(0.5, 1.2))).quantize(Decimal("0.01"))
            )
        if rng.random() < 0.2 and not row.get("min_lot"):
            row["setup_cost"] = f"{rng.uniform(0, 300):.2f}"
    money = ("retail_price", "handling_cost", "salvage_value", "unit_cost", "ask_price")
    for row in [*data["items"], *data["bids"]]:
        for name in money:
            if row.get(name) is not None:
                row[name] = str(Decimal(row[name]) * factor)
    data["round"]["budget"] = None
    return data


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), milp=st.booleans(), factor=st.sampled_from([1, 10**7]))
def test_cost_ceilings_are_the_definitions_bid_by_bid(seed: int, milp: bool, factor: int) -> None:
    problem = parse_problem(_scaled(random_problem_data(seed, milp=milp, bids=30), factor, seed))
    model = build_model(problem)
    items = {i.id: i for i in problem.items}
    forced = {i.id for i in problem.items if i.min_fill > 0}
    guaranteed = {f for f, g in model.guarantee.items() if g > 0}
    expected: list[Decimal | None] = []
    for k, bid in enumerate(problem.bids):
        lo, hi = max(bid.min_lot, 1), min(bid.capacity, model.room[bid.factory])
        if bid.item in forced or bid.factory in guaranteed:
            expected.append(None)
        elif hi < lo:
            expected.append(Decimal("0.00"))
        else:
            need = highest_paying_price(items[bid.item], lo, hi, model.fees[k])
            expected.append(ceiling_cost(need, bid.ask_price, problem.round.margin_floor))
    assert list(map(str, cost_ceilings(model))) == list(map(str, expected))


def test_without_a_fee_only_the_low_end_is_priced() -> None:
    """The shortcut is taken (and so tested above): one price per distinct low end."""
    item = ProblemItem.model_validate(
        {
            "id": "I",
            "retail_price": "10.00",
            "handling_cost": "1.00",
            "salvage_value": "2.00",
            "demand": [{"units": 5, "probability": "0.5"}, {"units": 50, "probability": "0.5"}],
        }
    )
    table = _PayingPrices(item)
    for hi in range(1, 80):
        table.highest(1, hi, Decimal(0))
    assert list(table._price) == [(1, Decimal(0))]
