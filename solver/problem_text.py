"""The problem's stable text (`Problem.to_json`), written from templates.

The same text as `json.dumps(problem.canonical(), sort_keys=True, indent=2) + "\\n"`
(tests/unit/solver/test_problem_text.py holds them equal on random problems): with an
indent, json.dumps runs its encoder in Python, two seconds for 100,000 bids, which a solve
request paid each time. Each bid is a template with its keys in sorted order, and each
distinct number is spelled once. It reads the frozen problem's attributes only, as
solver/problem_hash.py does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from solver.problem_writer import format_decimal

_text: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A str as json.dumps writes it by default (ASCII, escaped), in C."""


def indented_json(problem: Any) -> str:
    """The canonical problem (a solver.problem.Problem) as indented JSON, keys sorted."""
    r = problem.round
    bids = problem.bids
    num = _numbers(
        [b.unit_cost for b in bids]
        + [b.setup_cost for b in bids]
        + [b.ask_price for b in bids]
        + [f.capacity_share for f in problem.factories]
        + [s.probability for item in problem.items for s in item.demand]
        + [item.max_factory_share for item in problem.items]
        + [m for item in problem.items for m in (item.retail_price, item.handling_cost)]
        + [item.salvage_value for item in problem.items]
        + [r.budget, r.capacity_share, r.margin_floor, r.mip_gap]
    )
    text = _text
    bid_rows = [
        "    {\n"
        f'      "ask_price": {num[b.ask_price]},\n'
        f'      "capacity": {b.capacity},\n'
        f'      "factory": {text(b.factory)},\n'
        f'      "id": {text(b.id)},\n'
        f'      "item": {text(b.item)},\n'
        f'      "min_lot": {b.min_lot},\n'
        f'      "setup_cost": {num[b.setup_cost]},\n'
        f'      "unit_cost": {num[b.unit_cost]}\n'
        "    }"
        for b in bids
    ]
    factory_rows = [
        "    {\n"
        f'      "capacity_share": {num[f.capacity_share]},\n'
        f'      "committed_units": {f.committed_units},\n'
        f'      "guaranteed_units": {f.guaranteed_units},\n'
        f'      "id": {text(f.id)},\n'
        f'      "is_new": {"true" if f.is_new else "false"},\n'
        f'      "monthly_capacity": {f.monthly_capacity}\n'
        "    }"
        for f in problem.factories
    ]
    item_rows = [
        "    {\n"
        f'      "demand": {_demand(item.demand, num)},\n'
        f'      "handling_cost": {num[item.handling_cost]},\n'
        f'      "id": {text(item.id)},\n'
        f'      "max_factory_share": {num[item.max_factory_share]},\n'
        f'      "min_fill": {item.min_fill},\n'
        f'      "retail_price": {num[item.retail_price]},\n'
        f'      "salvage_value": {num[item.salvage_value]}\n'
        "    }"
        for item in problem.items
    ]
    round_text = (
        "{\n"
        f'    "budget": {num[r.budget]},\n'
        f'    "capacity_share": {num[r.capacity_share]},\n'
        f'    "currency": {text(r.currency)},\n'
        f'    "id": {text(r.id)},\n'
        f'    "margin_floor": {num[r.margin_floor]},\n'
        f'    "mip_gap": {num[r.mip_gap]}\n'
        "  }"
    )
    return (
        "{\n"
        f'  "bids": {_list(bid_rows, "  ")},\n'
        f'  "factories": {_list(factory_rows, "  ")},\n'
        f'  "items": {_list(item_rows, "  ")},\n'
        f'  "round": {round_text}\n'
        "}\n"
    )


def _list(rows: Sequence[str], indent: str) -> str:
    """Rows (each indented already) as an indented JSON list; `[]` when empty."""
    if not rows:
        return "[]"
    return "[\n" + ",\n".join(rows) + "\n" + indent + "]"


def _demand(demand: Iterable[Any], num: dict[Decimal | None, str]) -> str:
    rows = [
        "        {\n"
        f'          "probability": {num[s.probability]},\n'
        f'          "units": {s.units}\n'
        "        }"
        for s in sorted(demand, key=lambda s: (s.units, s.probability))
    ]
    return _list(rows, "      ")


def _numbers(values: Iterable[Decimal | None]) -> dict[Decimal | None, str]:
    """Each distinct value's canonical JSON: format_decimal as a string, or null."""
    texts: dict[Decimal | None, str] = {None: "null"}
    for value in set(values):
        if value is not None:
            texts[value] = _text(format_decimal(value))
    return texts
