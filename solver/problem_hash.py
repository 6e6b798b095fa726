"""The input hash: sha256 of the canonical problem, written in pieces from templates.

The same bytes as `json.dumps(problem.canonical(), sort_keys=True, separators=(",", ":"))`
(tests/unit/solver/test_problem_hash.py holds them equal on random problems), written row
by row from templates with the keys already in sorted order: at 100,000 bids the generic
encoder took most of a second. It reads the frozen problem's attributes only, so it does
not import the schema (solver/problem.py calls it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

from solver.problem_writer import format_decimal


def input_hash(problem: Any) -> str:
    """sha256 of the canonical problem (a solver.problem.Problem): "sha256:" and hex."""
    sha = hashlib.sha256()
    for part in _canonical_text(problem):
        sha.update(part.encode("utf-8"))
    return "sha256:" + sha.hexdigest()


def _canonical_text(problem: Any) -> Iterator[str]:
    """The canonical problem as compact JSON with sorted keys, in pieces (see input_hash)."""
    text = _json_text
    r = problem.round
    # By column, each distinct number, factory and item spelled once (prices repeat across
    # bids, and a factory's id on every bid of it).
    columns = problem.bid_columns
    num = _number_texts(columns.unit_cost + columns.setup_cost + columns.ask_price)
    factories = {f: text(f) for f in set(columns.factory)}
    items = {i: text(i) for i in set(columns.item)}
    rows = zip(
        map(num.__getitem__, columns.ask_price),
        columns.capacity,
        map(factories.__getitem__, columns.factory),
        map(text, columns.id),
        map(items.__getitem__, columns.item),
        columns.min_lot,
        map(num.__getitem__, columns.setup_cost),
        map(num.__getitem__, columns.unit_cost),
        strict=True,
    )
    yield '{"bids":['
    # In pieces of a few thousand bids: the text of them all would be tens of megabytes,
    # made while the solver holds its model (the hash runs during the simplex).
    for start in range(0, len(columns.id), _HASH_PIECE):
        yield ("," if start else "") + ",".join(
            f'{{"ask_price":{ask},"capacity":{capacity},"factory":{factory},"id":{bid},'
            f'"item":{item},"min_lot":{lot},"setup_cost":{setup},"unit_cost":{cost}}}'
            for ask, capacity, factory, bid, item, lot, setup, cost in islice(rows, _HASH_PIECE)
        )
    num = _number_texts(
        [f.capacity_share for f in problem.factories]
        + [s.probability for item in problem.items for s in item.demand]
        + [item.max_factory_share for item in problem.items]
        + [m for item in problem.items for m in (item.retail_price, item.handling_cost)]
        + [item.salvage_value for item in problem.items]
        + [r.budget, r.capacity_share, r.margin_floor, r.mip_gap]
    )
    yield '],"factories":['
    yield ",".join(
        f'{{"capacity_share":{num[f.capacity_share]},'
        f'"committed_units":{f.committed_units},"guaranteed_units":{f.guaranteed_units},'
        f'"id":{text(f.id)},"is_new":{"true" if f.is_new else "false"},'
        f'"monthly_capacity":{f.monthly_capacity}}}'
        for f in problem.factories
    )
    yield '],"items":['
    yield ",".join(
        '{"demand":['
        + ",".join(
            f'{{"probability":{num[s.probability]},"units":{s.units}}}'
            for s in sorted(item.demand, key=lambda s: (s.units, s.probability))
        )
        + f'],"handling_cost":{num[item.handling_cost]},"id":{text(item.id)},'
        f'"max_factory_share":{num[item.max_factory_share]},'
        f'"min_fill":{item.min_fill},"retail_price":{num[item.retail_price]},'
        f'"salvage_value":{num[item.salvage_value]}}}'
        for item in problem.items
    )
    yield (
        f'],"round":{{"budget":{num[r.budget]},'
        f'"capacity_share":{num[r.capacity_share]},"currency":{text(r.currency)},'
        f'"id":{text(r.id)},"margin_floor":{num[r.margin_floor]},'
        f'"mip_gap":{num[r.mip_gap]}}}}}'
    )


_HASH_PIECE = 4096
_json_text: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A str as json.dumps writes it by default (ASCII, escaped), in C."""


def _number_texts(values: Iterable[Decimal | None]) -> dict[Decimal | None, str]:
    """Each distinct value's canonical JSON: format_decimal as a string, or null."""
    texts: dict[Decimal | None, str] = {None: "null"}
    for value in set(values):
        if value is not None:
            texts[value] = _json_text(format_decimal(value))
    return texts
