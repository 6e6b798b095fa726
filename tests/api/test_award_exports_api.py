"""Every award as one export: `GET /v1/rounds/{id}/awards?format=csv|xlsx&view=...`.

The CSV streams every award of the published allocation (no pages) as one view; the XLSX
holds a sheet per view. Figures are those of the JSON award list, names beside ids; a
factory gets its own awards only.
"""

from decimal import Decimal
from typing import Any

from tests.api.test_allocations_api import (
    closed_round_with_two_bids,
    request_solve,
    wait_until_finished,
)
from tests.api.test_exports_api import _name
from tests.conftest import World
from tests.exports import BOM, assert_same_rows, csv_rows, number, sheets


def _published(world: World) -> str:
    closed_round_with_two_bids(world)
    allocation = request_solve(world)
    assert wait_until_finished(world, allocation)["status"] == "done"
    published = world.client.post(
        f"/v1/allocations/{allocation}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    return allocation


def _export(world: World, query: str, who: str = "finance") -> Any:
    response = world.client.get(
        f"/v1/rounds/{world.round_id}/awards?{query}", headers=world.headers(who)
    )
    assert response.status_code == 200, response.text
    return response


def _json_awards(world: World, who: str = "finance") -> list[dict[str, Any]]:
    response = _export(world, "limit=500", who)
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_the_csv_holds_every_award_with_the_json_figures_and_names(world: World) -> None:
    _name(world, "Rival & Co", "Plush bear, large")
    allocation = _published(world)
    response = _export(world, "format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="awards-{world.round_id}.csv"'
    )
    assert response.content.decode("utf-8").startswith(BOM)
    rows = csv_rows(response.content)
    awards = _json_awards(world)
    assert [r["Bid"] for r in rows] == [a["bid"] for a in awards]
    assert len(rows) == 2
    currency = "CNY"
    for row, award in zip(rows, awards, strict=True):
        assert row["Round"] == world.round_id
        assert row["Allocation"] == allocation
        assert (row["Factory"], row["Factory name"]) == (award["factory"], award["factory_name"])
        assert (row["Item"], row["Item name"]) == (award["item"], "Plush bear, large")
        assert int(row["Units"]) == award["units"]
        assert number(row[f"Supply price ({currency})"]) == Decimal(award["supply_price"])
        assert number(row[f"Setup fee ({currency})"]) == Decimal(award["setup_fee"])
        fee = Decimal(award["setup_fee"]) if award["units"] else Decimal(0)
        amount = Decimal(award["supply_price"]) * award["units"] + fee
        assert number(row[f"Amount ({currency})"]) == amount
        assert row[f"Supply price ({currency})"].count(".") == 1  # money: two decimals
        assert row["Capacity share used"].endswith("%")
        assert number(row["Capacity share used"]) == Decimal(award["capacity_share_used"])
        if award["margin"] is None:
            assert row["Margin"] == ""
        else:
            assert number(row["Margin"]) == Decimal(award["margin"])
        assert row["Reason"] == award["reason"]
    assert {r["Factory name"] for r in rows} == {"Own factory", "Rival & Co"}


def test_each_view_sums_the_awards_and_the_workbook_has_a_sheet_each(world: World) -> None:
    _published(world)
    awards = _json_awards(world)
    units = sum(a["units"] for a in awards)
    amount = sum(
        Decimal(a["supply_price"]) * a["units"] + (Decimal(a["setup_fee"]) if a["units"] else 0)
        for a in awards
    )
    views = {v: csv_rows(_export(world, f"format=csv&view={v}").content) for v in VIEWS}
    assert views["bid"] == csv_rows(_export(world, "format=csv").content)  # bid: the default
    by_item = views["item"]
    assert [r["Item"] for r in by_item] == [world.item_id]
    assert int(by_item[0]["Bids"]) == len(awards)
    assert int(by_item[0]["Units"]) == units
    assert number(by_item[0]["Amount (CNY)"]) == amount
    by_factory = {r["Factory"]: r for r in views["factory"]}
    assert set(by_factory) == {a["factory"] for a in awards}
    for award in awards:
        line = by_factory[award["factory"]]
        assert int(line["Units"]) == award["units"]
        assert int(line["Bids won"]) == (1 if award["units"] else 0)
        assert line["Factory name"] == award["factory_name"]
    (totals,) = views["totals"]
    assert int(totals["Bids"]) == len(awards)
    assert int(totals["Units"]) == units > 0
    assert number(totals["Amount (CNY)"]) == amount

    workbook = sheets(_export(world, "format=xlsx").content)
    assert list(workbook) == ["Per bid", "Per item", "Per factory", "Totals"]
    for view, title in zip(VIEWS, workbook, strict=True):
        assert_same_rows(views[view], workbook[title])


VIEWS = ("bid", "item", "factory", "totals")


def test_a_factory_exports_its_own_awards_only(world: World) -> None:
    _published(world)
    own = csv_rows(_export(world, "format=csv", "factory").content)
    assert [r["Factory"] for r in own] == [world.factory_id]
    assert [r["Bid"] for r in own] == [a["bid"] for a in _json_awards(world, "factory")]
    (totals,) = csv_rows(_export(world, "format=csv&view=totals", "factory").content)
    assert int(totals["Bids"]) == 1
    workbook = sheets(_export(world, "format=xlsx", "factory").content)
    assert {r["Factory"] for r in workbook["Per bid"]} == {world.factory_id}
    assert [r["Factory"] for r in workbook["Per factory"]] == [world.factory_id]


def test_the_export_is_refused_before_publication_and_to_an_admin(world: World) -> None:
    closed_round_with_two_bids(world)
    allocation = request_solve(world)
    assert wait_until_finished(world, allocation)["status"] == "done"
    path = f"/v1/rounds/{world.round_id}/awards?format=csv"
    early = world.client.get(path, headers=world.headers("manager"))
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "round_not_published"
    admin = world.client.get(path, headers=world.headers("admin"))
    assert admin.status_code == 403, admin.text
    findings = world.client.get(f"{path}&view=findings", headers=world.headers("manager"))
    assert findings.status_code in (409, 422)
