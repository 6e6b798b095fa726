"""Bid sheets: CSV and XLSX, all rows or none, every fault named by its sheet line."""

import io
from decimal import Decimal

from openpyxl import Workbook
from sqlmodel import Session, func, select

from bidding import items, rounds
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
    assert isinstance(body, list)
    assert [(b["item"], b["version"]) for b in body] == [(world.item_id, 2), (second, 1)]
    assert body[0]["id"] == first["id"]
    assert (body[1]["unit_cost"], body[1]["ask_price"], body[1]["setup_cost"]) == (
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
    assert isinstance(body, list)
    assert [(b["unit_cost"], b["capacity"]) for b in body] == [("18.50", 8000)]


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
