"""Reasons by removing one rule (SPEC 3 "Explanations"), each confirmed by a re-solve.

A re-solve changes one rule and keeps everything else (the tie rule, the zero-profit
rule), runs at gap 0, and compares each bid's whole units with those published:

- `below_min_lot`: the bid's lot at 0 (one re-solve per bid with a lot);
- `capacity_bound`: its factory's share cap set to the sum of the factory's bid capacities
  (one re-solve per factory, for all its bids; the factory's guarantee kept as it was);
- `item_share_bound`: beta = 1 on its item (one per item, for all its bids);
- `budget_bound`: no budget; `guarantee_bound`: no new factory's guarantee (one each).

The first by precedence whose re-solve gives the bid more units is its reason; where none
does, `won_full`, `won_partial` or `lost_on_price` as its units say. Each removal is a
`Relaxation`: the round without the rule (for a re-solve that rebuilds) and the rows it
frees on the solver's model (for one that changes their bounds on the model kept from the
solve, solve.py's `resolve_relaxed`). A re-solve is skipped where it cannot change the
answer:

- the rule cannot bind (a cap at least the factory's bids), or it concerns no bid that
  could get more (every bid in it at its capacity);
- `settled` (an LP round whose tie choice is whole and is what was published, U): the
  rule holds with room to spare at U. Then U is also the answer without it. The
  continuous problem is convex and every other rule is kept, so for any allocation y of
  the relaxed round the points U + e (y - U) for small e > 0 keep the removed rule too:
  they are allocations of the round, at least as profitable as the lesser of U and y (the
  objective is concave). So no y is more profitable than U (U is optimal, and stays so),
  and no optimal y weighs less by the tie rule's weights (a point near U would then be an
  optimum of the round weighing less than its tie choice). The relaxed re-solve's
  continuous tie choice is therefore U, whole already, proven at gap 0; the zero-profit
  rule can only take units away from it. No bid gets more units: not a reason. (Held by
  a test comparing with the full re-solves on random small rounds.)
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from solver.model import AllocationModel
from solver.problem import Problem
from solver.resolve import explain_limit
from solver.result import Reason

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
INF = float("inf")

REASONS_UP_TO = 10_000
"""Bids of an LP round whose reasons are re-solved (SUPPLYBID_REASONS_UP_TO); above it they
are read from the continuous optimum's duals (solver/explain.py). Measured (README): a
re-solve per binding rule, about 0.05 s of CPU each at 10,000 bids, and the benchmark's
rounds have a binding share cap at most factories."""


def reasons_limit(*, mip: bool) -> int:
    """The most bids a round may have for its reasons to be re-solved with the solve: an
    LP round's SUPPLYBID_REASONS_UP_TO; a round with lots or setups, whose re-solves
    rebuild and solve a MILP each, SUPPLYBID_EXPLAIN_MILP_UP_TO (resolve.explain_limit)."""
    if mip:
        return explain_limit(mip=True)
    value = os.environ.get("SUPPLYBID_REASONS_UP_TO", "").strip()
    return int(value) if value.isdigit() else REASONS_UP_TO


PRECEDENCE: tuple[Reason, ...] = (
    "below_min_lot",
    "won_full",
    "capacity_bound",
    "item_share_bound",
    "budget_bound",
    "guarantee_bound",
)


@dataclass(frozen=True)
class Relaxation:
    """One rule removed: the reason it stands for, the bids whose units are compared, the
    round without the rule (at gap 0), the model's rows it frees and their new bounds."""

    reason: Reason
    bids: IntArray
    problem: Problem
    rows: IntArray
    lower: FloatArray
    upper: FloatArray
    room: dict[str, int]
    guarantee: dict[str, int]
    min_lot: FloatArray


Allocate = Callable[[Relaxation], "IntArray | None"]
"""The solve's passes up to whole units (tie rule and zero-profit rule kept), at gap 0, on
the round without one rule: its whole units, or None where it has no allocation."""


def relaxed_model(model: AllocationModel, change: Relaxation) -> AllocationModel:
    """The model's maps for the round without the rule (columns and prices unchanged): what
    the passes after the first read of the rules (exact checks, the zero-profit rule)."""
    out = copy.copy(model)
    out.problem = change.problem
    out.room = change.room
    out.guarantee = change.guarantee
    out.min_lot = change.min_lot
    return out


def _at_gap_zero(problem: Problem, **update: object) -> Problem:
    terms = problem.round.model_copy(update={"mip_gap": Decimal(0)})
    return problem.model_copy(update={"round": terms, **update})


def relaxations(model: AllocationModel, units: IntArray, *, settled: bool) -> Iterator[Relaxation]:
    """The re-solves the reasons need (see the module's docstring for those skipped)."""
    problem = model.problem
    bids = problem.bids
    capacity = model.capacity.astype(np.int64)
    open_ = units < capacity  # bids that could get more
    rows = model.rows
    placed = np.bincount(model.bid_factory, weights=units, minlength=len(problem.factories))

    def make(
        reason: Reason,
        which: IntArray,
        changed: Problem,
        names: list[str],
        sides: tuple[float, float],
        **maps: object,
    ) -> Relaxation | None:
        which = which[open_[which]]
        if len(which) == 0:
            return None
        at = np.array([rows[name] for name in names if name in rows], dtype=np.int64)
        return Relaxation(
            reason=reason,
            bids=which,
            problem=changed,
            rows=at,
            lower=np.full(len(at), sides[0]),
            upper=np.full(len(at), sides[1]),
            room=maps.get("room", model.room),  # type: ignore[arg-type]
            guarantee=maps.get("guarantee", model.guarantee),  # type: ignore[arg-type]
            min_lot=maps.get("min_lot", model.min_lot),  # type: ignore[arg-type]
        )

    found: list[Relaxation | None] = []
    for k in np.flatnonzero((model.min_lot > 0) & open_).tolist():
        changed = list(bids)
        changed[k] = bids[k].model_copy(update={"min_lot": 0})
        lots = model.min_lot.copy()
        lots[k] = 0
        found.append(
            make(
                "below_min_lot",
                np.array([k]),
                _at_gap_zero(problem, bids=tuple(changed)),
                [f"min_lot[{bids[k].id}]"],
                (-INF, INF),
                min_lot=lots,
            )
        )
    factories = list(problem.factories)
    for f, factory in enumerate(factories):
        members = model.bids_by_factory[factory.id]
        supply = int(capacity[members].sum())
        room = model.room[factory.id]
        if len(members) == 0 or room >= supply or (settled and placed[f] < room):
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
        found.append(
            make(
                "capacity_bound",
                members,
                _at_gap_zero(problem, factories=tuple(changed_f)),
                [f"cap_share[{factory.id}]"],
                (-INF, float(supply)),
                room={**model.room, factory.id: supply},
            )
        )
    items = list(problem.items)
    for i, item in enumerate(items):
        beta = item.max_factory_share
        members = model.bids_by_item[item.id]
        if beta is None or beta >= 1:
            continue
        if settled and _share_slack(beta, units[members]):
            continue
        relaxed_i = item.model_copy(update={"max_factory_share": None})
        changed_i = [*items[:i], relaxed_i, *items[i + 1 :]]
        found.append(
            make(
                "item_share_bound",
                members,
                _at_gap_zero(problem, items=tuple(changed_i)),
                [f"item_share[{bids[k].id}]" for k in members.tolist()],
                (-INF, INF),
            )
        )
    everyone = np.arange(len(bids), dtype=np.int64)
    budget = problem.round.budget
    if budget is not None and not (settled and spend(model, units) < budget):
        terms = problem.round.model_copy(update={"budget": None, "mip_gap": Decimal(0)})
        found.append(
            make(
                "budget_bound",
                everyone,
                problem.model_copy(update={"round": terms}),
                [f"budget[{problem.round.id}]"],
                (-INF, INF),
            )
        )
    guaranteed = {f: g for f, g in model.guarantee.items() if g > 0}
    index = {f.id: k for k, f in enumerate(factories)}
    slack = all(placed[index[f]] > g for f, g in guaranteed.items())
    if guaranteed and not (settled and slack):
        plain = tuple(f.model_copy(update={"is_new": False}) for f in factories)
        found.append(
            make(
                "guarantee_bound",
                everyone,
                _at_gap_zero(problem, factories=plain),
                [f"guarantee[{f}]" for f in guaranteed],
                (-INF, INF),
                guarantee={},
            )
        )
    yield from (r for r in found if r is not None)


def _share_slack(beta: Decimal, members: IntArray) -> bool:
    """Every bid of the item strictly under beta times the item's total (exact)."""
    total = int(members.sum())
    return all(Decimal(int(x)) < beta * total for x in members.tolist())


def spend(model: AllocationModel, units: IntArray) -> Decimal:
    """What the whole units cost, exactly: prices and the setup fees of the bids with units."""
    return sum(
        (model.prices[k] * int(units[k]) + model.fees[k] for k in np.flatnonzero(units).tolist()),
        Decimal(0),
    )


def confirmed_reasons(
    model: AllocationModel, units: IntArray, allocate: Allocate, *, settled: bool = False
) -> list[Reason]:
    """Each bid's reason, every one a re-solve's fact (see the module's docstring)."""
    n = len(model.problem.bids)
    capacity = model.capacity.astype(np.int64)
    found: dict[int, set[Reason]] = {k: set() for k in range(n)}
    for change in relaxations(model, units, settled=settled):
        got = allocate(change)
        if got is None:
            continue
        which = change.bids
        for k in which[got[which] > units[which]].tolist():
            found[int(k)].add(change.reason)
    out: list[Reason] = []
    for k in range(n):
        if units[k] >= capacity[k] and "below_min_lot" not in found[k]:
            found[k].add("won_full")
        first = next((r for r in PRECEDENCE if r in found[k]), None)
        if first is None:
            first = "won_partial" if units[k] > 0 else "lost_on_price"
        out.append(first)
    return out
