"""Bid sheets: CSV and XLSX, all rows or none, every fault named by its sheet line."""

import io
import re
import zipfile
from collections.abc import Mapping
from decimal import Decimal

from openpyxl import Workbook
from sqlmodel import Session, func, select

from bidding import items, rounds
from bidding.bid_sheets import MAX_SHEET_BYTES, MAX_SHEET_ROWS, MAX_XLSX_UNPACKED_BYTES
from bidding.items import DemandScenario
from bidding.models import Bid, BidVersion
from tests.conftest import World
from tests.factories import MANAGER


def _second_item_in_draft(world: World) -> str:
    """Put a second item in the world's draft round and open it."""
    with Session(world.engine, expire_on_commit=False) as session:
        item = items.create_item(
            session=session,
            actor=MANAGER,
            name="Second",
            retail_price=Decimal("50"),
            handling_cost=Decimal("5"),
            salvage_value=Decimal("10"),
            demand=[DemandScenario(100, Decimal(1))],
        )
        rounds.put_round_item(
            session=session,
            actor=MANAGER,
            round_id=world.draft_round_id,
            item_id=item.id,
            min_fill=0,
            max_factory_share=None,
        )
        rounds.open_round(session=session, actor=MANAGER, round_id=world.draft_round_id)
        return item.id


def _upload(world: World, name: str, content: bytes) -> tuple[int, object]:
    response = world.client.post(
        f"/v1/rounds/{world.draft_round_id}/bids/import",
        files={"file": (name, content)},
        headers=world.headers("factory"),
    )
    return response.status_code, response.json()


def _counts(world: World) -> tuple[int, int]:
    with Session(world.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Bid)).one(),
            session.exec(select(func.count()).select_from(BidVersion)).one(),
        )


def test_a_csv_sheet_submits_new_bids_and_amends_live_ones(world: World) -> None:
    second = _second_item_in_draft(world)
    first = world.client.post(
        f"/v1/rounds/{world.draft_round_id}/bids",
        json={"item": world.item_id, "unit_cost": "20.00", "capacity": 10},
        headers=world.headers("factory"),
    ).json()
    sheet = (
        "item,unit_cost,capacity,ask_price,min_lot,setup_cost\n"
        f"{world.item_id},18.50,8000,,,\n"
        f"{second},7.25,500,9.99,100,250\n"
    )
    status, body = _upload(world, "bids.csv", sheet.encode())
    assert status == 201, body
    assert isinstance(body, dict)
    assert [(r["row"], r["item"], r["action"]) for r in body["rows"]] == [
        (2, world.item_id, "amended"),
        (3, second, "submitted"),
    ]
    bids = [r["bid"] for r in body["rows"]]
    assert [(b["item"], b["version"]) for b in bids] == [(world.item_id, 2), (second, 1)]
    assert bids[0]["id"] == first["id"]
    assert (bids[1]["unit_cost"], bids[1]["ask_price"], bids[1]["setup_cost"]) == (
        "7.25",
        "9.99",
        "250.00",
    )


def test_an_xlsx_sheet_is_read_with_numbers_as_typed(world: World) -> None:
    _second_item_in_draft(world)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["item", "unit_cost", "capacity"])
    sheet.append([world.item_id, 18.5, 8000])
    buffer = io.BytesIO()
    book.save(buffer)
    status, body = _upload(world, "bids.xlsx", buffer.getvalue())
    assert status == 201, body
    assert isinstance(body, dict)
    assert [(r["bid"]["unit_cost"], r["bid"]["capacity"]) for r in body["rows"]] == [
        ("18.50", 8000)
    ]


def test_a_sheet_with_faults_stores_nothing_and_names_each_line(world: World) -> None:
    second = _second_item_in_draft(world)
    before = _counts(world)
    sheet = (
        "item,unit_cost,capacity,min_lot\n"
        f"{world.item_id},18.50,8000,\n"
        f"{second},NaN,500,\n"
        f"{second},7.25,0,\n"
        "itm_unknown,1.00,10,\n"
        f"{world.item_id},1.00,10,20\n"
    )
    status, body = _upload(world, "bids.csv", sheet.encode())
    assert status == 422
    assert isinstance(body, dict)
    fields = {e["field"] for e in body["errors"]}
    assert {"rows[3].unit_cost", "rows[4].capacity"} <= fields
    assert _counts(world) == before
    rules = "item,unit_cost,capacity,min_lot\n" + (
        f"{world.item_id},18.50,8000,\nitm_unknown,1.00,10,\n{world.item_id},1.00,10,20\n"
    )
    status, body = _upload(world, "bids.csv", rules.encode())
    assert status == 422
    assert isinstance(body, dict)
    assert {e["field"] for e in body["errors"]} == {
        "rows[3].item",
        "rows[4].item",
        "rows[4].min_lot",
    }
    assert _counts(world) == before


def test_a_file_that_is_no_sheet_is_a_422(world: World) -> None:
    _second_item_in_draft(world)
    for name, content in (
        ("bids.xlsx", b"PK\x03\x04 not really a zip"),
        ("bids.csv", b"\xff\xfe\x00garbage"),
        ("bids.csv", b"colour,size\nred,1\n"),
        ("bids.csv", b""),
    ):
        status, body = _upload(world, name, content)
        assert status == 422, (name, content, body)


def _xlsx(*rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rezipped(xlsx: bytes, replace: Mapping[str, bytes]) -> bytes:
    """The workbook's zip with some parts replaced."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in {**parts, **replace}.items():
            target.writestr(name, data)
    return buffer.getvalue()


def _problem_fields(body: object) -> dict[str, str]:
    assert isinstance(body, dict)
    return {e["field"]: e["message"] for e in body["errors"]}


def test_an_xlsx_zip_with_broken_xml_a_bad_cell_or_no_sheet_is_a_422(world: World) -> None:
    _second_item_in_draft(world)
    good = _xlsx(["item", "unit_cost", "capacity"], [world.item_id, 18.5, 8000])
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
        book_xml = archive.read("xl/workbook.xml")
    no_sheets = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", book_xml)
    assert no_sheets != book_xml
    before = _counts(world)
    for label, replace in {
        "broken sheet xml": {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"},
        "a non-numeric number": {"xl/worksheets/sheet1.xml": sheet_xml.replace(b"<v>", b"<v>x")},
        "broken workbook xml": {"xl/workbook.xml": b"<workbook"},
        "no sheet": {"xl/workbook.xml": no_sheets},
    }.items():
        status, body = _upload(world, "bids.xlsx", _rezipped(good, replace))
        assert status == 422, (label, body)
        assert _problem_fields(body) == {"file": "not a readable XLSX workbook"}, label
        assert isinstance(body, dict)
        assert body["limits"] == {"max_bytes": MAX_SHEET_BYTES, "max_rows": MAX_SHEET_ROWS}
    assert _counts(world) == before


def test_an_xlsx_that_unpacks_past_the_cap_is_refused_before_it_is_read(world: World) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part,
    ):
        for _ in range(MAX_XLSX_UNPACKED_BYTES // (1024 * 1024) + 1):
            part.write(b"\0" * (1024 * 1024))
    bomb = buffer.getvalue()
    assert len(bomb) < 1024 * 1024
    status, body = _upload(world, "bids.xlsx", bomb)
    assert status == 422, body
    assert "unpacked" in _problem_fields(body)["file"]


def test_a_sheet_naming_a_column_twice_is_refused_naming_it(world: World) -> None:
    _second_item_in_draft(world)
    before = _counts(world)
    csv_sheet = f"item,unit_cost,capacity,unit_cost\n{world.item_id},18.50,8000,1.00\n".encode()
    xlsx_sheet = _xlsx(
        ["item", "unit_cost", "capacity", "unit_cost"], [world.item_id, 18.5, 8000, 1]
    )
    for name, content in (("bids.csv", csv_sheet), ("bids.xlsx", xlsx_sheet)):
        status, body = _upload(world, name, content)
        assert status == 422, (name, body)
        assert "'unit_cost' appears more than once" in _problem_fields(body)["file"], name
    assert _counts(world) == before


def test_a_row_with_more_values_than_the_header_has_columns_is_refused(world: World) -> None:
    _second_item_in_draft(world)
    before = _counts(world)
    # Read as the header says, "itm,1,234,100" would be unit cost 1 and capacity 234.
    csv_sheet = f"item,unit_cost,capacity\n{world.item_id},18.50,8000\n{world.item_id},1,234,100\n"
    xlsx_sheet = _xlsx(
        ["item", "unit_cost", "capacity"], [world.item_id, 18.5, 8000], [world.item_id, 1, 234, 100]
    )
    for name, content in (("bids.csv", csv_sheet.encode()), ("bids.xlsx", xlsx_sheet)):
        status, body = _upload(world, name, content)
        assert status == 422, (name, body)
        assert set(_problem_fields(body)) == {"rows[3]"}, name
        assert "column 4" in _problem_fields(body)["rows[3]"]
    assert _counts(world) == before
