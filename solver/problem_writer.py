"""The problem as canonical JSON data and text: every number normalised, every list by id.

The plain path the input hash (solver/problem_hash.py) must agree with, and what
`Problem.to_json` writes; tests/unit/solver/test_problem_writer.py holds that reading
what it writes gives the same problem back.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """A problem's `model_dump(mode="python")` as plain JSON data, demand sorted, numbers
    as their shortest text."""
    data = dict(data)
    data["items"] = [
        {**item, "demand": sorted(item["demand"], key=lambda s: (s["units"], s["probability"]))}
        for item in data["items"]
    ]
    return _normalise(data)  # type: ignore[no-any-return]


def to_json(data: dict[str, Any]) -> str:
    """Canonical data as the exchange format's stable text (numbers as strings)."""
    return json.dumps(data, sort_keys=True, indent=2) + "\n"


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return format_decimal(value)
    raise TypeError(f"unexpected value in a problem: {value!r}")


def format_decimal(value: Decimal) -> str:
    """The shortest plain spelling of a number: 1, 1.0 and "1.00" all give "1"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
