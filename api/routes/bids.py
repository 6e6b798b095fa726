"""Bids: factories submit, amend and withdraw their own; staff read them after the close."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Query, Response, UploadFile

from api.deps import BidReader, FactoryRole, IdPath, Pagination, SessionDep, in_thread
from api.routes import COMMON, EXPORTS, problems
from api.schemas.base import Page
from api.schemas.bids import (
    BidAmend,
    BidCreate,
    BidPatch,
    BidPublic,
    BidSheetImportPublic,
    BidVersionPublic,
)
from bidding import bid_sheet_import, bid_sheet_template, bid_sheets, bids
from bidding.bid_sheet_template import TemplateFormat
from bidding.bids import BidTerms
from bidding.errors import PreconditionRequired
from bidding.models import Bid, BidVersion

router = APIRouter(prefix="/v1/rounds/{round_id}/bids", tags=["bids"], responses=COMMON)


def _terms(body: BidAmend) -> BidTerms:
    return BidTerms(
        unit_cost=body.unit_cost,
        capacity=body.capacity,
        ask_price=body.ask_price,
        min_lot=body.min_lot,
        setup_cost=body.setup_cost,
    )


def _tagged(status: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "headers": {
                "ETag": {
                    "description": 'The bid\'s version as an entity tag (`"3"`): send it back '
                    "in `If-Match` to amend or withdraw that version only.",
                    "schema": {"type": "string"},
                }
            }
        }
    }


IfMatch = Annotated[
    str | None,
    Header(
        max_length=1000,
        description='The ETag(s) of the version the change was made against (`"3"`), or `*`. '
        "Optional on PUT and DELETE, required on PATCH (428 `precondition_required` without "
        "it); another version is a 412 `precondition_failed`, nothing changed.",
    ),
]
_TAG = re.compile(r'\s*"([0-9]{1,18})"\s*', re.ASCII)


def _versions(if_match: str | None) -> frozenset[int] | None:
    """The bid versions If-Match names; None where it names none (absent) or any (`*`).

    A weak tag (`W/"3"`) or anything else names no version: If-Match compares strongly.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    return frozenset(
        int(m.group(1)) for tag in if_match.split(",") if (m := _TAG.fullmatch(tag)) is not None
    )


def _answer(response: Response, bid: Bid, version: BidVersion) -> BidPublic:
    response.headers["ETag"] = bids.etag(bid)
    return BidPublic.of(bid, version)


@router.post("", status_code=201, responses={**problems(404, 409), **_tagged(201)})
async def submit_bid(
    round_id: IdPath, body: BidCreate, session: SessionDep, actor: FactoryRole, response: Response
) -> BidPublic:
    """Submit a bid on one item of an open round (a second live bid on it: 409 `bid_exists`)."""

    def work() -> BidPublic:
        bid, version = bids.submit_bid(
            session=session, actor=actor, round_id=round_id, item_id=body.item, terms=_terms(body)
        )
        return _answer(response, bid, version)

    return await in_thread(session, work)


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
TEMPLATE_FORMATS = EXPORTS


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
async def list_bids(
    round_id: IdPath, session: SessionDep, actor: BidReader, page: Pagination
) -> Page[BidPublic]:
    """A factory's own bids; all bids to managers and finance once the round is closed."""

    def work() -> Page[BidPublic]:
        rows = bids.list_bids(
            session=session, principal=actor, round_id=round_id, after=page.after, limit=page.limit
        )
        return Page(
            data=[BidPublic.of(bid, version) for bid, version in rows],
            next_cursor=page.next_cursor(rows[-1][0].id if rows else None, len(rows)),
        )

    return await in_thread(session, work)


@router.get("/{bid_id}", responses={**problems(404, 409), **_tagged(200)})
async def get_bid(
    round_id: IdPath, bid_id: IdPath, session: SessionDep, actor: BidReader, response: Response
) -> BidPublic:
    """One bid at its latest version: its factory's; staff's once the round is closed."""

    def work() -> BidPublic:
        bid, version = bids.get_bid(
            session=session, principal=actor, round_id=round_id, bid_id=bid_id
        )
        return _answer(response, bid, version)

    return await in_thread(session, work)


@router.put("/{bid_id}", responses={**problems(404, 409, 412), **_tagged(200)})
async def amend_bid(
    round_id: IdPath,
    bid_id: IdPath,
    body: BidAmend,
    session: SessionDep,
    actor: FactoryRole,
    response: Response,
    if_match: IfMatch = None,
) -> BidPublic:
    """Amend a live bid while the round is open, replacing its terms: a new version.

    With `If-Match`, only if the bid is still at that version (else 412).
    """

    def work() -> BidPublic:
        bid, version = bids.amend_bid(
            session=session,
            actor=actor,
            round_id=round_id,
            bid_id=bid_id,
            terms=_terms(body),
            if_match=_versions(if_match),
        )
        return _answer(response, bid, version)

    return await in_thread(session, work)


@router.patch("/{bid_id}", responses={**problems(404, 409, 412, 428), **_tagged(200)})
def patch_bid(
    round_id: IdPath,
    bid_id: IdPath,
    body: BidPatch,
    session: SessionDep,
    actor: FactoryRole,
    response: Response,
    if_match: IfMatch = None,
) -> BidPublic:
    """Change some terms of a live bid while the round is open; the others stay.

    `If-Match` is required (428 without it) and must name the bid's current version (412
    otherwise). A change makes a new version; one that changes nothing makes none.
    """
    if if_match is None:
        raise PreconditionRequired()
    bid, version = bids.patch_bid(
        session=session,
        actor=actor,
        round_id=round_id,
        bid_id=bid_id,
        changes=body.changes(),
        if_match=_versions(if_match),
    )
    return _answer(response, bid, version)


@router.delete("/{bid_id}", responses={**problems(404, 409, 412), **_tagged(200)})
def withdraw_bid(
    round_id: IdPath,
    bid_id: IdPath,
    session: SessionDep,
    actor: FactoryRole,
    response: Response,
    if_match: IfMatch = None,
) -> BidPublic:
    """Withdraw a live bid while the round is open; a new one may be submitted after."""
    bid, version = bids.withdraw_bid(
        session=session,
        actor=actor,
        round_id=round_id,
        bid_id=bid_id,
        if_match=_versions(if_match),
    )
    return _answer(response, bid, version)


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
