"""Bid sheets as factories really send them: the template round trip, tolerant reading, and
every fault of a sheet in one answer."""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlmodel import Session, col, func, select

from bidding import bid_sheets
from bidding.models import AuditEvent, Bid, BidVersion
from tests import factories as builders
from tests.conftest import World

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Round:
    """An open round of the world's with items by name."""

    id: str
    items: dict[str, str]


def _open_round(world: World, *names: str) -> Round:
    with Session(world.engine, expire_on_commit=False) as session:
        made = [
            builders.an_item(session, name=name, retail_price=f"{30 + i}.90")
            for i, name in enumerate(names)
        ]
        row = builders.an_open_round(session, item_list=made)
        return Round(row.id, {item.name: item.id for item in made})


def _bid(
    world: World, round_id: str, item: str, cost: str, units: int, who: str = "factory"
) -> Any:
    response = world.client.post(
        f"/v1/rounds/{round_id}/bids",
        json={"item": item, "unit_cost": cost, "capacity": units},
        headers=world.headers(who),
    )
    assert response.status_code == 201, response.text
    return response.json()


def _template(world: World, round_id: str, fmt: str, who: str = "factory") -> bytes:
    response = world.client.get(
        f"/v1/rounds/{round_id}/bids/template?format={fmt}", headers=world.headers(who)
    )
    assert response.status_code == 200, response.text
    content: bytes = response.content
    return content


def _upload(
    world: World, round_id: str, name: str, content: bytes, who: str = "factory"
) -> tuple[int, Any]:
    response = world.client.post(
        f"/v1/rounds/{round_id}/bids/import",
        files={"file": (name, content)},
        headers=world.headers(who),
    )
    return response.status_code, response.json()


def _stored(world: World) -> tuple[int, int, int]:
    with Session(world.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Bid)).one(),
            session.exec(select(func.count()).select_from(BidVersion)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


def _xlsx_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(*rows: list[object], title: str = "Sheet") -> Workbook:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    return book


def _actions(body: Any) -> dict[str, str]:
    return {row["item"]: row["action"] for row in body["rows"]}


def _faults(body: Any) -> dict[str, dict[str, Any]]:
    assert body["status"] == 422, body
    return {error["field"]: error for error in body["errors"]}


def test_a_template_filled_and_sent_back_changes_exactly_what_was_edited(world: World) -> None:
    r = _open_round(world, "Glass jar 500ml", "Lid", "Spoon", "Cup", "Plate")
    items = r.items
    jar = _bid(world, r.id, items["Glass jar 500ml"], "18.50", 8000)
    lid = _bid(world, r.id, items["Lid"], "7.00", 500)
    spoon = _bid(world, r.id, items["Spoon"], "3.00", 100)
    _bid(world, r.id, items["Glass jar 500ml"], "11.11", 777, who="rival")

    response = world.client.get(
        f"/v1/rounds/{r.id}/bids/template?format=xlsx", headers=world.headers("factory")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert f"bids-{r.id}.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Instructions", "Bids"]
    sheet = book["Bids"]
    header = [cell.value for cell in sheet[1]]
    assert header == [column.label for column in bid_sheets.COLUMNS]
    assert sheet.column_dimensions["J"].hidden
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["E2:E6"].type == "whole"  # capacity: whole units
    assert rules["E2:E6"].formula1 == "1"
    assert "ROUND(D2,2)=D2" in (rules["D2:D6"].formula1 or "")  # unit cost: whole cents
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(items.values())
    assert rows[items["Glass jar 500ml"]][1:6] == ("Glass jar 500ml", 30.9, 18.5, 8000, None)
    assert rows[items["Glass jar 500ml"]][9] == 1
    assert rows[items["Cup"]][3:10] == (None, None, None, None, None, None, 0)

    by_item = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    by_item[items["Lid"]][3].value = 6.75  # amend
    by_item[items["Spoon"]][8].value = "yes"  # withdraw
    by_item[items["Cup"]][3].value = 4.2  # submit
    by_item[items["Cup"]][4].value = 300
    before = _stored(world)
    status, body = _upload(world, r.id, "filled.xlsx", _xlsx_bytes(book))
    assert status == 201, body
    assert body["sheet"] == "Bids"
    assert _actions(body) == {
        items["Glass jar 500ml"]: "unchanged",
        items["Lid"]: "amended",
        items["Spoon"]: "withdrawn",
        items["Cup"]: "submitted",
        items["Plate"]: "left_alone",
    }
    assert (body["submitted"], body["amended"], body["withdrawn"], body["unchanged"]) == (
        1,
        1,
        1,
        1,
    )
    assert body["limits"] == {"max_bytes": 5 * 1024 * 1024, "max_rows": 5000}
    bids_now = {row["item"]: row["bid"] for row in body["rows"]}
    assert bids_now[items["Glass jar 500ml"]]["version"] == 1
    assert (bids_now[items["Lid"]]["id"], bids_now[items["Lid"]]["version"]) == (lid["id"], 2)
    assert bids_now[items["Lid"]]["unit_cost"] == "6.75"
    assert (bids_now[items["Spoon"]]["id"], bids_now[items["Spoon"]]["status"]) == (
        spoon["id"],
        "withdrawn",
    )
    assert (bids_now[items["Cup"]]["unit_cost"], bids_now[items["Cup"]]["capacity"]) == (
        "4.20",
        300,
    )
    bids_after, versions_after, events_after = _stored(world)
    assert (bids_after, versions_after) == (before[0] + 1, before[1] + 2)
    with Session(world.engine) as session:
        actions = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.seq) > before[2])
        ).all()
    assert sorted(actions) == ["bid.amend", "bid.submit", "bid.withdraw"]
    assert jar["version"] == 1

    # The same sheet again changes nothing: equal rows, and nothing live to withdraw.
    status, again = _upload(world, r.id, "filled.xlsx", _xlsx_bytes(book))
    assert status == 201, again
    assert set(_actions(again).values()) == {"unchanged", "left_alone"}
    assert _stored(world) == (bids_after, versions_after, events_after)


def test_the_csv_template_holds_the_same_rows_and_reads_back(world: World) -> None:
    r = _open_round(world, "=HYPERLINK(1)", "Lid")
    _bid(world, r.id, r.items["Lid"], "7.00", 500)
    text = _template(world, r.id, "csv").decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [column.label for column in bid_sheets.COLUMNS]
    by_item = {row[0]: row for row in rows[1:]}
    assert by_item[r.items["Lid"]] == [
        r.items["Lid"],
        "Lid",
        "31.90",
        "7.00",
        "500",
        "",
        "0",
        "0.00",
        "",
        "1",
    ]
    assert by_item[r.items["=HYPERLINK(1)"]][2:] == ["30.90", "", "", "", "", "", "", "0"]
    assert by_item[r.items["=HYPERLINK(1)"]][1] == "'=HYPERLINK(1)"  # no formula in a CSV
    status, body = _upload(world, r.id, "bids.csv", text.encode())
    assert status == 201, body
    assert set(_actions(body).values()) == {"unchanged", "left_alone"}
    edited = text.replace(",7.00,500,", ",6.50,500,")
    status, body = _upload(world, r.id, "bids.csv", edited.encode())
    assert status == 201, body
    assert _actions(body)[r.items["Lid"]] == "amended"


def test_a_semicolon_csv_with_a_title_row_labels_and_item_names_is_read(world: World) -> None:
    r = _open_round(world, "Glass jar 500ml", "Lid")
    sheet = (
        "\ufeffBid sheet of Own factory;;;\r\n"
        ";;;\r\n"
        "Item;Unit Cost;CAPACITY ;Comment\r\n"
        "Glass jar 500ml;18.50;8000;rush order\r\n"
        f"{r.items['Lid']};7;500;\r\n"
    )
    status, body = _upload(world, r.id, "export.csv", sheet.encode())
    assert status == 201, body
    assert (body["sheet"], body["header_row"], body["ignored_columns"]) == (None, 3, ["Comment"])
    assert [(row["row"], row["item"], row["action"]) for row in body["rows"]] == [
        (4, r.items["Glass jar 500ml"], "submitted"),
        (5, r.items["Lid"], "submitted"),
    ]
    assert [row["bid"]["unit_cost"] for row in body["rows"]] == ["18.50", "7.00"]
    tabbed = "item name\tunit_cost\tcapacity\nLid\t6.00\t400\n"
    status, body = _upload(world, r.id, "export.txt", tabbed.encode())
    assert status == 201, body
    assert _actions(body) == {r.items["Lid"]: "amended"}


def test_a_workbook_whose_first_sheet_is_instructions_is_read_from_its_bids(world: World) -> None:
    r = _open_round(world, "Glass jar 500ml", "Lid")
    book = _sheet(["How to fill this workbook"], ["Unit cost: per unit"], title="Instructions")
    prices = book.create_sheet("Prices 2027")
    prices.append(["Acme Ltd quotation"])
    prices.append([])
    prices.append(["Item id", "Item name", "Unit cost (CNY)", "Capacity", "Notes"])
    prices.append([r.items["Lid"], "Lid", 7.25, 500, "x"])
    status, body = _upload(world, r.id, "quote.xlsx", _xlsx_bytes(book))
    assert status == 201, body
    assert (body["sheet"], body["header_row"], body["ignored_columns"]) == (
        "Prices 2027",
        3,
        ["Notes"],
    )
    assert [row["bid"]["unit_cost"] for row in body["rows"]] == ["7.25"]
    # With a sheet named Bids, that one is read, wherever it stands.
    other = book.create_sheet("Old quote", 1)
    other.append(["item", "unit_cost", "capacity"])
    other.append([r.items["Lid"], 1, 1])
    bids = book.create_sheet("bids")
    bids.append(["item", "unit_cost", "capacity"])
    bids.append(["Glass jar 500ml", 18.5, 8000])
    status, body = _upload(world, r.id, "quote.xlsx", _xlsx_bytes(book))
    assert status == 201, body
    assert body["sheet"] == "bids"
    assert _actions(body) == {r.items["Glass jar 500ml"]: "submitted"}


def test_a_broken_sheet_answers_every_fault_of_every_row_at_once(world: World) -> None:
    r = _open_round(world, "Jar", "Lid", "Cup", "Twin", "Twin ")
    before = _stored(world)
    sheet = (
        "Supplier sheet;;;;;\n"
        "item;unit_cost;capacity;min_lot;withdraw;colour\n"
        "Jar;18,50;8.000;;;red\n"  # row 3: a decimal comma, a separator in units
        "itm_nowhere;1.234;2.5;;;\n"  # row 4: unknown item, 3 decimals, a part unit
        "Twin;1.00;10;;;\n"  # row 5: a name two items share
        "Lid;;10;20;maybe;\n"  # row 6: no unit cost, lot above capacity... and a bad flag
        "Jar;NaN;0;;;\n"  # row 7: the same item again, not a number, capacity 0
        ";5.00;5;;;\n"  # row 8: no item
    )
    status, body = _upload(world, r.id, "broken.csv", sheet.encode())
    assert status == 422, body
    faults = _faults(body)
    assert set(faults) == {
        "rows[3].unit_cost",
        "rows[3].capacity",
        "rows[4].item",
        "rows[4].unit_cost",
        "rows[4].capacity",
        "rows[5].item",
        "rows[6].unit_cost",
        "rows[6].withdraw",
        "rows[7].item",
        "rows[7].unit_cost",
        "rows[7].capacity",
        "rows[8].item",
    }
    comma = faults["rows[3].unit_cost"]
    assert (comma["row"], comma["cell"]) == (3, "B3")
    assert "decimal comma" in comma["message"]
    assert "write 18.50" in comma["message"]
    assert "write 8000" in faults["rows[3].capacity"]["message"]
    assert "2 decimal places" in faults["rows[4].unit_cost"]["message"]
    assert "whole number" in faults["rows[4].capacity"]["message"]
    assert r.items["Twin"] in faults["rows[5].item"]["message"]
    assert "also on row 3" in faults["rows[7].item"]["message"]
    assert body["limits"] == {"max_bytes": 5 * 1024 * 1024, "max_rows": 5000}
    assert _stored(world) == before
    # min_lot above capacity is checked once the row's numbers read.
    status, body = _upload(world, r.id, "b.csv", b"item,unit_cost,capacity,min_lot\nLid,1,10,20\n")
    assert set(_faults(body)) == {"rows[2].min_lot"}


def test_xlsx_numbers_are_read_as_the_decimal_the_cell_holds(world: World) -> None:
    r = _open_round(world, "Jar", "Lid", "Cup", "Pan")
    before = _stored(world)
    book = _sheet(
        ["item", "unit_cost", "capacity", "setup_cost"],
        ["Jar", 18.505, 8000, 1 / 3],
        ["Lid", 1.5, 10.0, None],
        ["Cup", "18,5", 10, None],
    )
    sheet = book.active
    assert sheet is not None
    sheet.append(["Pan", "not", True])
    status, body = _upload(world, r.id, "n.xlsx", _xlsx_bytes(book))
    faults = _faults(body)
    assert set(faults) == {
        "rows[2].unit_cost",
        "rows[2].setup_cost",
        "rows[4].unit_cost",
        "rows[5].unit_cost",
        "rows[5].capacity",
    }
    assert "18.505 has more than 2 decimal places" in faults["rows[2].unit_cost"]["message"]
    assert "0.333333333333333 has more" in faults["rows[2].setup_cost"]["message"]
    assert faults["rows[5].capacity"]["cell"] == "C5"
    assert _stored(world) == before
    good = _sheet(["item", "unit_cost", "capacity"], ["Jar", 18.5, 8000.0], ["Lid", "7.10", 5])
    status, body = _upload(world, r.id, "g.xlsx", _xlsx_bytes(good))
    assert status == 201, body
    assert [(row["bid"]["unit_cost"], row["bid"]["capacity"]) for row in body["rows"]] == [
        ("18.50", 8000),
        ("7.10", 5),
    ]
    assert Decimal(body["rows"][0]["bid"]["unit_cost"]) == Decimal("18.5")


def test_a_row_whose_version_is_stale_is_refused_naming_the_row(world: World) -> None:
    r = _open_round(world, "Jar", "Lid")
    jar = _bid(world, r.id, r.items["Jar"], "18.50", 8000)
    _bid(world, r.id, r.items["Lid"], "7.00", 500)
    book = load_workbook(io.BytesIO(_template(world, r.id, "xlsx")))
    # Meanwhile the ERP amends the jar bid through the API.
    amended = world.client.put(
        f"/v1/rounds/{r.id}/bids/{jar['id']}",
        json={"unit_cost": "17.00", "capacity": 8000},
        headers=world.headers("factory"),
    )
    assert amended.status_code == 200, amended.text
    sheet = book["Bids"]
    line = next(row[0].row for row in sheet.iter_rows(min_row=2) if row[0].value == r.items["Jar"])
    lid_line = 5 - line  # the other of rows 2 and 3
    sheet.cell(row=line, column=5).value = 9000
    sheet.cell(row=lid_line, column=4).value = 6.5
    before = _stored(world)
    status, body = _upload(world, r.id, "stale.xlsx", _xlsx_bytes(book))
    assert status == 422, body
    faults = _faults(body)
    assert set(faults) == {f"rows[{line}].version"}
    assert (faults[f"rows[{line}].version"]["row"], faults[f"rows[{line}].version"]["cell"]) == (
        line,
        f"J{line}",
    )
    assert "version 1 in the sheet, 2 now" in faults[f"rows[{line}].version"]["message"]
    assert _stored(world) == before


def test_a_factory_reads_only_its_own_bids_through_the_template(world: World) -> None:
    r = _open_round(world, "Jar")
    _bid(world, r.id, r.items["Jar"], "18.50", 8000)
    _bid(world, r.id, r.items["Jar"], "11.11", 777, who="rival")
    own = _template(world, r.id, "csv").decode()
    theirs = _template(world, r.id, "csv", who="rival").decode()
    assert ("18.50" in own, "8000" in own, "11.11" in own, "777" in own) == (
        True,
        True,
        False,
        False,
    )
    assert ("11.11" in theirs, "18.50" in theirs) == (True, False)
    workbook = _template(world, r.id, "xlsx", who="rival")
    values = {
        cell
        for row in load_workbook(io.BytesIO(workbook))["Bids"].iter_rows(values_only=True)
        for cell in row
    }
    assert (18.5 in values, 11.11 in values) == (False, True)
    # The rival's sheet touches the rival's bid only.
    status, body = _upload(world, r.id, "r.csv", theirs.replace("11.11", "11.00").encode(), "rival")
    assert status == 201, body
    own_after = _template(world, r.id, "csv").decode()
    assert own_after == own
    for who, code in (("manager", 403), ("finance", 403), ("admin", 403)):
        response = world.client.get(
            f"/v1/rounds/{r.id}/bids/template?format=csv", headers=world.headers(who)
        )
        assert response.status_code == code, (who, response.text)
    # A draft round is not the factory's to see, nor a round that does not exist.
    for round_id in (world.draft_round_id, "rnd_unknown"):
        response = world.client.get(
            f"/v1/rounds/{round_id}/bids/template", headers=world.headers("factory")
        )
        assert response.status_code == 404, response.text
