"""A bid sheet applied to a factory's bids: the rules against the round, all rows or none.

Items are matched by id, or by a name unique in the round. A row equal to the live bid
changes nothing (no version, no event); a row that would change a bid changed since the
sheet was made (its `version` is stale) is refused. The reader's faults and these come
in one `BidSheetInvalid`; without any, `bids.apply_bid_changes` writes every change in one
transaction, under the round's lock, audited as single bids are.
"""

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, col, select

from bidding.bid_sheets import LIMITS, BidSheet, SheetFault, SheetRow, read_bid_sheet
from bidding.bids import BidChange, LiveBids, apply_bid_changes, terms_of
from bidding.errors import BidSheetInvalid
from bidding.models import Bid, BidVersion, Item, Round, RoundItem
from bidding.principal import Principal
from bidding.values import normal_name

SheetOutcomeAction = Literal["submitted", "amended", "withdrawn", "unchanged", "left_alone"]
WRITTEN: dict[str, SheetOutcomeAction] = {
    "submit": "submitted",
    "amend": "amended",
    "withdraw": "withdrawn",
}


@dataclass(frozen=True)
class SheetItem:
    """An item of a round as a bid sheet shows it."""

    id: str
    name: str
    retail_price_cents: int


@dataclass(frozen=True)
class SheetOutcome:
    """What one row of an applied sheet did, and the bid after it (if there is one)."""

    row: int
    item_id: str
    action: SheetOutcomeAction
    bid: tuple[Bid, BidVersion] | None


@dataclass(frozen=True)
class _Planned:
    row: int
    item_id: str
    change: BidChange | None
    current: tuple[Bid, BidVersion] | None
    quiet: SheetOutcomeAction
    """The outcome where there is no change: unchanged or left alone."""


def round_items(session: Session, row: Round) -> list[SheetItem]:
    """The round's items in name order, as the bid sheet lists them."""
    found = session.exec(
        select(Item)
        .join(RoundItem, col(RoundItem.item_id) == Item.id)
        .where(RoundItem.round_id == row.id)
        .order_by(col(Item.name), col(Item.id))
    ).all()
    return [SheetItem(item.id, item.name, item.retail_price_cents) for item in found]


def import_bid_sheet(
    *, session: Session, actor: Principal, round_id: str, filename: str | None, content: bytes
) -> tuple[BidSheet, list[SheetOutcome]]:
    """Read a sheet and apply it to the actor's bids: all rows or none, every fault at once."""
    sheet = read_bid_sheet(filename, content)  # before the transaction: no lock while parsing
    planned: list[_Planned] = []

    def plan(row: Round, live: LiveBids) -> list[BidChange]:
        planned[:] = _plan(session, sheet, row, live)
        return [p.change for p in planned if p.change is not None]

    written = apply_bid_changes(session=session, actor=actor, round_id=round_id, plan=plan)
    after = {bid.item_id: (bid, version) for bid, version in written}
    return sheet, [
        SheetOutcome(
            p.row,
            p.item_id,
            p.quiet if p.change is None else WRITTEN[p.change.kind],
            after.get(p.item_id, p.current),
        )
        for p in planned
    ]


def _plan(session: Session, sheet: BidSheet, row: Round, live: LiveBids) -> list[_Planned]:
    """Each row's change against the locked round, or every fault of the sheet raised."""
    items = round_items(session, row)
    by_id = {item.id: item for item in items}
    by_name: dict[str, list[SheetItem]] = {}
    for each in items:
        by_name.setdefault(_name_key(each.name), []).append(each)
    faults = [fault.as_tuple() for fault in sheet.faults]
    seen: dict[str, int] = {}
    planned = []
    for sheet_row in sheet.rows:
        item, found = _resolve_item(sheet_row, by_id, by_name)
        faults += found
        if item is None:
            continue
        line = sheet_row.row
        if item.id in seen:
            cell = sheet_row.cells.get("item") or sheet_row.cells.get("item_name")
            faults.append(_fault(line, "item", cell, f"{item.id} is also on row {seen[item.id]}"))
            continue
        seen[item.id] = line
        current = live.get(item.id)
        change = _change(sheet_row, item.id, current)
        now = current[0].version if current else 0
        if change is not None and sheet_row.version not in (None, now):
            faults.append(
                _fault(
                    line,
                    "version",
                    sheet_row.cells.get("version"),
                    f"the bid on {item.id} changed since this sheet was made (version "
                    f"{sheet_row.version} in the sheet, {now or 'none live'} now): download "
                    "a new template",
                )
            )
            continue
        quiet: SheetOutcomeAction = "left_alone" if sheet_row.action == "blank" else "unchanged"
        planned.append(_Planned(line, item.id, change, current, quiet))
    if not sheet.rows:
        faults.append(("file", "the sheet has no bid rows", None, None))
    if faults:
        raise BidSheetInvalid(faults, LIMITS)
    return planned


def _change(
    sheet_row: SheetRow, item_id: str, current: tuple[Bid, BidVersion] | None
) -> BidChange | None:
    """What the row asks of the item's bid, or None where it asks nothing new."""
    if sheet_row.action == "withdraw":  # withdrawing what is not live changes nothing
        return None if current is None else BidChange(item_id, "withdraw")
    terms = sheet_row.terms
    if sheet_row.action == "blank" or terms is None:
        return None
    if current is None:
        return BidChange(item_id, "submit", terms)
    return None if terms == terms_of(current[1]) else BidChange(item_id, "amend", terms)


def _fault(line: int, column: str, cell: str | None, message: str) -> SheetFault:
    return (f"rows[{line}].{column}", (f"cell {cell}: " if cell else "") + message, line, cell)


def _name_key(name: str) -> str:
    # NFC as names are stored: a sheet may spell `é` decomposed.
    return " ".join(normal_name(name).split()).casefold()


def _resolve_item(
    sheet_row: SheetRow, by_id: dict[str, SheetItem], by_name: dict[str, list[SheetItem]]
) -> tuple[SheetItem | None, list[SheetFault]]:
    """The item a row names, by id, else by a name unique in the round; or its faults."""

    def fault(column: str, message: str) -> SheetFault:
        return _fault(sheet_row.row, column, sheet_row.cells.get(column), message)

    def by_its_name(text: str, column: str) -> tuple[SheetItem | None, list[SheetFault]]:
        named = by_name.get(_name_key(text), [])
        if len(named) == 1:
            return named[0], []
        if not named:
            return None, [fault(column, f"{text!r} is no item of this round (by id or name)")]
        ids = ", ".join(item.id for item in named)
        return None, [
            fault(
                column,
                f"{len(named)} items of this round are named {text!r} ({ids}): give the item id",
            )
        ]

    if sheet_row.item is None:
        if sheet_row.item_name is None:
            return None, []  # the reader has said an item is required
        return by_its_name(sheet_row.item_name, "item_name")
    item = by_id.get(sheet_row.item)
    if item is None:  # an item column holding names is read as names
        return by_its_name(sheet_row.item, "item")
    name = sheet_row.item_name
    if name is not None and _name_key(name) != _name_key(item.name):
        return None, [
            fault(
                "item_name",
                f"{name!r} is not the name of item {item.id} ({item.name!r}): "
                "were the columns sorted apart?",
            )
        ]
    return item, []
