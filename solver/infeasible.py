"""Infeasible rounds explained (SPEC 3): the rules in conflict, found by a relaxation re-solve.

The model is rebuilt elastic: every soft-able rule (capacity share, minimum fill, item
share, budget, new-factory guarantee) gets a violation slack, and the total violation is
minimised (units for unit rules; budget money divided by the highest supply price, so one
unit's worth of money weighs about one unit). The rules left violated at that minimum are
the conflicts; the rules that hold them there are the rows and bid capacities with a
non-zero dual in the same solve (for a MILP, the LP with its binaries fixed). Nothing is
guessed: each entry names what the solver's answer names.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from solver.engine import EngineSettings, SolverError, make_engine
from solver.model import AllocationModel, Formulation, build_model
from solver.problem import Problem
from solver.result import RuleConflict

VIOLATION_TOL = 1e-6
DUAL_TOL = 1e-7

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


def find_conflicts(
    problem: Problem, settings: EngineSettings, formulation: Formulation = "segments"
) -> list[RuleConflict]:
    """The rules in conflict: violated ones first (with their shortfall), then those binding."""
    model = build_model(problem, formulation, elastic=True)
    engine = make_engine(model, settings)
    mip = problem.has_binaries
    status = engine.run(mip=mip)
    if status not in ("optimal", "feasible"):
        raise SolverError(f"the relaxation re-solve failed: {engine.status_message}")
    if mip:
        values = engine.values()
        lower, upper = engine.original_bounds()
        z_cols = model.z_col[model.binary]
        lower[z_cols] = upper[z_cols] = np.round(values[z_cols])
        engine.set_col_bounds(lower, upper)
        engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
        if engine.run(mip=False) != "optimal":
            raise SolverError("the relaxation re-solve failed with the binaries fixed")
    values = engine.values()
    row_dual = engine.row_duals()
    col_dual = engine.col_duals()
    violated: list[RuleConflict] = []
    binding: list[RuleConflict] = []
    position = {b.id: k for k, b in enumerate(problem.bids)}
    for name, slack in model.slack.items():
        amount = float(values[slack.id])
        if amount > VIOLATION_TOL:
            family, key = model.row_meta[model.rows[name]]
            violated.append(_conflict(model, family, key, values, amount, position))
    violated_names = {n for n, s in model.slack.items() if float(values[s.id]) > VIOLATION_TOL}
    named: set[tuple[str, str]] = set()
    for index, (family, key) in enumerate(model.row_meta):
        if family not in RULE_NAMES or f"{family}[{key}]" in violated_names:
            continue
        if abs(float(row_dual[index])) > DUAL_TOL:
            if family == "bid_cap" and _switched_off(model, position[key], values):
                if _fee_under_budget(model, position[key]):
                    binding.append(_setup_fee_conflict(model, position[key]))
                    continue
                family = "min_lot"  # the lot alone can keep it off
            if (family, key) not in named:
                named.add((family, key))
                binding.append(_conflict(model, family, key, values, None, position))
    x = values[model.x_col]
    full = (x >= model.capacity - VIOLATION_TOL) & (np.abs(col_dual[model.x_col]) > DUAL_TOL)
    if full.any():
        bids = [model.problem.bids[k] for k in np.flatnonzero(full)]
        binding.append(
            RuleConflict(
                rule="bid_capacity",
                items=tuple(sorted({b.item for b in bids})),
                factories=tuple(sorted({b.factory for b in bids})),
                bids=tuple(b.id for b in bids),
                detail=f"{len(bids)} bid(s) supply all the units they offer",
            )
        )
    return sorted(violated, key=_order) + sorted(binding, key=_order)


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
