"""The awards' digest (the publish event's `awards_hash`) is sha256 of `canonical_json` of
the rows, whichever encoder writes it: any text, nulls of the later columns left out."""

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bidding.audit import canonical_json
from bidding.publication import LATER_COLUMNS, awards_digest

TEXT = st.text(max_size=8) | st.sampled_from(["plain", 'quo"te', "back\\slash", "\x7f", "é工"])
ROW = st.fixed_dictionaries(
    {
        "allocation_id": st.just("alc_1"),
        "bid_id": TEXT,
        "round_id": st.just("rnd_1"),
        "factory_id": TEXT,
        "item_id": TEXT,
        "units": st.integers(-(10**12), 10**12),
        "supply_price_cents": st.integers(0, 10**12),
        "setup_fee_cents": st.integers(0, 10**6),
        "capacity_share_used_ppb": st.integers(0, 10**9),
        "margin_ppb": st.none() | st.integers(-(10**9), 10**9),
        "reason": TEXT,
        "cost_to_win_more_cents": st.none() | st.integers(0, 10**9),
        "unit_cost_cents": st.none() | st.integers(0, 10**9),
        "setup_cost_cents": st.none() | st.integers(0, 10**9),
        "factory_name": st.none() | TEXT,
        "item_name": st.none() | TEXT,
    }
)


def plain_digest(rows: list[dict[str, Any]]) -> str:
    kept = sorted(
        ({k: v for k, v in r.items() if v is not None or k not in LATER_COLUMNS} for r in rows),
        key=lambda r: str(r["bid_id"]),
    )
    return "sha256:" + hashlib.sha256(canonical_json(kept).encode("utf-8")).hexdigest()


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=6))
def test_the_digest_is_that_of_the_canonical_json(rows: list[dict[str, Any]]) -> None:
    assert awards_digest(rows) == plain_digest(rows)


def test_plain_rows_and_escaped_ones_alike() -> None:
    row = {"bid_id": "b1", "units": 3, "factory_name": "Plain", "margin_ppb": None}
    assert awards_digest([row]) == plain_digest([row])
    odd = {**row, "factory_name": 'Fé "q" \\ \x01 \x7f'}
    assert awards_digest([odd]) == plain_digest([odd])
    assert awards_digest([odd]) != awards_digest([row])
