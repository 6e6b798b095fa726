"""The awards export: a round's published awards as the API lists them, in words too.

Beside `bidding.reports` (whose cells and headers it uses), so the awards' columns are
the JSON's, with the explanation and the cost ceiling.
"""

from collections.abc import Sequence

from bidding.award_figures import AwardContext
from bidding.export_cells import Money
from bidding.exports import Report, Sheet
from bidding.models import Award, Round
from bidding.names import Names
from bidding.reports import money_header, money_or_none, percent_or_none
from bidding.values import from_cents, from_ppb


def awards_report(
    row: Round, awards: Sequence[Award], context: AwardContext, names: Names
) -> Report:
    """A round's published awards as the API lists them, each explained in words."""
    currency = row.currency
    return Report(
        name=f"awards-{row.id}",
        sheets=(
            Sheet(
                view="bid",
                title="Awards",
                headers=(
                    "Round",
                    "Bid",
                    "Factory",
                    "Factory name",
                    "Item",
                    "Item name",
                    "Units",
                    money_header("Supply price", currency),
                    money_header("Setup fee", currency),
                    "Capacity share used",
                    "Margin",
                    "Reason",
                    money_header("Cost to win more", currency),
                    money_header("Cost ceiling", currency),
                    "Explanation",
                ),
                rows=[
                    (
                        row.id,
                        a.bid_id,
                        a.factory_id,
                        a.factory_name or names.factory(a.factory_id),
                        a.item_id,
                        a.item_name or names.item(a.item_id),
                        a.units,
                        Money(from_cents(a.supply_price_cents), currency),
                        Money(from_cents(a.setup_fee_cents), currency),
                        percent_or_none(from_ppb(a.capacity_share_used_ppb)),
                        None if a.margin_ppb is None else percent_or_none(from_ppb(a.margin_ppb)),
                        a.reason,
                        None
                        if a.cost_to_win_more_cents is None
                        else Money(from_cents(a.cost_to_win_more_cents), currency),
                        money_or_none(context.ceilings.get(a.bid_id), currency),
                        context.explain_award(a, a.item_name or names.item(a.item_id)),
                    )
                    for a in awards
                ],
            ),
        ),
    )
