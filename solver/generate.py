"""Realistic random allocation problems in the exchange format, for benchmarks and tests.

The shape follows the business of SPEC 1: retail prices of hot-selling items spread
lognormally around tens of yuan; factory unit costs tied to the item's retail price and
the factory's efficiency; lognormal demand in a few scenarios; bid capacities that
together exceed what the capacity share lets a factory give, so factories compete for
their own capacity and items compete for factories. Everything is drawn with one numpy
Generator seeded by `seed`, vectorised, so a million bids generate in seconds and the
same arguments give the same problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MARGIN_FLOOR = 0.10
CAPACITY_SHARE = 0.20
ASK_SHARE = 0.25
"""Share of bids that state an ask price above their floor price."""
MIN_LOT_SHARE = 0.30
"""With `milp`: share of bids with a minimum lot."""
SETUP_SHARE = 0.20
"""With `milp`: share of bids with a one-time setup cost."""
NEW_FACTORY_SHARE = 0.05
"""With `milp`: share of factories new to the platform, with a guaranteed volume."""
PROBABILITY_UNITS = 1000
"""Scenario probabilities are whole thousandths, so they sum to exactly 1."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def generate_problem(
    *,
    factories: int,
    items: int,
    bids_per_factory: int,
    scenarios: int,
    seed: int,
    milp: bool = False,
) -> dict[str, Any]:
    """A realistic problem (problem-format.md) with factories * bids_per_factory bids.

    Each factory bids on `bids_per_factory` distinct items. With `milp`, some bids have
    minimum lots and setup costs and a few factories are new with a guaranteed volume.
    """
    if factories < 1 or items < 1 or scenarios < 1:
        raise ValueError("factories, items and scenarios must be at least 1")
    if not 1 <= bids_per_factory <= items:
        raise ValueError("bids_per_factory must be between 1 and the number of items")
    if scenarios > PROBABILITY_UNITS // 2:
        raise ValueError(f"at most {PROBABILITY_UNITS // 2} scenarios")
    rng = np.random.default_rng(seed)

    # Factories: monthly capacity around 50,000 units, efficiency around 1 (lower is cheaper).
    capacity = np.maximum(1000, np.round(rng.lognormal(np.log(50_000), 0.6, factories), -2))
    capacity = capacity.astype(np.int64)
    efficiency = rng.lognormal(0.0, 0.10, factories)

    # Items: retail price lognormal around 40 CNY; handling 4-12% of it; salvage 10-30%.
    retail = _cents(np.clip(rng.lognormal(np.log(40.0), 0.5, items), 5.0, 2000.0))
    handling = np.floor(retail * rng.uniform(0.04, 0.12, items)).astype(np.int64)
    salvage = np.floor(retail * rng.uniform(0.10, 0.30, items)).astype(np.int64)
    salvage = np.minimum(salvage, retail - handling)
    cost_ratio = rng.uniform(0.35, 0.60, items)

    # Bids: each factory picks distinct items; capacity per bid 3-20% of its month, so a
    # factory's bids together ask for far more than its 20% share (competition for it).
    n_bids = factories * bids_per_factory
    bid_factory = np.repeat(np.arange(factories, dtype=np.int64), bids_per_factory)
    bid_item = _distinct_items(rng, factories, items, bids_per_factory)
    bid_capacity = np.maximum(
        10, np.round(capacity[bid_factory] * rng.uniform(0.03, 0.20, n_bids), -1)
    ).astype(np.int64)
    raw_cost = (
        retail[bid_item]
        * cost_ratio[bid_item]
        * efficiency[bid_factory]
        * rng.lognormal(0.0, 0.08, n_bids)
    )
    unit_cost = np.maximum(1, np.round(raw_cost)).astype(np.int64)  # cents
    floor_price = np.ceil(unit_cost / (1.0 - MARGIN_FLOOR))
    has_ask = rng.random(n_bids) < ASK_SHARE
    ask = np.where(has_ask, np.ceil(floor_price * rng.uniform(1.0, 1.15, n_bids)), 0)
    ask = ask.astype(np.int64)

    # Demand: what the factories can give in total, spread over items, 50-110% of it on
    # average, so some items are short of supply and some factories short of capacity.
    total_share = float(np.sum(capacity)) * CAPACITY_SHARE
    mean_demand = total_share / items * rng.lognormal(np.log(0.8), 0.5, items)
    spread = 0.35
    demand = np.round(
        mean_demand[:, None] * rng.lognormal(-(spread**2) / 2, spread, (items, scenarios)),
    ).astype(np.int64)
    demand.sort(axis=1)
    probability = _probabilities(rng, items, scenarios)

    min_lot = np.zeros(n_bids, dtype=np.int64)
    setup = np.zeros(n_bids, dtype=np.int64)
    is_new = np.zeros(factories, dtype=bool)
    guaranteed = np.zeros(factories, dtype=np.int64)
    if milp:
        lots = rng.random(n_bids) < MIN_LOT_SHARE
        min_lot = np.where(
            lots, np.round(bid_capacity * rng.uniform(0.10, 0.50, n_bids), -1), 0
        ).astype(np.int64)
        min_lot = np.minimum(min_lot, bid_capacity)
        setups = rng.random(n_bids) < SETUP_SHARE
        setup = np.where(
            setups, np.round(unit_cost * bid_capacity * rng.uniform(0.01, 0.05, n_bids)), 0
        ).astype(np.int64)
        is_new = rng.random(factories) < NEW_FACTORY_SHARE
        guaranteed = np.where(
            is_new, np.round(capacity * CAPACITY_SHARE * rng.uniform(0.05, 0.20, factories)), 0
        ).astype(np.int64)

    factory_ids = [f"F{i:06d}" for i in range(factories)]
    item_ids = [f"SKU-{i:06d}" for i in range(items)]
    # Bid ids in a random order, so the id order (the canonical order) is not the
    # factory order; rows are written in id order.
    order = rng.permutation(n_bids)
    return {
        "round": {
            "id": f"R-gen-{seed}",
            "currency": "CNY",
            "margin_floor": MARGIN_FLOOR,
            "capacity_share": CAPACITY_SHARE,
            "budget": None,
            "mip_gap": 0.001,
        },
        "factories": [
            {
                "id": fid,
                "monthly_capacity": cap,
                "is_new": new,
                "guaranteed_units": g,
                "capacity_share": None,
                "committed_units": 0,
            }
            for fid, cap, new, g in zip(
                factory_ids, capacity.tolist(), is_new.tolist(), guaranteed.tolist(), strict=True
            )
        ],
        "items": [
            {
                "id": iid,
                "retail_price": r / 100,
                "handling_cost": h / 100,
                "salvage_value": s / 100,
                "demand": [
                    {"units": d, "probability": p / PROBABILITY_UNITS}
                    for d, p in zip(ds, ps, strict=True)
                ],
                "min_fill": 0,
                "max_factory_share": None,
            }
            for iid, r, h, s, ds, ps in zip(
                item_ids,
                retail.tolist(),
                handling.tolist(),
                salvage.tolist(),
                demand.tolist(),
                probability.tolist(),
                strict=True,
            )
        ],
        "bids": _bid_rows(
            [f"B{n:07d}" for n in range(n_bids)],
            [factory_ids[f] for f in bid_factory[order].tolist()],
            [item_ids[i] for i in bid_item[order].tolist()],
            unit_cost[order],
            bid_capacity[order],
            ask[order],
            min_lot[order],
            setup[order],
        ),
    }


def _cents(values: FloatArray) -> IntArray:
    return np.round(values * 100).astype(np.int64)


def _distinct_items(
    rng: np.random.Generator, factories: int, items: int, per_factory: int
) -> IntArray:
    """Per factory, `per_factory` distinct items, popular items somewhat more often."""
    if per_factory * 4 >= items:
        # Dense: a random permutation per factory (argsort of random keys, in one call).
        keys = rng.random((factories, items))
        return np.argsort(keys, axis=1)[:, :per_factory].reshape(-1).astype(np.int64)
    # Sparse: draw with replacement, then redraw the duplicates until none are left.
    chosen = rng.integers(0, items, (factories, per_factory))
    while True:
        chosen.sort(axis=1)
        duplicate = np.zeros_like(chosen, dtype=bool)
        duplicate[:, 1:] = chosen[:, 1:] == chosen[:, :-1]
        count = int(duplicate.sum())
        if count == 0:
            return chosen.reshape(-1).astype(np.int64)
        chosen[duplicate] = rng.integers(0, items, count)


def _probabilities(rng: np.random.Generator, items: int, scenarios: int) -> IntArray:
    """Scenario probabilities in thousandths, each positive, each row summing to 1000."""
    weights = rng.uniform(0.5, 1.5, (items, scenarios))
    weights /= weights.sum(axis=1, keepdims=True)
    spare = PROBABILITY_UNITS - scenarios
    share = 1 + np.floor(weights * spare).astype(np.int64)
    # Give what rounding left over to the most likely scenario: rows sum exactly to 1000.
    rest = PROBABILITY_UNITS - share.sum(axis=1)
    share[np.arange(items), np.argmax(share, axis=1)] += rest
    return share


def _bid_rows(
    ids: list[str],
    factory: list[str],
    item: list[str],
    unit_cost: IntArray,
    capacity: IntArray,
    ask: IntArray,
    min_lot: IntArray,
    setup: IntArray,
) -> list[dict[str, Any]]:
    rows = zip(
        ids,
        factory,
        item,
        (unit_cost / 100).tolist(),
        capacity.tolist(),
        [a / 100 if a else None for a in ask.tolist()],
        min_lot.tolist(),
        (setup / 100).tolist(),
        strict=True,
    )
    return [
        {
            "id": b,
            "factory": f,
            "item": i,
            "unit_cost": c,
            "capacity": q,
            "ask_price": a,
            "min_lot": lot,
            "setup_cost": s,
        }
        for b, f, i, c, q, a, lot, s in rows
    ]
