"""Infeasible rounds explained (SPEC 3): the rules in conflict, found by relaxation re-solves.

The conflicts are found on the whole-unit problem (every x_b integer), so a minimum fill
or a guarantee that lots make impossible is named as such:

1. the model is rebuilt elastic: what the round asks for (minimum fill, item share,
   budget, new-factory guarantee) gets a violation slack, and the total violation is
   minimised in whole units (units for unit rules; budget money divided by the highest
   supply price, so one unit's worth of money weighs about one unit). What a factory
   offers (its capacity share, each bid's capacity and lot) stays hard. The rules left
   violated at that minimum are the rules broken, each with its shortfall;
2. each rule that could hold them there (the offers and asks on the same items and
   factories) is removed in turn, and the least violation solved again: a rule is named
   as binding only where removing it lowers the violation. Past MAX_RESOLVES such
   re-solves (a large round), the rest are named from the duals of the LP with the whole
   units fixed. Nothing is guessed: each entry names what a re-solve found.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.engine import EngineSettings, SolverError
from solver.engines import make_engine
from solver.model import AllocationModel, Formulation, build_model
from solver.problem import Problem
from solver.result import RuleConflict

VIOLATION_TOL = 1e-6
DUAL_TOL = 1e-7
MAX_RESOLVES = 24
"""Rules confirmed by a re-solve each; past this many (a large round) the duals name the rest."""

RULE_NAMES = {
    "cap_share": "capacity_share",
    "min_fill": "min_fill",
    "item_share": "item_share",
    "budget": "budget",
    "guarantee": "guarantee",
    "bid_cap": "bid_capacity",
    "min_lot": "min_lot",
}
"""Model row families as rules in a Conflict; item_total and item_sales are definitions."""

FloatArray = npt.NDArray[np.float64]


def find_conflicts(
    problem: Problem, settings: EngineSettings, formulation: Formulation = "segments"
) -> list[RuleConflict]:
    """The rules in conflict: violated ones first (with their shortfall), then those binding."""
    model, values, least = _least_violation(problem, settings, formulation)
    position = {b.id: k for k, b in enumerate(problem.bids)}
    violated: list[RuleConflict] = []
    touched_items: set[str] = set()
    touched_factories: set[str] = set()
    for name, slack in model.slack.items():
        amount = float(values[slack.id])
        if amount > VIOLATION_TOL:
            family, key = model.row_meta[model.rows[name]]
            conflict = _conflict(model, family, key, values, amount, position)
            violated.append(conflict)
            touched_items.update(conflict.items)
            touched_factories.update(conflict.factories)
    if not violated:
        return []
    # the bids of the items and factories in conflict: their rules may hold the violation
    members = [
        k
        for k, b in enumerate(problem.bids)
        if b.item in touched_items or b.factory in touched_factories
    ]
    touched_items.update(problem.bids[k].item for k in members)
    touched_factories.update(problem.bids[k].factory for k in members)
    violated_names = {(c.rule, c.items, c.factories, c.bids) for c in violated}
    binding: list[RuleConflict] = []
    candidates = _candidates(model, values, members, touched_items, touched_factories)
    for family, key, relaxed in candidates[:MAX_RESOLVES]:
        _, _, less = _least_violation(relaxed, settings, formulation)
        if less < least - VIOLATION_TOL * max(1.0, least):
            binding.append(_binding_conflict(model, family, key, values, position))
    if len(candidates) > MAX_RESOLVES:
        named = {(c.rule, c.bids) for c in binding}
        for conflict in _binding_by_duals(model, settings, values, position):
            if (conflict.rule, conflict.bids) not in named:
                binding.append(conflict)
    binding = [c for c in binding if (c.rule, c.items, c.factories, c.bids) not in violated_names]
    return sorted(violated, key=_order) + sorted(_unique(binding), key=_order)


def _unique(conflicts: list[RuleConflict]) -> list[RuleConflict]:
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out = []
    for c in conflicts:
        if (c.rule, c.bids) not in seen:
            seen.add((c.rule, c.bids))
            out.append(c)
    return out


def _least_violation(
    problem: Problem, settings: EngineSettings, formulation: Formulation
) -> tuple[AllocationModel, FloatArray, float]:
    """The elastic whole-unit model, its values at the least violation, and that violation."""
    model = build_model(problem, formulation, elastic=True)
    if model.n_cols == 0:
        return model, np.zeros(0), 0.0
    engine = make_engine(model, settings)
    status = engine.run(mip=True, mip_rel_gap=0.0)
    if status not in ("optimal", "feasible"):
        raise SolverError(f"the relaxation re-solve failed: {engine.status_message}")
    values = engine.values()
    least = float(engine.original_costs() @ values)
    engine.close()
    return model, values, least


def _candidates(
    model: AllocationModel,
    values: FloatArray,
    members: list[int],
    items: set[str],
    factories: set[str],
) -> list[tuple[str, str, Problem]]:
    """Each rule that may hold the violation, with the problem that lacks it (SPEC 3's
    removals: a share cap set to the sum of the factory's bid capacities, a lot at 0, an
    item share of 1, no budget, no guarantee, no minimum fill; bid capacities that are
    full raised by what is short)."""
    problem = model.problem
    data: dict[str, Any] = problem.model_dump(mode="python")
    out: list[tuple[str, str, Problem]] = []

    def without(change: dict[str, Any]) -> Problem:
        return Problem.model_validate({**data, **change})

    supply = {f: int(model.capacity[m].sum()) for f, m in model.bids_by_factory.items()}
    for f_index, factory in enumerate(data["factories"]):
        if factory["id"] in factories and model.room[factory["id"]] < supply[factory["id"]]:
            wider = {
                **factory,
                "capacity_share": Decimal(1),
                "committed_units": 0,
                "monthly_capacity": max(factory["monthly_capacity"], supply[factory["id"]]),
            }
            rows = [*data["factories"][:f_index], wider, *data["factories"][f_index + 1 :]]
            out.append(("cap_share", factory["id"], without({"factories": rows})))
    for k in members:
        bid = data["bids"][k]
        if bid["min_lot"] > 0 and values[model.x_col[k]] < bid["min_lot"] - 0.5:
            rows = list(data["bids"])
            rows[k] = {**bid, "min_lot": 0}
            out.append(("min_lot", bid["id"], without({"bids": rows})))
    for i_index, item in enumerate(data["items"]):
        if item["id"] not in items:
            continue
        asks = [("max_factory_share", None, "item_share"), ("min_fill", 0, "min_fill")]
        for field, none, family in asks:
            if item[field]:
                rows = list(data["items"])
                rows[i_index] = {**item, field: none}
                out.append((family, item["id"], without({"items": rows})))
    for f_index, factory in enumerate(data["factories"]):
        if factory["id"] in model.guarantee and factory["id"] in factories:
            rows = list(data["factories"])
            rows[f_index] = {**factory, "is_new": False, "guaranteed_units": 0}
            out.append(("guarantee", factory["id"], without({"factories": rows})))
    if data["round"]["budget"] is not None:
        terms = {**data["round"], "budget": None}
        out.append(("budget", problem.round.id, without({"round": terms})))
    full = [k for k in members if values[model.x_col[k]] >= model.capacity[k] - 0.5]
    if full:
        rows = list(data["bids"])
        for k in full:
            rows[k] = {**rows[k], "capacity": int(model.capacity[k]) * 2 + 1}
        keys = ",".join(problem.bids[k].id for k in full)
        out.append(("bid_cap", keys, without({"bids": rows})))
    return out


def _binding_conflict(
    model: AllocationModel,
    family: str,
    key: str,
    values: FloatArray,
    position: dict[str, int],
) -> RuleConflict:
    """A rule whose removal lowered the violation, as a Conflict."""
    problem = model.problem
    if family == "bid_cap":
        bids = [problem.bids[position[b]] for b in key.split(",")]
        return RuleConflict(
            rule="bid_capacity",
            items=tuple(sorted({b.item for b in bids})),
            factories=tuple(sorted({b.factory for b in bids})),
            bids=tuple(b.id for b in bids),
            detail=f"{len(bids)} bid(s) supply all the units they offer; "
            "it binds against the rules violated",
        )
    if family == "item_share":  # the item's share, removed for all its bids at once
        members = model.bids_by_item[key]
        bids = [problem.bids[k] for k in members]
        item = next(i for i in problem.items if i.id == key)
        return RuleConflict(
            rule="item_share",
            items=(key,),
            factories=tuple(sorted({b.factory for b in bids})),
            bids=tuple(b.id for b in bids),
            detail=f"no factory may have more than {item.max_factory_share} of item {key}; "
            "it binds against the rules violated",
        )
    if family == "budget":
        x = values[model.x_col]
        for k in range(len(problem.bids)):
            if model.fees[k] > 0 and x[k] < 0.5 and model.fees[k] > (problem.round.budget or 0):
                return _setup_fee_conflict(model, k)
    return _conflict(model, family, key, values, None, position)


def _binding_by_duals(
    model: AllocationModel,
    settings: EngineSettings,
    values: FloatArray,
    position: dict[str, int],
) -> list[RuleConflict]:
    """Rules with a non-zero dual in the LP with the whole units and binaries fixed at the
    least violation (the slacks free): for a large round, past MAX_RESOLVES re-solves."""
    problem = model.problem
    fixed = build_model(problem, model.formulation, elastic=True)
    engine = make_engine(fixed, settings)
    if engine.run(mip=True, mip_rel_gap=0.0) not in ("optimal", "feasible"):
        return []
    lower, upper = engine.original_bounds()
    cols = np.concatenate([fixed.x_col, fixed.z_col[fixed.binary]])
    lower[cols] = upper[cols] = np.round(engine.values()[cols])
    engine.set_col_bounds(lower, upper)
    engine.set_integer(np.zeros(fixed.n_cols, dtype=np.bool_))
    if engine.run(mip=False) != "optimal":
        return []
    row_dual = engine.row_duals()
    out = []
    for index, (family, key) in enumerate(fixed.row_meta):
        if family in RULE_NAMES and abs(float(row_dual[index])) > DUAL_TOL:
            if family == "bid_cap" and _switched_off(fixed, position[key], values):
                family = "min_lot"
            out.append(_conflict(fixed, family, key, values, None, position))
    return out


def _switched_off(model: AllocationModel, k: int, values: np.typing.NDArray[np.float64]) -> bool:
    """The relaxation switched the bid off: its binary is 0.

    Its row x <= q z then reads x <= 0: the bid binds not by its capacity but by being off.
    The relaxation counts violations, not costs, so it keeps a bid off only where switching
    it on would break more than it mends: through its minimum lot (x >= l z), or through
    its setup fee, which counts against a budget (_fee_under_budget).
    """
    z = model.z_col[k]
    return bool(z >= 0 and values[z] < 0.5)


def _fee_under_budget(model: AllocationModel, k: int) -> bool:
    return model.problem.round.budget is not None and model.fees[k] > 0


def _setup_fee_conflict(model: AllocationModel, k: int) -> RuleConflict:
    """A bid kept off where its setup fee counts against the budget (and its lot, if any,
    may keep it off too: the relaxation does not say which)."""
    bid = model.problem.bids[k]
    lot = f" (and it sells in lots of {_units(bid.min_lot)} or more)" if bid.min_lot else ""
    return RuleConflict(
        rule="budget",
        items=(bid.item,),
        factories=(bid.factory,),
        bids=(bid.id,),
        detail=f"bid {bid.id} is left out: its setup fee of {model.fees[k]} would have to fit "
        f"the round's spend cap of {model.problem.round.budget}{lot}; it binds against the "
        "rules violated",
    )


def _units(count: int) -> str:
    return f"{count} unit" if count == 1 else f"{count} units"


def _order(conflict: RuleConflict) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    return (conflict.rule, conflict.items, conflict.factories, conflict.bids)


def _conflict(
    model: AllocationModel,
    family: str,
    key: str,
    values: np.typing.NDArray[np.float64],
    shortfall: float | None,
    position: dict[str, int],
) -> RuleConflict:
    problem = model.problem
    rule = RULE_NAMES[family]
    amount: Decimal | None = None
    if shortfall is not None:
        places = Decimal("0.01") if family == "budget" else Decimal("1")
        amount = Decimal(repr(shortfall)).quantize(places, rounding=ROUND_HALF_UP)
    x = values[model.x_col]
    items: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    bid_ids: tuple[str, ...] = ()
    if family in ("cap_share", "guarantee"):
        factories = (key,)
        members = model.bids_by_factory[key]
        bid_ids = tuple(problem.bids[k].id for k in members)
        items = tuple(sorted({problem.bids[k].item for k in members}))
    elif family == "min_fill":
        items = (key,)
        members = model.bids_by_item[key]
        bid_ids = tuple(problem.bids[k].id for k in members)
        factories = tuple(sorted({problem.bids[k].factory for k in members}))
    elif family in ("item_share", "bid_cap", "min_lot"):
        bid = problem.bids[position[key]]
        items, factories, bid_ids = (bid.item,), (bid.factory,), (bid.id,)
    elif family == "budget":
        members = np.flatnonzero(x > VIOLATION_TOL)
        bid_ids = tuple(problem.bids[k].id for k in members)
        items = tuple(sorted({problem.bids[k].item for k in members}))
        factories = tuple(sorted({problem.bids[k].factory for k in members}))
    return RuleConflict(
        rule=rule,
        items=items,
        factories=factories,
        bids=bid_ids,
        shortfall=amount,
        detail=_detail(model, family, key, amount, position),
    )


def _detail(
    model: AllocationModel, family: str, key: str, amount: Decimal | None, position: dict[str, int]
) -> str:
    problem = model.problem
    if family == "min_fill":
        item = next(i for i in problem.items if i.id == key)
        text = f"item {key} must get at least {item.min_fill} units"
    elif family == "cap_share":
        text = f"factory {key} may take at most {model.room[key]} more units this period"
    elif family == "guarantee":
        text = f"new factory {key} is guaranteed {model.guarantee[key]} units"
    elif family == "budget":
        text = f"the round's spend is capped at {problem.round.budget}"
    elif family == "item_share":
        text = f"bid {key} may take at most its item's factory share"
    elif family == "bid_cap":
        text = f"bid {key} offers a limited capacity"
    else:
        lot = problem.bids[position[key]].min_lot
        text = f"bid {key} must win its minimum lot of {_units(lot)} or nothing"
    if amount is None:
        return text + "; it binds against the rules violated"
    unit = "" if family == "budget" else " units"
    return f"{text}; it cannot hold with the others: short by {amount}{unit}"
