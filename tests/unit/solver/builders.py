"""Plain functions that make small allocation problems for the solver's tests.

Each returns problem-format data (a dict), so a test can change one field and parse it.
Defaults are chosen so the arithmetic stays easy by hand: margin floor 10% (a unit cost
of 9 gives a supply price of 10), capacity share 50%, one item with two demand scenarios.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from solver.problem import Problem, parse_problem


def round_terms(**overrides: Any) -> dict[str, Any]:
    """A round with margin floor 0.10, capacity share 0.5, no budget, gap 1e-9."""
    return {
        "id": "R1",
        "currency": "CNY",
        "margin_floor": "0.10",
        "capacity_share": "0.5",
        "budget": None,
        "mip_gap": "0.000000001",
        **overrides,
    }


def factory(factory_id: str, capacity: int = 1000, **overrides: Any) -> dict[str, Any]:
    """A factory with a monthly capacity (default 1000: room for 500 units at 50%)."""
    return {"id": factory_id, "monthly_capacity": capacity, **overrides}


def item(
    item_id: str = "I1",
    *,
    retail: str = "30",
    handling: str = "2",
    salvage: str = "4",
    demand: list[tuple[int, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """An item; default demand 60 or 100 units with probability 1/2 each."""
    scenarios = demand if demand is not None else [(60, "0.5"), (100, "0.5")]
    return {
        "id": item_id,
        "retail_price": retail,
        "handling_cost": handling,
        "salvage_value": salvage,
        "demand": [{"units": u, "probability": p} for u, p in scenarios],
        **overrides,
    }


def bid(
    bid_id: str,
    factory_id: str,
    item_id: str = "I1",
    cost: str = "9",
    capacity: int = 100,
    **overrides: Any,
) -> dict[str, Any]:
    """A bid: unit cost (9 gives a supply price of 10 at m = 0.10) and capacity."""
    return {
        "id": bid_id,
        "factory": factory_id,
        "item": item_id,
        "unit_cost": cost,
        "capacity": capacity,
        **overrides,
    }


def problem_data(
    bids: list[dict[str, Any]],
    *,
    factories: list[dict[str, Any]] | None = None,
    items: list[dict[str, Any]] | None = None,
    **round_overrides: Any,
) -> dict[str, Any]:
    """A whole problem; factories default to one per factory named in the bids."""
    if factories is None:
        names = sorted({b["factory"] for b in bids})
        factories = [factory(name) for name in names]
    return {
        "round": round_terms(**round_overrides),
        "factories": factories,
        "items": items if items is not None else [item()],
        "bids": bids,
    }


def make_problem(
    bids: list[dict[str, Any]],
    *,
    factories: list[dict[str, Any]] | None = None,
    items: list[dict[str, Any]] | None = None,
    **round_overrides: Any,
) -> Problem:
    """problem_data, parsed."""
    return parse_problem(problem_data(bids, factories=factories, items=items, **round_overrides))


def random_problem_data(seed: int, *, milp: bool = False, bids: int = 12) -> dict[str, Any]:
    """A small random problem: a few factories and items, competing bids, whole cents.

    A local generator, so the solver's tests do not depend on solver.generate's settings.
    """
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(1, 4))
    n_factories = int(rng.integers(2, 6))
    items = []
    for i in range(n_items):
        retail = int(rng.integers(2000, 6000))
        handling = int(rng.integers(0, retail // 10))
        salvage = int(rng.integers(0, (retail - handling) // 3))
        k = int(rng.integers(1, 4))
        demand = sorted(int(d) for d in rng.integers(10, 400, k))
        probs = rng.integers(1, 10, k)
        cents = (probs * 1000 // probs.sum()).tolist()
        cents[-1] += 1000 - sum(cents)
        items.append(
            item(
                f"I{i}",
                retail=f"{retail / 100:.2f}",
                handling=f"{handling / 100:.2f}",
                salvage=f"{salvage / 100:.2f}",
                demand=[(d, f"{c / 1000:.3f}") for d, c in zip(demand, cents, strict=True)],
                min_fill=int(rng.integers(0, 20)) if rng.random() < 0.3 else 0,
                max_factory_share="0.6" if rng.random() < 0.3 else None,
            )
        )
    factories = [
        factory(
            f"F{f}",
            int(rng.integers(100, 1200)),
            is_new=bool(rng.random() < 0.3),
            guaranteed_units=int(rng.integers(0, 30)),
        )
        for f in range(n_factories)
    ]
    rows = []
    pairs = {(int(rng.integers(n_factories)), int(rng.integers(n_items))) for _ in range(bids)}
    for k, (f, i) in enumerate(sorted(pairs)):
        item_retail = float(items[i]["retail_price"])
        extra: dict[str, Any] = {}
        if rng.random() < 0.2:
            extra["ask_price"] = f"{item_retail * rng.uniform(0.4, 0.8):.2f}"
        if milp and rng.random() < 0.4:
            extra["min_lot"] = int(rng.integers(5, 40))
            extra["setup_cost"] = f"{rng.uniform(0, 200):.2f}"
        rows.append(
            bid(
                f"B{k:03d}",
                f"F{f}",
                f"I{i}",
                cost=f"{item_retail * rng.uniform(0.3, 0.7):.2f}",
                capacity=int(rng.integers(40, 200)),
                **extra,
            )
        )
    budget = f"{rng.uniform(500, 5000):.2f}" if rng.random() < 0.3 else None
    return problem_data(rows, factories=factories, items=items, budget=budget)
