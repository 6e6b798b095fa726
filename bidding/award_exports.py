"""The published awards as an export: a row per bid, per item, per factory and the totals.

Read straight from the award rows (their figures and names as published, integer cents and
parts per billion), never from a stored result, in one query. The CSV of a view is made a
line at a time (`award_csv`), so 100,000 awards stream out without a report held in memory;
the XLSX is the whole report (`awards_report`), a sheet per view. Cells go through
`bidding.export_cells` like every export: names neutralised, money a number, percentages.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlmodel import Session, col

from bidding.award_figures import AwardContext, award_context
from bidding.errors import InvalidInput
from bidding.export_cells import (
    Cell,
    Money,
    Percent,
    cents_text,
    csv_row,
    neutralise,
    ppb_percent_text,
)
from bidding.exports import BOM, Report, Sheet, csv_lines
from bidding.lifecycle import require
from bidding.models import PPB, Allocation, Award
from bidding.names import Names, names_of
from bidding.principal import Principal
from bidding.reports import money_header
from bidding.rounds import get_round

ZERO = Decimal(0)
CENTS_PER_UNIT = Decimal(100)
AWARD_COLUMNS = (
    col(Award.allocation_id),
    col(Award.bid_id),
    col(Award.factory_id),
    col(Award.factory_name),
    col(Award.item_id),
    col(Award.item_name),
    col(Award.units),
    col(Award.supply_price_cents),
    col(Award.setup_fee_cents),
    col(Award.capacity_share_used_ppb),
    col(Award.margin_ppb),
    col(Award.reason),
    col(Award.cost_to_win_more_cents),
)


class AwardLine(NamedTuple):
    """One award row as stored: ids, names as published, cents and parts per billion."""

    allocation: str
    bid: str
    factory: str
    factory_name: str | None
    item: str
    item_name: str | None
    units: int
    supply_price_cents: int
    setup_fee_cents: int
    capacity_share_used_ppb: int
    margin_ppb: int | None
    reason: str
    cost_to_win_more_cents: int | None

    @property
    def amount_cents(self) -> int:
        """What the award pays: supply price times units, the setup fee if it wins any."""
        return self.supply_price_cents * self.units + (self.setup_fee_cents if self.units else 0)


@dataclass(frozen=True)
class PublishedAwards:
    """A round's published awards (a factory's own only, for a factory), with the names."""

    round_id: str
    currency: str
    lines: Sequence[AwardLine]
    names: Names
    context: AwardContext
    """The figures each award is explained with (`bidding.award_figures`), read once."""

    @property
    def name(self) -> str:
        """The export's file name, without extension."""
        return f"awards-{self.round_id}"


def published_awards(*, session: Session, principal: Principal, round_id: str) -> PublishedAwards:
    """Every award of the round's published allocation in bid order; a factory's own only.

    Refused as the award list is: 409 `round_not_published` before publication, 404 for a
    round the caller cannot see. Names are those published; older rows get current ones.
    """
    seen = get_round(session=session, principal=principal, round_id=round_id, snapshot=False)
    row = require(seen, "read_awards")
    query = (
        select(*AWARD_COLUMNS)
        .join(Allocation, col(Allocation.id) == Award.allocation_id)
        .where(col(Award.round_id) == row.id, col(Allocation.published_at).is_not(None))
        .order_by(col(Award.bid_id))
    )
    if principal.factory_id is not None:
        query = query.where(col(Award.factory_id) == principal.factory_id)
    # Plain rows (no ORM objects): 100,000 of them are read in a fraction of a second.
    lines = list(map(AwardLine._make, session.connection().execute(query)))
    unnamed_factories = {a.factory for a in lines if a.factory_name is None}
    unnamed_items = {a.item for a in lines if a.item_name is None}
    names = names_of(session=session, factory_ids=unnamed_factories, item_ids=unnamed_items)
    context = (
        award_context(
            session=session,
            allocation_id=lines[0].allocation,
            bid_ids=None if principal.factory_id is None else {a.bid for a in lines},
        )
        if lines
        else AwardContext.empty()
    )
    return PublishedAwards(
        round_id=row.id, currency=row.currency, lines=lines, names=names, context=context
    )


def _explained(awards: PublishedAwards, a: AwardLine, item_name: str | None) -> str:
    """The award in plain words, as the award list gives it."""
    return awards.context.explain_stored(
        bid=a.bid,
        factory=a.factory,
        item=a.item,
        item_name=item_name,
        units=a.units,
        supply_price_cents=a.supply_price_cents,
        reason=a.reason,
        cost_to_win_more_cents=a.cost_to_win_more_cents,
    )


def _threshold(awards: PublishedAwards, a: AwardLine) -> Money | str | None:
    """`cost_to_win_more`: the award's, or the one the job after publication stored, or
    "pending" until it has."""
    value = awards.context.cost_to_win_more(a.bid, a.cost_to_win_more_cents)
    return value if value is None or isinstance(value, str) else Money(value, awards.currency)


def _threshold_text(awards: PublishedAwards, a: AwardLine) -> str:
    """`_threshold` as CSV text."""
    if a.bid not in awards.context.thresholds:
        return "" if a.cost_to_win_more_cents is None else cents_text(a.cost_to_win_more_cents)
    value = awards.context.thresholds[a.bid]
    if value is None or isinstance(value, str):
        return value or ""
    return cents_text(int(value * CENTS_PER_UNIT))


def _money(cents: int, currency: str) -> Money:
    return Money(Decimal(cents) / CENTS_PER_UNIT, currency)


def _percent(ppb: int | None) -> Percent | None:
    return None if ppb is None else Percent(Decimal(ppb) / PPB)


def _bid_headers(currency: str) -> tuple[str, ...]:
    return (
        "Round",
        "Allocation",
        "Bid",
        "Factory",
        "Factory name",
        "Item",
        "Item name",
        "Units",
        money_header("Supply price", currency),
        money_header("Setup fee", currency),
        money_header("Amount", currency),
        "Capacity share used",
        "Margin",
        "Reason",
        money_header("Cost to win more", currency),
        money_header("Cost ceiling", currency),
        "Explanation",
    )


def _bid_rows(awards: PublishedAwards) -> Iterator[tuple[Cell, ...]]:
    currency, names = awards.currency, awards.names
    for a in awards.lines:
        item_name = a.item_name or names.item(a.item)
        ceiling = awards.context.ceilings.get(a.bid)
        yield (
            awards.round_id,
            a.allocation,
            a.bid,
            a.factory,
            a.factory_name or names.factory(a.factory),
            a.item,
            item_name,
            a.units,
            _money(a.supply_price_cents, currency),
            _money(a.setup_fee_cents, currency),
            _money(a.amount_cents, currency),
            _percent(a.capacity_share_used_ppb),
            _percent(a.margin_ppb),
            a.reason,
            _threshold(awards, a),
            None if ceiling is None else Money(ceiling, currency),
            _explained(awards, a, item_name),
        )


@dataclass
class _Sum:
    name: str | None = None
    awards: int = 0
    winning: int = 0
    units: int = 0
    amount_cents: int = 0

    def add(self, line: AwardLine, name: str | None) -> None:
        self.name = self.name or name
        self.awards += 1
        self.winning += line.units > 0
        self.units += line.units
        self.amount_cents += line.amount_cents


def _sums(awards: PublishedAwards, by_item: bool) -> dict[str, _Sum]:
    out: dict[str, _Sum] = defaultdict(_Sum)
    names = awards.names
    for a in awards.lines:
        if by_item:
            out[a.item].add(a, a.item_name or names.item(a.item))
        else:
            out[a.factory].add(a, a.factory_name or names.factory(a.factory))
    return out


def _group_headers(what: str, currency: str) -> tuple[str, ...]:
    return (
        "Round",
        what,
        f"{what} name",
        "Bids",
        "Bids won",
        "Units",
        money_header("Amount", currency),
    )


def _group_rows(awards: PublishedAwards, by_item: bool) -> Iterator[tuple[Cell, ...]]:
    for key, total in sorted(_sums(awards, by_item).items()):
        yield (
            awards.round_id,
            key,
            total.name,
            total.awards,
            total.winning,
            total.units,
            _money(total.amount_cents, awards.currency),
        )


def _totals_headers(currency: str) -> tuple[str, ...]:
    return ("Round", "Allocation", "Bids", "Bids won", "Units", money_header("Amount", currency))


def _totals_rows(awards: PublishedAwards) -> Iterator[tuple[Cell, ...]]:
    lines = awards.lines
    yield (
        awards.round_id,
        lines[0].allocation if lines else None,
        len(lines),
        sum(1 for a in lines if a.units > 0),
        sum(a.units for a in lines),
        _money(sum(a.amount_cents for a in lines), awards.currency),
    )


VIEWS = ("bid", "item", "factory", "totals")
"""The views of the awards export, in sheet order; `bid` is the CSV's default."""


def _view(
    awards: PublishedAwards, view: str
) -> tuple[str, tuple[str, ...], Iterable[tuple[Cell, ...]]]:
    """A view's sheet title, headers and rows (made as they are read)."""
    currency = awards.currency
    if view == "item":
        return "Per item", _group_headers("Item", currency), _group_rows(awards, by_item=True)
    if view == "factory":
        return "Per factory", _group_headers("Factory", currency), _group_rows(awards, False)
    if view == "totals":
        return "Totals", _totals_headers(currency), _totals_rows(awards)
    return "Per bid", _bid_headers(currency), _bid_rows(awards)


def check_view(view: str | None) -> str:
    """The view asked for (`bid` by default); 422 naming `view` for one the awards lack."""
    if view is None:
        return VIEWS[0]
    if view not in VIEWS:
        raise InvalidInput([("query.view", f"this report's views are {', '.join(VIEWS)}")])
    return view


def award_csv(awards: PublishedAwards, view: str | None) -> Iterator[str]:
    """One view as CSV text in pieces of a few thousand lines (the byte order mark and the
    header first). The bid view is spelled from the stored cents and parts per billion
    directly, as `csv_text` spells them (tests/unit/test_export_cells_fast.py)."""
    chosen = check_view(view)
    _, headers, rows = _view(awards, chosen)
    if chosen != "bid":
        return csv_lines(headers, rows)
    return _csv_pieces(headers, _bid_texts(awards))


PIECE_ROWS = 2000


def _csv_pieces(headers: Sequence[str], rows: Iterable[list[str]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow(csv_row(list(headers)))
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % PIECE_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _bid_texts(awards: PublishedAwards) -> Iterator[list[str]]:
    """The bid view's cells as CSV text: `_bid_rows` through `csv_text`, without Decimals."""
    names, round_id = awards.names, neutralise(awards.round_id)
    ceilings = awards.context.ceilings
    for a in awards.lines:
        item_name = a.item_name or names.item(a.item)
        ceiling = ceilings.get(a.bid)
        yield [
            round_id,
            neutralise(a.allocation),
            neutralise(a.bid),
            neutralise(a.factory),
            neutralise(a.factory_name or names.factory(a.factory) or ""),
            neutralise(a.item),
            neutralise(item_name or ""),
            str(a.units),
            cents_text(a.supply_price_cents),
            cents_text(a.setup_fee_cents),
            cents_text(a.amount_cents),
            ppb_percent_text(a.capacity_share_used_ppb),
            "" if a.margin_ppb is None else ppb_percent_text(a.margin_ppb),
            neutralise(a.reason),
            _threshold_text(awards, a),
            "" if ceiling is None else cents_text(int(ceiling * CENTS_PER_UNIT)),
            neutralise(_explained(awards, a, item_name)),
        ]


def awards_report(awards: PublishedAwards) -> Report:
    """Every view as a report: the XLSX workbook's sheets (`Report.sheet` checks a view)."""
    sheets = []
    for view in VIEWS:
        title, headers, rows = _view(awards, view)
        sheets.append(Sheet(view=view, title=title, headers=headers, rows=list(rows)))
    return Report(name=awards.name, sheets=tuple(sheets))
