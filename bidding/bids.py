"""Bids: submit, amend (a new version), withdraw, read; sealed until the round closes.

Each write re-reads its round under `lock_round` and checks it is open in the same
transaction as the write, so no bid is accepted, changed or withdrawn after the close
(SPEC 4), however the two race. While the round is open, a bid's audit event holds its
id, its round and a salted commitment to its factory, item, version and content, never
those themselves.
"""

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlmodel import Session, col, select

from bidding.audit import record_event
from bidding.db import use_case
from bidding.errors import (
    BidExists,
    BidNotFound,
    BidSheetInvalid,
    BidWithdrawn,
    Forbidden,
    InvalidInput,
    RoundNotClosed,
    RoundNotFound,
    RoundNotOpen,
)
from bidding.models import (
    Bid,
    BidStatus,
    BidVersion,
    Item,
    Role,
    Round,
    RoundItem,
    RoundState,
    utcnow,
)
from bidding.principal import Principal
from bidding.rounds import can_see_round, lock_round
from bidding.values import from_cents, new_id, to_cents


@dataclass(frozen=True)
class BidTerms:
    """A bid's content: what a version holds."""

    unit_cost: Decimal
    capacity: int
    ask_price: Decimal | None = None
    min_lot: int = 0
    setup_cost: Decimal = Decimal(0)


def terms_of(version: BidVersion) -> BidTerms:
    """The content of a stored version."""
    ask = version.ask_price_cents
    return BidTerms(
        unit_cost=from_cents(version.unit_cost_cents),
        capacity=version.capacity,
        ask_price=None if ask is None else from_cents(ask),
        min_lot=version.min_lot,
        setup_cost=from_cents(version.setup_cost_cents),
    )


def _money(amount: Decimal) -> str:
    # As stored and as the versions endpoint shows it ("18.50"), whatever the input's spelling.
    return str(from_cents(to_cents(amount)))


def commitment(bid: Bid, version: int, terms: BidTerms, nonce: str) -> str:
    """sha256 over a random nonce and the canonical content: binds the bid, reveals nothing.

    Money is spelled with two decimals, as the versions endpoint shows it, so finance can
    recompute the commitment from what the API reveals after the close.
    """
    content = json.dumps(
        {
            "bid": bid.id,
            "round": bid.round_id,
            "factory": bid.factory_id,
            "item": bid.item_id,
            "version": version,
            "unit_cost": _money(terms.unit_cost),
            "capacity": terms.capacity,
            "ask_price": None if terms.ask_price is None else _money(terms.ask_price),
            "min_lot": terms.min_lot,
            "setup_cost": _money(terms.setup_cost),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(f"{nonce}\n{content}".encode()).hexdigest()


def _check_terms(terms: BidTerms) -> None:
    if terms.min_lot > terms.capacity:
        raise InvalidInput([("body.min_lot", "must be at most the bid's capacity")])


def _add_version(session: Session, bid: Bid, version: int, terms: BidTerms) -> BidVersion:
    nonce = secrets.token_hex(16)
    row = BidVersion(
        bid_id=bid.id,
        version=version,
        unit_cost_cents=to_cents(terms.unit_cost),
        capacity=terms.capacity,
        ask_price_cents=None if terms.ask_price is None else to_cents(terms.ask_price),
        min_lot=terms.min_lot,
        setup_cost_cents=to_cents(terms.setup_cost),
        nonce=nonce,
        commitment=commitment(bid, version, terms, nonce),
    )
    session.add(row)
    session.flush()
    return row


def _sealed_state(bid: Bid, version: BidVersion) -> dict[str, Any]:
    # All the audit log may hold while the round is open: finance reads the log then, and
    # the factory, item or version would tell who bids on what and how often they amend.
    # The commitment covers them and the content; the nonces are revealed after the close.
    # The events leave out the actor's key too (record_event's conceal_actor_key): it
    # belongs to one factory. After the close the bid id leads to the factory.
    return {"bid": bid.id, "round": bid.round_id, "commitment": version.commitment}


def _open_round_for(session: Session, actor: Principal, round_id: str) -> Round:
    row = lock_round(session, round_id)
    if not can_see_round(session, actor, row):
        raise RoundNotFound(f"no round {round_id!r}")
    if row.state != RoundState.open:
        raise RoundNotOpen(row.state)
    return row


@use_case
def submit_bid(
    *, session: Session, actor: Principal, round_id: str, item_id: str, terms: BidTerms
) -> tuple[Bid, BidVersion]:
    """Submit a factory's bid on one item of an open round (one live bid per item)."""
    row = _open_round_for(session, actor, round_id)
    _check_row(session, row, item_id, terms, where="body")
    if _live_bid_on(session, row, actor, item_id) is not None:
        raise BidExists(f"factory already has a live bid on item {item_id!r}")
    bid, version = _submit(session, actor, row, item_id, terms)
    session.commit()
    return bid, version


def _check_row(
    session: Session, row: Round, item_id: str, terms: BidTerms, *, where: str
) -> list[tuple[str, str]]:
    """The rules a bid breaks against its round: raised where `where` is the body."""
    errors = []
    if session.get(RoundItem, (row.id, item_id)) is None:
        errors.append((f"{where}.item", f"{item_id!r} is not an item of this round"))
    if terms.min_lot > terms.capacity:
        errors.append((f"{where}.min_lot", "must be at most the bid's capacity"))
    if errors and where == "body":
        raise InvalidInput(errors)
    return errors


def _slot(row: Round, actor: Principal, item_id: str) -> str:
    return f"{row.id}/{actor.factory_id}/{item_id}"


def _live_bid_on(session: Session, row: Round, actor: Principal, item_id: str) -> Bid | None:
    return session.exec(select(Bid).where(Bid.live_slot == _slot(row, actor, item_id))).first()


def _submit(
    session: Session, actor: Principal, row: Round, item_id: str, terms: BidTerms
) -> tuple[Bid, BidVersion]:
    if actor.factory_id is None:
        raise Forbidden("only a factory submits bids")
    bid = Bid(
        id=new_id("bid"),
        round_id=row.id,
        factory_id=actor.factory_id,
        item_id=item_id,
        live_slot=_slot(row, actor, item_id),
    )
    session.add(bid)
    session.flush()
    version = _add_version(session, bid, 1, terms)
    record_event(
        session,
        actor=actor,
        action="bid.submit",
        entity_type="bid",
        entity_id=bid.id,
        conceal_actor_key=True,
        after=_sealed_state(bid, version),
    )
    return bid, version


SheetAction = Literal["blank", "set", "withdraw"]
SheetFault = tuple[str, str, int | None, str | None]
"""(field, message, sheet row, A1 cell), as `BidSheetInvalid` takes them."""


@dataclass(frozen=True)
class SheetRow:
    """A bid-sheet row as read: the item as written, what the row asks for, its version.

    `terms` is None for a blank or withdrawing row and for one whose terms are at fault
    (the reader has its faults); such a row is still checked for its item and version.
    `version` is the bid version the sheet was made from (0: no live bid then).
    """

    row: int
    item: str | None
    item_name: str | None
    action: SheetAction
    terms: BidTerms | None
    version: int | None
    cells: dict[str, str] = field(default_factory=dict)
    """Column key -> A1 cell, to name the cell of a fault found here."""


SheetOutcomeAction = Literal["submitted", "amended", "withdrawn", "unchanged", "left_alone"]


@dataclass(frozen=True)
class SheetOutcome:
    """What one row of an applied sheet did, and the bid it touched (if any)."""

    row: int
    item_id: str
    action: SheetOutcomeAction
    bid: tuple[Bid, BidVersion] | None


@dataclass(frozen=True)
class SheetItem:
    """An item of a round as a bid sheet shows it."""

    id: str
    name: str
    retail_price_cents: int


def _sheet_fault(line: int, column: str, cell: str | None, message: str) -> SheetFault:
    return (f"rows[{line}].{column}", (f"cell {cell}: " if cell else "") + message, line, cell)


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def round_items(session: Session, row: Round) -> list[SheetItem]:
    """The round's items in name order, as the bid sheet lists them."""
    found = session.exec(
        select(Item)
        .join(RoundItem, col(RoundItem.item_id) == Item.id)
        .where(RoundItem.round_id == row.id)
        .order_by(col(Item.name), col(Item.id))
    ).all()
    return [SheetItem(item.id, item.name, item.retail_price_cents) for item in found]


def live_bids_of(
    session: Session, row: Round, factory_id: str
) -> dict[str, tuple[Bid, BidVersion]]:
    """A factory's live bids in a round at their latest versions, by item id."""
    found = session.exec(
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(
            Bid.round_id == row.id,
            Bid.factory_id == factory_id,
            Bid.status == BidStatus.live,
        )
    ).all()
    return {bid.item_id: (bid, version) for bid, version in found}


def _resolve_item(
    sheet_row: SheetRow, by_id: dict[str, SheetItem], by_name: dict[str, list[SheetItem]]
) -> tuple[SheetItem | None, list[SheetFault]]:
    """The item a row names, by id, else by a name unique in the round; or its faults."""

    def fault(column: str, message: str) -> SheetFault:
        return _sheet_fault(sheet_row.row, column, sheet_row.cells.get(column), message)

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


@use_case
def apply_bid_sheet(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    rows: Sequence[SheetRow],
    faults: Sequence[SheetFault],
    limits: dict[str, int],
) -> list[SheetOutcome]:
    """A bid sheet, all rows or none: submit, amend, withdraw or leave each item alone.

    The reader's `faults` and the round's (unknown or ambiguous items, an item twice, a
    stale version) are refused together in one `BidSheetInvalid`; nothing is stored then.
    A row whose terms equal the live bid's changes nothing (no new version, no event).
    """
    row = _open_round_for(session, actor, round_id)
    if actor.factory_id is None:
        raise Forbidden("only a factory submits bids")
    items = round_items(session, row)
    by_id = {item.id: item for item in items}
    by_name: dict[str, list[SheetItem]] = {}
    for each in items:
        by_name.setdefault(_name_key(each.name), []).append(each)
    live = live_bids_of(session, row, actor.factory_id)
    errors = list(faults)
    seen: dict[str, int] = {}
    plan: list[tuple[SheetRow, SheetItem]] = []
    for sheet_row in rows:
        item, found = _resolve_item(sheet_row, by_id, by_name)
        errors += found
        if item is None:
            continue
        line = sheet_row.row
        if item.id in seen:
            cell = sheet_row.cells.get("item") or sheet_row.cells.get("item_name")
            errors.append(
                _sheet_fault(line, "item", cell, f"item {item.id} is also on row {seen[item.id]}")
            )
            continue
        seen[item.id] = line
        current = live.get(item.id)
        if sheet_row.action == "withdraw":
            changes = current is not None  # withdrawing what is not live changes nothing
        else:
            changes = sheet_row.action == "set" and (
                current is None or sheet_row.terms != terms_of(current[1])
            )
        now = current[0].version if current else 0
        if changes and sheet_row.version is not None and sheet_row.version != now:
            errors.append(
                _sheet_fault(
                    line,
                    "version",
                    sheet_row.cells.get("version"),
                    f"the bid on {item.id} changed since this sheet was made (version "
                    f"{sheet_row.version} in the sheet, {now or 'none live'} now): download "
                    "a new template",
                )
            )
            continue
        plan.append((sheet_row, item))
    if not rows:
        errors.append(("file", "the sheet has no bid rows", None, None))
    if errors:
        raise BidSheetInvalid(errors, limits)
    done = []
    for sheet_row, item in plan:
        done.append(_apply_row(session, actor, row, sheet_row, item, live.get(item.id)))
    session.commit()
    return done


def _apply_row(
    session: Session,
    actor: Principal,
    row: Round,
    sheet_row: SheetRow,
    item: SheetItem,
    current: tuple[Bid, BidVersion] | None,
) -> SheetOutcome:
    line = sheet_row.row
    if sheet_row.action == "withdraw":
        if current is None:  # nothing live: the sheet's wish holds already
            return SheetOutcome(line, item.id, "unchanged", None)
        return SheetOutcome(line, item.id, "withdrawn", _withdraw(session, actor, current[0]))
    terms = sheet_row.terms
    if sheet_row.action == "blank" or terms is None:
        return SheetOutcome(line, item.id, "left_alone", current)
    if current is None:
        return SheetOutcome(
            line, item.id, "submitted", _submit(session, actor, row, item.id, terms)
        )
    if terms == terms_of(current[1]):
        return SheetOutcome(line, item.id, "unchanged", current)
    return SheetOutcome(line, item.id, "amended", _amend(session, actor, current[0], terms))


def bid_sheet_of(
    *, session: Session, principal: Principal, round_id: str
) -> tuple[Round, list[SheetItem], dict[str, tuple[Bid, BidVersion]]]:
    """What a factory's bid sheet shows: the round, its items, and its own live bids only."""
    row = session.get(Round, round_id)
    if row is None or principal.factory_id is None or not can_see_round(session, principal, row):
        raise RoundNotFound(f"no round {round_id!r}")
    return row, round_items(session, row), live_bids_of(session, row, principal.factory_id)


def _own_live_bid(session: Session, actor: Principal, row: Round, bid_id: str) -> Bid:
    bid = session.get(Bid, bid_id)
    if bid is None or bid.round_id != row.id or bid.factory_id != actor.factory_id:
        raise BidNotFound(f"no bid {bid_id!r} in round {row.id!r}")
    if bid.status != BidStatus.live:
        raise BidWithdrawn()
    return bid


def _latest(session: Session, bid: Bid) -> BidVersion:
    version = session.exec(
        select(BidVersion).where(BidVersion.bid_id == bid.id, BidVersion.version == bid.version)
    ).one()
    return version


@use_case
def amend_bid(
    *, session: Session, actor: Principal, round_id: str, bid_id: str, terms: BidTerms
) -> tuple[Bid, BidVersion]:
    """Amend a live bid of an open round: a new version; the old ones are kept."""
    row = _open_round_for(session, actor, round_id)
    bid = _own_live_bid(session, actor, row, bid_id)
    _check_terms(terms)
    result = _amend(session, actor, bid, terms)
    session.commit()
    return result


def _amend(session: Session, actor: Principal, bid: Bid, terms: BidTerms) -> tuple[Bid, BidVersion]:
    before = _sealed_state(bid, _latest(session, bid))
    bid.version += 1
    bid.updated_at = utcnow()
    session.add(bid)
    version = _add_version(session, bid, bid.version, terms)
    record_event(
        session,
        actor=actor,
        action="bid.amend",
        entity_type="bid",
        entity_id=bid.id,
        conceal_actor_key=True,
        before=before,
        after=_sealed_state(bid, version),
    )
    return bid, version


@use_case
def withdraw_bid(
    *, session: Session, actor: Principal, round_id: str, bid_id: str
) -> tuple[Bid, BidVersion]:
    """Withdraw a live bid of an open round; the factory may then submit afresh."""
    row = _open_round_for(session, actor, round_id)
    bid = _own_live_bid(session, actor, row, bid_id)
    result = _withdraw(session, actor, bid)
    session.commit()
    return result


def _withdraw(session: Session, actor: Principal, bid: Bid) -> tuple[Bid, BidVersion]:
    version = _latest(session, bid)
    before = _sealed_state(bid, version)
    bid.status = BidStatus.withdrawn
    bid.live_slot = None
    bid.updated_at = utcnow()
    session.add(bid)
    record_event(
        session,
        actor=actor,
        action="bid.withdraw",
        entity_type="bid",
        entity_id=bid.id,
        conceal_actor_key=True,
        before=before,
        after=_sealed_state(bid, version),
    )
    return bid, version


def _readable_round(session: Session, principal: Principal, round_id: str) -> Round:
    """The round whose bids the caller may read: its own bids for a factory, all once closed."""
    row = session.get(Round, round_id)
    if principal.role == Role.factory:
        # A round the factory cannot bid in has no bids of its: answer as for a bid.
        if row is None or not can_see_round(session, principal, row):
            raise BidNotFound(f"no bids of yours in round {round_id!r}")
        return row
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    if row.closed_at is None:  # sealed until the close (forever, if cancelled before it)
        raise RoundNotClosed(row.state)
    return row


def get_bid(
    *, session: Session, principal: Principal, round_id: str, bid_id: str
) -> tuple[Bid, BidVersion]:
    """One bid, latest version: its factory's, or anyone's to staff once the round closed."""
    row = _readable_round(session, principal, round_id)
    bid = session.get(Bid, bid_id)
    if bid is None or bid.round_id != row.id:
        raise BidNotFound(f"no bid {bid_id!r} in round {round_id!r}")
    if principal.role == Role.factory and bid.factory_id != principal.factory_id:
        raise BidNotFound(f"no bid {bid_id!r} in round {round_id!r}")
    return bid, _latest(session, bid)


def list_bids(
    *, session: Session, principal: Principal, round_id: str, after: str | None, limit: int
) -> list[tuple[Bid, BidVersion]]:
    """Bids with their latest versions in id order: a factory's own, or all once closed."""
    row = _readable_round(session, principal, round_id)
    query = (
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(Bid.round_id == row.id)
        .order_by(col(Bid.id))
        .limit(limit)
    )
    if principal.role == Role.factory:
        query = query.where(Bid.factory_id == principal.factory_id)
    if after is not None:
        query = query.where(col(Bid.id) > after)
    return [(bid, version) for bid, version in session.exec(query).all()]


def list_versions(
    *, session: Session, principal: Principal, round_id: str, bid_id: str
) -> Sequence[BidVersion]:
    """A bid's amendment history, oldest first."""
    bid, _ = get_bid(session=session, principal=principal, round_id=round_id, bid_id=bid_id)
    return session.exec(
        select(BidVersion).where(BidVersion.bid_id == bid.id).order_by(col(BidVersion.version))
    ).all()
