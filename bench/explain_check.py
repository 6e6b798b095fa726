"""Every figure the allocator states, checked on random small rounds (SPEC 3).

Written from SPEC 3 and problem-format.md alone: nothing of the solver is used but
`solve` and `parse_problem` (the product itself, asked again with one thing changed, at
gap 0) and none of its model, explanation or verifier code. For each round:

- wrong optima: the objective against an exhaustive enumeration of every whole-unit
  allocation, in exact decimals (and `infeasible` exactly where none keeps every rule);
- thresholds off: a stated cost_to_win_more c where the bid does not get more units at c,
  or does at c + 0.01; a null where none of its null cases holds (an ask sets the price,
  full capacity, no more units even at 0.00);
- reasons off: relaxing the named rule gives no more units, or relaxing a rule of higher
  precedence does; won_partial / lost_on_price where relaxing one does;
- ceilings off: at the stated ceiling the bid wins units (alone with the round, every
  other bid's cost irrelevant: checked with the others removed), or one cent below it no
  quantity would pay (the ceiling is not the smallest such cent); 0.00 and null cases.

    python -m bench.explain_check --rounds 300
    python -m bench.explain_check --sizes 1k 10k   # the cost of explanations (LP)
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import sys
import time
from collections import Counter
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np

from solver.problem import parse_problem
from solver.solve import solve

CENT = Decimal("0.01")
Data = dict[str, Any]


# random small rounds -------------------------------------------------------------------


def small_round(seed: int) -> Data:
    """A round small enough to enumerate: 2 to 5 bids of at most 6 units, 1 or 2 items."""
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(1, 3))
    n_factories = int(rng.integers(1, 4))
    items = []
    for i in range(n_items):
        retail = int(rng.integers(500, 2000))
        handling = int(rng.integers(0, retail // 8))
        salvage = int(rng.integers(0, (retail - handling) // 3)) if rng.random() < 0.5 else 0
        k = int(rng.integers(1, 4))
        demand = sorted({int(d) for d in rng.integers(1, 12, k)})
        weights = rng.integers(1, 5, len(demand))
        probs = _probabilities(weights)
        row: Data = {
            "id": f"I{i}",
            "retail_price": _money(retail),
            "handling_cost": _money(handling),
            "salvage_value": _money(salvage),
            "demand": [{"units": d, "probability": p} for d, p in zip(demand, probs, strict=True)],
        }
        if rng.random() < 0.3:
            row["max_factory_share"] = str(rng.choice(["0.5", "0.6", "0.75"]))
        if rng.random() < 0.1:
            row["min_fill"] = int(rng.integers(1, 4))
        items.append(row)
    factories = []
    for f in range(n_factories):
        row = {"id": f"F{f}", "monthly_capacity": int(rng.integers(8, 40))}
        if rng.random() < 0.3:
            row["committed_units"] = int(rng.integers(0, 4))
        if rng.random() < 0.15:
            row["is_new"] = True
            row["guaranteed_units"] = int(rng.integers(1, 5))
        factories.append(row)
    pairs = [(f, i) for f in range(n_factories) for i in range(n_items)]
    rng.shuffle(pairs)
    bids = []
    for b, (f, i) in enumerate(pairs[: int(rng.integers(2, 6))]):
        retail_cents = int(Decimal(items[i]["retail_price"]) * 100)
        cost = int(rng.integers(retail_cents // 5, retail_cents * 95 // 100))
        row = {
            "id": f"B{b:02d}",
            "factory": f"F{f}",
            "item": f"I{i}",
            "unit_cost": _money(cost),
            "capacity": int(rng.integers(1, 7)),
        }
        if rng.random() < 0.15:
            row["ask_price"] = _money(int(cost * rng.uniform(1.0, 1.4)))
        if rng.random() < 0.15:
            row["min_lot"] = int(rng.integers(1, row["capacity"] + 1))
        if rng.random() < 0.1:
            row["setup_cost"] = _money(int(rng.integers(100, 1500)))
        bids.append(row)
    terms: Data = {
        "id": f"R{seed}",
        "currency": "CNY",
        "margin_floor": str(rng.choice(["0", "0.1", "0.25"])),
        "capacity_share": str(rng.choice(["0.3", "0.5", "1"])),
        "budget": None,
        "mip_gap": "0",
    }
    if rng.random() < 0.2:
        terms["budget"] = _money(int(rng.integers(500, 6000)))
    return {"round": terms, "factories": factories, "items": items, "bids": bids}


def _money(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def _probabilities(weights: np.ndarray) -> list[str]:
    total = int(weights.sum())
    out = [Decimal(int(w) * 1000 // total) / 1000 for w in weights]
    out[-1] += 1 - sum(out)
    return [str(p) for p in out]


# the rules, written from SPEC 3 ------------------------------------------------------------


def _price(bid: Data, m: Decimal) -> Decimal:
    cost = Decimal(bid["unit_cost"])
    price = (cost / (1 - m)).quantize(CENT, rounding=ROUND_CEILING)
    ask = bid.get("ask_price")
    return max(price, Decimal(ask)) if ask is not None else price


def _fee(bid: Data, m: Decimal) -> Decimal:
    return (Decimal(bid.get("setup_cost") or 0) / (1 - m)).quantize(CENT, rounding=ROUND_CEILING)


def _room(data: Data, f: Data) -> int:
    share = Decimal(f.get("capacity_share") or data["round"]["capacity_share"])
    room: int = math.floor(share * f["monthly_capacity"] - f.get("committed_units", 0))
    return max(0, room)


def _expected_sales(item: Data, x: int) -> Decimal:
    return sum(
        (Decimal(str(s["probability"])) * min(x, s["units"]) for s in item["demand"]), Decimal(0)
    )


def profit(data: Data, units: dict[str, int]) -> Decimal:
    """SPEC 3's objective of whole units, exactly."""
    m = Decimal(data["round"]["margin_floor"])
    total = Counter[str]()
    spend = Decimal(0)
    for b in data["bids"]:
        x = units.get(b["id"], 0)
        if x:
            total[b["item"]] += x
            spend += _price(b, m) * x + _fee(b, m)
    income = Decimal(0)
    for item in data["items"]:
        r, h, s = (Decimal(item[k]) for k in ("retail_price", "handling_cost", "salvage_value"))
        x = total[item["id"]]
        income += (r - h - s) * _expected_sales(item, x) + s * x
    return income - spend


def feasible(data: Data, units: dict[str, int]) -> bool:
    """Every hard rule of SPEC 3, exactly."""
    m = Decimal(data["round"]["margin_floor"])
    by_item = Counter[str]()
    by_factory = Counter[str]()
    supply = Counter[str]()
    for b in data["bids"]:
        x = units.get(b["id"], 0)
        if x > b["capacity"] or (0 < x < (b.get("min_lot") or 0)):
            return False
        by_item[b["item"]] += x
        by_factory[b["factory"]] += x
        supply[b["factory"]] += b["capacity"]
    for b in data["bids"]:
        x = units.get(b["id"], 0)
        item = next(i for i in data["items"] if i["id"] == b["item"])
        beta = item.get("max_factory_share")
        if beta is not None and Decimal(beta) < 1 and x > Decimal(beta) * by_item[b["item"]]:
            return False
    for item in data["items"]:
        if by_item[item["id"]] < (item.get("min_fill") or 0):
            return False
    for f in data["factories"]:
        room = _room(data, f)
        if by_factory[f["id"]] > room:
            return False
        if f.get("is_new") and f.get("guaranteed_units", 0) > 0:
            g = min(f["guaranteed_units"], room, supply[f["id"]])
            if by_factory[f["id"]] < g:
                return False
    budget = data["round"].get("budget")
    if budget is not None:
        spend = sum(
            (
                _price(b, m) * units[b["id"]] + _fee(b, m)
                for b in data["bids"]
                if units.get(b["id"])
            ),
            Decimal(0),
        )
        if spend > Decimal(budget):
            return False
    return True


def best_profit(data: Data) -> Decimal | None:
    """The best whole-unit profit by enumeration (None: no allocation keeps every rule)."""
    ids = [b["id"] for b in data["bids"]]
    ranges = [range(b["capacity"] + 1) for b in data["bids"]]
    best: Decimal | None = None
    for combo in itertools.product(*ranges):
        units = dict(zip(ids, combo, strict=True))
        if feasible(data, units):
            value = profit(data, units)
            if best is None or value > best:
                best = value
    return best


# re-solves -----------------------------------------------------------------------------


def units_of(data: Data) -> dict[str, int] | None:
    """The product's whole units for a round (None: no allocation)."""
    result = solve(parse_problem(data))
    if result.status not in ("optimal", "feasible"):
        return None
    return {a.bid: a.units for a in result.allocations}


def _gets_more(data: Data, bid_id: str, published: int) -> bool:
    got = units_of(data)
    return got is not None and got[bid_id] > published


def with_cost(data: Data, bid_id: str, cost: Decimal) -> Data:
    changed = copy.deepcopy(data)
    for b in changed["bids"]:
        if b["id"] == bid_id:
            b["unit_cost"] = str(cost)
    return changed


def relaxed(data: Data, rule: str, bid: Data) -> Data | None:
    """The round with one rule removed for this bid (SPEC 3), or None where it has none."""
    changed = copy.deepcopy(data)
    if rule == "below_min_lot":
        target = next(b for b in changed["bids"] if b["id"] == bid["id"])
        if not target.get("min_lot"):
            return None
        target["min_lot"] = 0
    elif rule == "capacity_bound":
        f = next(f for f in changed["factories"] if f["id"] == bid["factory"])
        supply = sum(b["capacity"] for b in data["bids"] if b["factory"] == f["id"])
        room = _room(data, f)
        if room >= supply:
            return None
        if f.get("is_new"):
            f["guaranteed_units"] = min(f.get("guaranteed_units", 0), room, supply)
        f["capacity_share"] = "1"
        f["monthly_capacity"] = supply + f.get("committed_units", 0)
    elif rule == "item_share_bound":
        item = next(i for i in changed["items"] if i["id"] == bid["item"])
        if item.get("max_factory_share") is None:
            return None
        item["max_factory_share"] = None
    elif rule == "budget_bound":
        if changed["round"].get("budget") is None:
            return None
        changed["round"]["budget"] = None
    elif rule == "guarantee_bound":
        if not any(f.get("is_new") for f in changed["factories"]):
            return None
        for f in changed["factories"]:
            f["is_new"] = False
    return changed


RULES = ("below_min_lot", "capacity_bound", "item_share_bound", "budget_bound", "guarantee_bound")
PRECEDENCE = ("below_min_lot", "won_full", *RULES[1:])


def check_round(data: Data) -> Counter[str]:
    """The faults of one round's stated figures (see the module's docstring)."""
    out = Counter[str]()
    result = solve(parse_problem(data))
    best = best_profit(data)
    if (best is None) != (result.status == "infeasible") or (
        best is not None and abs((result.objective or Decimal(0)) - best) > CENT / 2
    ):
        out["wrong_optima"] += 1
    if result.status not in ("optimal", "feasible"):
        return out
    m = Decimal(data["round"]["margin_floor"])
    bids = {b["id"]: b for b in data["bids"]}
    for row in result.allocations:
        bid, u = bids[row.bid], row.units
        out["bids"] += 1
        out["thresholds_off"] += _threshold_off(data, bid, u, row.cost_to_win_more, m)
        out["reasons_off"] += _reason_off(data, bid, u, row.reason)
        out["ceilings_off"] += _ceiling_off(data, bid, row.cost_ceiling, m)
    return out


def _threshold_off(data: Data, bid: Data, u: int, stated: object, m: Decimal) -> int:
    if stated == "pending":
        return 0
    ask = bid.get("ask_price")
    cost = Decimal(bid["unit_cost"])
    floor = (cost / (1 - m)).quantize(CENT, rounding=ROUND_CEILING)
    ask_sets = ask is not None and Decimal(ask) >= floor
    if stated is None:
        if ask_sets or u >= bid["capacity"]:
            return 0
        return int(_gets_more(with_cost(data, bid["id"], Decimal("0.00")), bid["id"], u))
    assert isinstance(stated, Decimal)
    if ask_sets or u >= bid["capacity"]:
        return 1
    wins = _gets_more(with_cost(data, bid["id"], stated), bid["id"], u)
    above = _gets_more(with_cost(data, bid["id"], stated + CENT), bid["id"], u)
    return int(not wins or above)


def _reason_off(data: Data, bid: Data, u: int, reason: str) -> int:
    if reason == "won_full":
        return int(u != bid["capacity"])
    named = reason if reason in RULES else None
    for rule in PRECEDENCE:
        if rule == "won_full":
            if u >= bid["capacity"]:
                return 1  # a full bid is won_full unless its lot is the reason
            continue
        changed = relaxed(data, rule, bid)
        more = changed is not None and _gets_more(changed, bid["id"], u)
        if rule == named:
            return int(not more)
        if more:
            return 1
    if reason == "won_partial":
        return int(u == 0)
    if reason == "lost_on_price":
        return int(u != 0)
    return 1


def _ceiling_off(data: Data, bid: Data, stated: Decimal | None, m: Decimal) -> int:
    forced = any(
        i["id"] == bid["item"] and (i.get("min_fill") or 0) > 0 for i in data["items"]
    ) or any(
        f["id"] == bid["factory"] and f.get("is_new") and f.get("guaranteed_units", 0) > 0
        for f in data["factories"]
    )
    if forced:
        return int(stated is not None)
    if stated is None:
        return 1
    item = next(i for i in data["items"] if i["id"] == bid["item"])
    factory = next(f for f in data["factories"] if f["id"] == bid["factory"])
    hi = min(bid["capacity"], _room(data, factory))
    lo = max(bid.get("min_lot") or 0, 1)

    def pays(cost: Decimal) -> bool:
        price = _price({**bid, "unit_cost": str(cost)}, m)
        fee = _fee(bid, m)
        r, h, s = (Decimal(item[k]) for k in ("retail_price", "handling_cost", "salvage_value"))
        return any(
            s * x + (r - h - s) * _expected_sales(item, x) - price * x - fee > 0
            for x in range(lo, hi + 1)
        )

    if pays(stated):
        return 1
    if stated > 0 and not pays(stated - CENT):
        return 1
    # at the ceiling the bid wins nothing, whatever the others: checked with them gone
    alone = copy.deepcopy(data)
    alone["bids"] = [{**b, "unit_cost": str(stated)} for b in data["bids"] if b["id"] == bid["id"]]
    got = units_of(alone)
    return int(got is not None and got[bid["id"]] > 0)


# the cost of explanations --------------------------------------------------------------


def explanation_cost(size: str) -> dict[str, object]:
    """One LP round of the benchmark's size: solve and explain phases, medians of 3."""
    from bench.allocator import SCENARIOS, SEED, SIZES
    from solver.generate import generate_problem

    spec = SIZES[size]
    data = generate_problem(
        factories=spec.factories,
        items=spec.items,
        bids_per_factory=spec.bids_per_factory,
        scenarios=SCENARIOS,
        seed=SEED,
    )
    problem = parse_problem(data)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        result = solve(problem)
        total = time.perf_counter() - started
        explain = result.timings.explain_s
        runs.append((total - explain, explain))
    solve_s = sorted(r[0] for r in runs)[1]
    explain_s = sorted(r[1] for r in runs)[1]
    pending = sum(a.cost_to_win_more == "pending" for a in result.allocations)
    return {
        "size": size,
        "bids": len(problem.bids),
        "solve_s": round(solve_s, 3),
        "explain_s": round(explain_s, 3),
        "ratio": round(explain_s / solve_s, 1) if solve_s else None,
        "pending": pending,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--sizes", nargs="*", default=[])
    args = parser.parse_args(argv)
    faults = Counter[str]()
    for seed in range(args.first_seed, args.first_seed + args.rounds):
        found = check_round(small_round(seed))
        faults.update(found)
        faults["rounds"] += 1
        bad = {k: v for k, v in found.items() if k != "bids" and v}
        if bad:
            print(f"seed {seed}: {bad}", file=sys.stderr)
    if args.rounds:
        keys = ("rounds", "bids", "wrong_optima", "thresholds_off", "reasons_off", "ceilings_off")
        print(json.dumps({k: faults[k] for k in keys}))
    for size in args.sizes:
        print(json.dumps(explanation_cost(size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
