"""Reasons by removing one rule (SPEC 3 "Explanations"), each confirmed by a re-solve.

A re-solve changes one rule and keeps everything else (the tie rule, the zero-profit
rule), runs at gap 0, and compares each bid's whole units with those published:

- `below_min_lot`: the bid's lot at 0 (one re-solve per bid with a lot);
- `capacity_bound`: its factory's share cap set to the sum of the factory's bid capacities
  (one re-solve per factory, for all its bids; the factory's guarantee kept as it was);
- `item_share_bound`: beta = 1 on its item (one per item, for all its bids);
- `budget_bound`: no budget; `guarantee_bound`: no new factory's guarantee (one each).

The first by precedence whose re-solve gives the bid more units is its reason; where none
does, `won_full`, `won_partial` or `lost_on_price` as its units say. A re-solve is skipped
where it would change nothing (a cap at least the factory's bids) or concerns no bid that
could get more (every bid in it at its capacity).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from solver.model import AllocationModel
from solver.problem import Problem
from solver.result import Reason

IntArray = npt.NDArray[np.int64]
Allocate = Callable[[Problem], "IntArray | None"]

PRECEDENCE: tuple[Reason, ...] = (
    "below_min_lot",
    "won_full",
    "capacity_bound",
    "item_share_bound",
    "budget_bound",
    "guarantee_bound",
)


def _at_gap_zero(problem: Problem, **update: object) -> Problem:
    terms = problem.round.model_copy(update={"mip_gap": Decimal(0)})
    return problem.model_copy(update={"round": terms, **update})


def confirmed_reasons(model: AllocationModel, units: IntArray, allocate: Allocate) -> list[Reason]:
    """Each bid's reason, every one a re-solve's fact (see the module's docstring)."""
    problem = model.problem
    bids = problem.bids
    n = len(bids)
    capacity = model.capacity.astype(np.int64)
    open_ = units < capacity  # bids that could get more
    found: dict[int, set[Reason]] = {k: set() for k in range(n)}

    def gains(changed: Problem, which: IntArray, reason: Reason) -> None:
        which = which[open_[which]]
        if len(which) == 0:
            return
        got = allocate(changed)
        if got is None:
            return
        for k in which[got[which] > units[which]].tolist():
            found[int(k)].add(reason)

    everyone = np.arange(n, dtype=np.int64)
    for k in np.flatnonzero((model.min_lot > 0) & open_).tolist():
        changed = list(bids)
        changed[k] = bids[k].model_copy(update={"min_lot": 0})
        gains(_at_gap_zero(problem, bids=tuple(changed)), np.array([k]), "below_min_lot")
    factories = list(problem.factories)
    for f, factory in enumerate(factories):
        members = model.bids_by_factory[factory.id]
        supply = int(capacity[members].sum())
        if len(members) == 0 or model.room[factory.id] >= supply:
            continue
        relaxed = factory.model_copy(
            update={
                "capacity_share": Decimal(1),
                "monthly_capacity": supply + factory.committed_units,
                # its guarantee as it was: g_f is capped by the room being relaxed
                "guaranteed_units": model.guarantee.get(factory.id, 0),
            }
        )
        changed_f = [*factories[:f], relaxed, *factories[f + 1 :]]
        gains(_at_gap_zero(problem, factories=tuple(changed_f)), members, "capacity_bound")
    items = list(problem.items)
    for i, item in enumerate(items):
        if item.max_factory_share is None or item.max_factory_share >= 1:
            continue
        relaxed_i = item.model_copy(update={"max_factory_share": None})
        changed_i = [*items[:i], relaxed_i, *items[i + 1 :]]
        gains(
            _at_gap_zero(problem, items=tuple(changed_i)),
            model.bids_by_item[item.id],
            "item_share_bound",
        )
    if problem.round.budget is not None:
        terms = problem.round.model_copy(update={"budget": None, "mip_gap": Decimal(0)})
        gains(problem.model_copy(update={"round": terms}), everyone, "budget_bound")
    if any(g > 0 for g in model.guarantee.values()):
        plain = tuple(f.model_copy(update={"is_new": False}) for f in factories)
        gains(_at_gap_zero(problem, factories=plain), everyone, "guarantee_bound")
    out: list[Reason] = []
    for k in range(n):
        if units[k] >= capacity[k] and "below_min_lot" not in found[k]:
            found[k].add("won_full")
        first = next((r for r in PRECEDENCE if r in found[k]), None)
        if first is None:
            first = "won_partial" if units[k] > 0 else "lost_on_price"
        out.append(first)
    return out
