"""Bids: factories submit, amend and withdraw their own; staff read them after the close."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile

from api.deps import BidReader, FactoryRole, IdPath, Pagination, SessionDep
from api.routes import COMMON, problems
from api.schemas.base import Page
from api.schemas.bids import (
    BidAmend,
    BidCreate,
    BidPublic,
    BidSheetImportPublic,
    BidVersionPublic,
)
from bidding import bid_sheet_import, bid_sheet_template, bid_sheets, bids, reports
from bidding.bid_sheet_template import TemplateFormat
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


SHEET_RULES = f"""
The sheet is read as spreadsheets really come: a comma, semicolon or tab separator
(sniffed), a UTF-8 BOM (or UTF-16 text), title rows above the header row (searched in
the first {bid_sheets.HEADER_SEARCH_ROWS} rows), headers in any case and spacing or as
the template labels them (`Unit cost`), and in a workbook the sheet named `Bids` or else
the first sheet with such a header (an instructions sheet first is fine).

Columns: `item` (id, or a name unique in the round) or `item_name`, `unit_cost`,
`capacity`, and optionally `ask_price`, `min_lot`, `setup_cost`, `withdraw` (`yes`) and
`version` (the template's hidden column). `retail_price` is for reference and not read;
other columns are ignored and listed in the answer's `ignored_columns`.

Each row: equal to the live bid, nothing changes; different, the bid is amended (a new
version), or submitted if there is none; no terms, the item is left alone; `withdraw` yes,
the live bid is withdrawn. A row whose `version` is not the live bid's (0: none) and that
would change the bid is refused: the bid changed since the sheet was made.

Numbers are read as the decimal the cell holds: a point for decimals, money to at most 2
decimals, units whole; a decimal comma (`18,50`) or thousands separator is refused naming
the cell and the form expected (`18.50`). All rows or none: every fault of every row and
cell comes in one 422 `invalid_input`, each error with its `field` (`rows[7].unit_cost`),
`row` and `cell` (`D7`); the problem states the `limits`. At most
{bid_sheets.MAX_SHEET_ROWS} rows and {bid_sheets.MAX_SHEET_BYTES} bytes. Each change is
audited as its submit, amend or withdraw would be.
"""
TEMPLATE_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            reports.CSV_MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}},
            reports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}


@router.post(
    "/import",
    status_code=201,
    responses=problems(404, 409),
    description="Apply a bid sheet (CSV or XLSX), all rows or none.\n" + SHEET_RULES,
)
def import_bids(
    round_id: IdPath,
    file: Annotated[
        UploadFile,
        File(description="CSV or XLSX: the template filled in, or any sheet of its columns"),
    ],
    session: SessionDep,
    actor: FactoryRole,
) -> BidSheetImportPublic:
    """A bid sheet, all rows or none: submits, amends, withdraws; every fault at once."""
    sheet, done = bid_sheet_import.import_bid_sheet(
        session=session,
        actor=actor,
        round_id=round_id,
        filename=file.filename,
        content=file.file.read(bid_sheets.MAX_SHEET_BYTES + 1),
    )
    return BidSheetImportPublic.of(sheet, done)


@router.get(
    "/template",
    response_class=Response,
    responses={**TEMPLATE_FORMATS, **problems(404)},
    description="The factory's bid sheet for the round: the round's items (id, name, retail "
    "price for reference) with its own live bids and their versions, to fill and send to "
    "`POST .../bids/import`. The XLSX has an instructions sheet, then the `Bids` sheet with "
    "data validation on its cells (money above 0 in whole cents, whole units, withdraw "
    "yes/no) and a hidden `version` column; the CSV holds the same rows. Only the caller's "
    "own bids are in it.",
)
def bid_template(
    round_id: IdPath,
    session: SessionDep,
    actor: FactoryRole,
    fmt: Annotated[
        TemplateFormat, Query(alias="format", description="`xlsx` (default) or `csv`.")
    ] = "xlsx",
) -> Response:
    """The round's bid sheet to fill, pre-filled with the factory's own live bids."""
    made = bid_sheet_template.bid_sheet_template(
        session=session, principal=actor, round_id=round_id, fmt=fmt
    )
    return Response(
        content=made.content,
        media_type=made.media_type,
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


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
    round_id: IdPath, bid_id: IdPath, session: SessionDep, actor: BidReader, page: Pagination
) -> Page[BidVersionPublic]:
    """A bid's amendment history, oldest first: its factory's; staff's once closed."""
    versions = bids.list_versions(
        session=session,
        principal=actor,
        round_id=round_id,
        bid_id=bid_id,
        after=page.after_seq(),
        limit=page.limit,
    )
    return Page(
        data=[BidVersionPublic.of(v) for v in versions],
        next_cursor=page.next_cursor(versions[-1].version if versions else None, len(versions)),
    )
