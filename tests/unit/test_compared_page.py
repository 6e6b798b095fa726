"""The comparison's pages: with "differences only", what differs is paged across the whole
comparison, not filtered within one page."""

from decimal import Decimal

from bidding.comparison import Comparison, Figures
from bidding.models import Allocation
from bidding.names import Names
from bidding.workspace import compared_page

ITEMS = [f"itm_{n}" for n in range(5)]
FACTORIES = [f"fac_{n}" for n in range(5)]


def _figures(changed: set[str]) -> Figures:
    """Five items and five factories; those in `changed` get one more unit and more spend."""
    more = {k: 1 if k in changed else 0 for k in ITEMS + FACTORIES}
    return Figures(
        objective=Decimal(0),
        spend=Decimal(0),
        units=0,
        expected_unsold=Decimal(0),
        takeover_cost=Decimal(0),
        salvage=Decimal(0),
        item_units={i: 10 + more[i] for i in ITEMS},
        item_spend={i: Decimal("5.00") + more[i] for i in ITEMS},
        item_unsold={i: Decimal(0) for i in ITEMS},
        item_takeover_cost={i: Decimal(0) for i in ITEMS},
        item_salvage={i: Decimal(0) for i in ITEMS},
        factory_units={f: 10 + more[f] for f in FACTORIES},
        factory_spend={f: Decimal("5.00") + more[f] for f in FACTORIES},
    )


def _comparison() -> Comparison:
    # Items 3 and 4 and factories 0 and 4 differ: on pages 2 and 3 of two rows, 1 and 3.
    changed = {"itm_3", "itm_4", "fac_0", "fac_4"}
    base = Allocation(id="alc_a", round_id="rnd", problem="{}", input_hash="x")
    other = Allocation(id="alc_b", round_id="rnd", problem="{}", input_hash="y", what_if=True)
    return Comparison(base, other, _figures(set()), _figures(changed), Names())


def test_every_row_is_paged_without_the_switch() -> None:
    shown = compared_page(_comparison(), page=0, differences_only=False, rows=2)
    assert (shown.item_ids, shown.factory_ids) == (ITEMS[:2], FACTORIES[:2])
    assert (shown.item_count, shown.factory_count, shown.pages) == (5, 5, 3)


def test_differences_only_pages_through_what_differs_on_every_page() -> None:
    first = compared_page(_comparison(), page=0, differences_only=True, rows=2)
    assert first.item_ids == ["itm_3", "itm_4"]  # both beyond the first page of all items
    assert first.factory_ids == ["fac_0", "fac_4"]
    assert (first.item_count, first.factory_count, first.pages) == (2, 2, 1)
    one_a_page = compared_page(_comparison(), page=1, differences_only=True, rows=1)
    assert (one_a_page.item_ids, one_a_page.factory_ids, one_a_page.pages) == (
        ["itm_4"],
        ["fac_4"],
        2,
    )


def test_a_page_past_the_end_shows_the_last() -> None:
    shown = compared_page(_comparison(), page=99, differences_only=True, rows=2)
    assert (shown.page, shown.item_ids) == (0, ["itm_3", "itm_4"])
