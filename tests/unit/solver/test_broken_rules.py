"""whole.broken_rules (totals by array) against the rules checked bid by bid as SPEC 3
states them, on random rounds and random whole units, many of them breaking rules."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.model import AllocationModel, build_model
from solver.problem import parse_problem
from solver.whole import broken_rules
from tests.unit.solver.builders import random_problem_data


def plain_broken_rules(model: AllocationModel, units: list[int]) -> npt.NDArray[np.bool_]:
    """The hard rules, one bid, item and factory at a time, in Python integers and Decimal."""
    problem = model.problem
    out = np.zeros(len(problem.bids), dtype=np.bool_)
    for k, bid in enumerate(problem.bids):
        out[k] = units[k] > bid.capacity or 0 < units[k] < bid.min_lot
    for item in problem.items:
        members = model.bids_by_item[item.id].tolist()
        total = sum(units[k] for k in members)
        beta = item.max_factory_share
        too_big = beta is not None and beta < 1 and any(units[k] > beta * total for k in members)
        if total < item.min_fill or too_big:
            out[members] = True
    for factory_id, members in model.bids_by_factory.items():
        placed = sum(units[k] for k in members.tolist())
        g = model.guarantee.get(factory_id, 0)
        if placed > model.room[factory_id] or (g > 0 and placed < g):
            out[members] = True
    budget = problem.round.budget
    if budget is not None:
        spend = sum(
            (model.prices[k] * x + model.fees[k] for k, x in enumerate(units) if x > 0),
            Decimal(0),
        )
        if spend > budget:
            out |= np.array(units) > 0
    return out


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    milp=st.booleans(),
    draws=st.lists(st.integers(0, 400), min_size=40, max_size=40),
    zeros=st.floats(0, 1),
)
def test_broken_rules_are_the_rules_bid_by_bid(
    seed: int, milp: bool, draws: list[int], zeros: float
) -> None:
    problem = parse_problem(random_problem_data(seed, milp=milp, bids=40))
    model = build_model(problem)
    n = len(problem.bids)
    units = [0 if (x % 100) / 100 < zeros else x for x in draws[:n]]
    expected = plain_broken_rules(model, units)
    assert broken_rules(model, np.array(units, dtype=np.int64)).tolist() == expected.tolist()
