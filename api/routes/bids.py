"""Bids: factories submit, amend and withdraw their own; staff read them after the close."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from api.deps import BidReader, FactoryRole, IdPath, Pagination, SessionDep
from api.routes import COMMON, problems
from api.schemas.base import Page
from api.schemas.bids import BidAmend, BidCreate, BidPublic, BidVersionPublic
from api.sheets import MAX_SHEET_BYTES, read_bid_sheet
from bidding import bids
from bidding.bids import BidTerms

router = APIRouter(prefix="/v1/rounds/{round_id}/bids", tags=["bids"], responses=COMMON)


def _terms(body: BidAmend) -> BidTerms:
    return BidTerms(
        unit_cost=body.unit_cost,
        capacity=body.capacity,
        ask_price=body.ask_price,
        min_lot=body.min_lot,
        setup_cost=body.setup_cost,
    )


@router.post("", status_code=201, responses=problems(404, 409))
def submit_bid(
    round_id: IdPath, body: BidCreate, session: SessionDep, actor: FactoryRole
) -> BidPublic:
    """Submit a bid on one item of an open round (a second live bid on it: 409 `bid_exists`)."""
    bid, version = bids.submit_bid(
        session=session, actor=actor, round_id=round_id, item_id=body.item, terms=_terms(body)
    )
    return BidPublic.of(bid, version)


@router.post("/import", status_code=201, responses=problems(404, 409))
def import_bids(
    round_id: IdPath,
    file: Annotated[
        UploadFile,
        File(description="CSV or XLSX; columns item, unit_cost, capacity[, ask_price, ...]"),
    ],
    session: SessionDep,
    actor: FactoryRole,
) -> list[BidPublic]:
    """A bid sheet, all rows or none: submits new bids and amends live ones; errors per row."""
    rows = read_bid_sheet(file.filename, file.file.read(MAX_SHEET_BYTES + 1))
    done = bids.import_bids(session=session, actor=actor, round_id=round_id, rows=rows)
    return [BidPublic.of(bid, version) for bid, version in done]


@router.get("", responses=problems(404, 409))
def list_bids(
    round_id: IdPath, session: SessionDep, actor: BidReader, page: Pagination
) -> Page[BidPublic]:
    """A factory's own bids; all bids to managers and finance once the round is closed."""
    rows = bids.list_bids(
        session=session, principal=actor, round_id=round_id, after=page.after, limit=page.limit
    )
    return Page(
        data=[BidPublic.of(bid, version) for bid, version in rows],
        next_cursor=page.next_cursor(rows[-1][0].id if rows else None, len(rows)),
    )


@router.get("/{bid_id}", responses=problems(404, 409))
def get_bid(round_id: IdPath, bid_id: IdPath, session: SessionDep, actor: BidReader) -> BidPublic:
    """One bid at its latest version: its factory's; staff's once the round is closed."""
    bid, version = bids.get_bid(session=session, principal=actor, round_id=round_id, bid_id=bid_id)
    return BidPublic.of(bid, version)


@router.put("/{bid_id}", responses=problems(404, 409))
def amend_bid(
    round_id: IdPath, bid_id: IdPath, body: BidAmend, session: SessionDep, actor: FactoryRole
) -> BidPublic:
    """Amend a live bid while the round is open: a new version, the history kept."""
    bid, version = bids.amend_bid(
        session=session, actor=actor, round_id=round_id, bid_id=bid_id, terms=_terms(body)
    )
    return BidPublic.of(bid, version)


@router.delete("/{bid_id}", responses=problems(404, 409))
def withdraw_bid(
    round_id: IdPath, bid_id: IdPath, session: SessionDep, actor: FactoryRole
) -> BidPublic:
    """Withdraw a live bid while the round is open; a new one may be submitted after."""
    bid, version = bids.withdraw_bid(session=session, actor=actor, round_id=round_id, bid_id=bid_id)
    return BidPublic.of(bid, version)


@router.get("/{bid_id}/versions", responses=problems(404, 409))
def list_bid_versions(
    round_id: IdPath, bid_id: IdPath, session: SessionDep, actor: BidReader
) -> list[BidVersionPublic]:
    """A bid's amendment history, oldest first: its factory's; staff's once closed."""
    versions = bids.list_versions(
        session=session, principal=actor, round_id=round_id, bid_id=bid_id
    )
    return [BidVersionPublic.of(v) for v in versions]
