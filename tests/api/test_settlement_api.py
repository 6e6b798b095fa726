"""Settlement through the API: settle, correct, statements, the platform's result, exports."""

from decimal import Decimal
from typing import Any

import pytest

from tests.api.test_allocations_api import (
    closed_round_with_two_bids,
    request_solve,
    wait_until_finished,
)
from tests.conftest import World
from tests.exports import assert_same_rows, csv_rows, number, opened_sheet, sheets


def published_round(world: World) -> tuple[str, str, str]:
    """The world's round with a bid from each factory, solved and published: (alloc, own, rival)."""
    own, rival = closed_round_with_two_bids(world)
    allocation_id = request_solve(world)
    assert wait_until_finished(world, allocation_id)["status"] == "done"
    published = world.client.post(
        f"/v1/allocations/{allocation_id}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    return allocation_id, own, rival


def settle(world: World, sold: dict[str, Any], who: str = "manager") -> Any:
    """POST the units sold of the world's round."""
    return world.client.post(
        f"/v1/rounds/{world.round_id}/settlement", json={"sold": sold}, headers=world.headers(who)
    )


def _get(world: World, path: str, who: str = "finance") -> Any:
    response = world.client.get(path, headers=world.headers(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_published_round_settles_with_the_unsold_units_taken_over_by_largest_remainder(
    world: World,
) -> None:
    _, own, rival = published_round(world)
    awards = {a["bid"]: a for a in _get(world, f"/v1/rounds/{world.round_id}/awards")["data"]}
    assert awards[own]["units"] == 2000
    assert awards[rival]["units"] == 2500
    # 500 unsold over 2000 + 2500 units: exact shares 222.2 and 277.8; floors 222 and 277
    # leave one unit, which goes to the larger remainder (0.8): the rival's bid.
    response = settle(world, {world.item_id: 4000})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["items"] == [
        {"item": world.item_id, "allocated": 4500, "sold": 4000, "taken_over": 500}
    ]
    assert _get(world, f"/v1/rounds/{world.round_id}", "manager")["state"] == "settled"

    statements = _get(world, f"/v1/rounds/{world.round_id}/statements")
    assert statements["settlement_version"] == 1
    lines = {line["factory"]: line for line in statements["data"]}
    assert lines[world.factory_id] == {
        "factory": world.factory_id,
        "factory_name": "Own factory",
        "units": 2000,
        "amount": "41120.00",  # 2000 x 20.56 (18.50 / 0.9 rounded up)
        "cost": "37000.00",
        "setup_cost": "0.00",
        "margin": "0.100194552",  # 4120 / 41120, rounded down
        "takeover_units": 222,
        "takeover_value": "4564.32",  # 222 x 20.56
    }
    assert lines[world.rival_id]["amount"] == "47225.00"  # 2500 x 18.89
    assert lines[world.rival_id]["takeover_units"] == 278
    assert lines[world.rival_id]["takeover_value"] == "5251.42"  # 278 x 18.89

    result = _get(world, f"/v1/rounds/{world.round_id}/result")
    realised = result["realised"]
    assert realised["revenue"] == "159600.00"  # 4000 x 39.90
    assert realised["handling"] == "16000.00"  # 4000 x 4.00
    assert realised["supply_spend"] == "88345.00"
    assert realised["salvage"] == "4000.00"  # 500 x 8.00
    assert realised["takeover_spend"] == "9815.74"
    assert realised["takeover_loss"] == "5815.74"
    assert realised["net"] == "59255.00"  # 159600 - 16000 - 88345 + 4000
    # Demand is at least 9000 in every scenario: all 4500 units are expected to sell.
    expected = result["expected"]
    assert expected["units_sold"] == "4500"
    assert expected["revenue"] == "179550.00"
    assert expected["takeover_spend"] == "0.00"
    assert expected["net"] == "73205.00"  # 179550 - 18000 - 88345


def test_the_statements_sums_equal_the_result_and_the_award_rows_to_the_cent(
    world: World,
) -> None:
    published_round(world)
    assert settle(world, {world.item_id: 3333}).status_code == 201
    awards = _get(world, f"/v1/rounds/{world.round_id}/awards")["data"]
    lines = _get(world, f"/v1/rounds/{world.round_id}/statements")["data"]
    result = _get(world, f"/v1/rounds/{world.round_id}/result")
    spend = sum(
        Decimal(a["supply_price"]) * a["units"] + (Decimal(a["setup_fee"]) if a["units"] else 0)
        for a in awards
    )
    for figures in (result["expected"], result["realised"]):
        assert Decimal(figures["supply_spend"]) == spend
    assert sum(Decimal(line["amount"]) for line in lines) == spend
    assert sum(line["units"] for line in lines) == result["realised"]["units_ordered"]
    assert sum(line["takeover_units"] for line in lines) == 4500 - 3333
    assert sum(Decimal(line["takeover_value"]) for line in lines) == Decimal(
        result["realised"]["takeover_spend"]
    )
    realised = {k: Decimal(v) for k, v in result["realised"].items()}
    assert realised["net"] == (
        realised["revenue"] - realised["handling"] - realised["supply_spend"] + realised["salvage"]
    )
    item_total = sum(Decimal(i["realised"]["net"]) for i in result["items"])
    assert item_total == realised["net"]


@pytest.mark.parametrize(
    ("sold", "field", "words"),
    [
        ({"ITEM": 4501}, "sold.ITEM", "4501 units sold, but only 4500"),
        ({"ITEM": -1}, "body.sold.ITEM", "greater than or equal to 0"),
        ({"ITEM": 10**20}, "body.sold.ITEM", "less than or equal"),
        ({"ITEM": True}, "body.sold.ITEM", "integer"),
        ({"ITEM": 2.5}, "body.sold.ITEM", "integer"),
        ({"ITEM": "12"}, "body.sold.ITEM", "integer"),
        ({"ITEM": 12, "itm_unknown": 1}, "sold.itm_unknown", "not an item of this round"),
        ({}, "sold.ITEM", "missing"),
    ],
)
def test_bad_units_sold_are_refused_with_422_naming_the_item_and_change_nothing(
    world: World, sold: dict[str, Any], field: str, words: str
) -> None:
    published_round(world)
    sold = {world.item_id if k == "ITEM" else k: v for k, v in sold.items()}
    response = settle(world, sold)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    field = field.replace("ITEM", world.item_id)
    assert field in errors, errors
    assert words in errors[field]
    assert _get(world, f"/v1/rounds/{world.round_id}", "manager")["state"] == "published"


def test_a_nan_in_the_units_sold_is_a_422_not_a_500(world: World) -> None:
    published_round(world)
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/settlement",
        content=f'{{"sold": {{"{world.item_id}": NaN}}}}',
        headers=world.headers("manager", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 422


def test_a_settlement_is_recorded_once_and_corrected_only_by_an_audited_new_version(
    world: World,
) -> None:
    early = settle(world, {world.item_id: 1})
    assert early.status_code == 409
    assert early.json()["code"] == "round_not_published"
    published_round(world)
    base = f"/v1/rounds/{world.round_id}/settlement"
    manager = world.headers("manager")
    not_yet = world.client.post(
        f"{base}/corrections", json={"sold": {world.item_id: 1}, "reason": "x"}, headers=manager
    )
    assert not_yet.json()["code"] == "round_not_settled"
    assert settle(world, {world.item_id: 4500}).status_code == 201
    again = settle(world, {world.item_id: 4000})
    assert again.status_code == 409
    assert again.json()["code"] == "round_already_settled"
    no_reason = world.client.post(
        f"{base}/corrections", json={"sold": {world.item_id: 4000}}, headers=manager
    )
    assert no_reason.status_code == 422
    corrected = world.client.post(
        f"{base}/corrections",
        json={"sold": {world.item_id: 4000}, "reason": "returns counted late"},
        headers=manager,
    )
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["version"] == 2
    history = _get(world, base)
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][0]["items"][0]["sold"] == 4500
    assert history["current"]["reason"] == "returns counted late"
    statements = _get(world, f"/v1/rounds/{world.round_id}/statements")
    assert statements["settlement_version"] == 2
    assert sum(line["takeover_units"] for line in statements["data"]) == 500
    events = _get(world, "/v1/audit/events?limit=500")["data"]
    actions = [e["action"] for e in events]
    assert actions.count("settlement.record") == 1
    assert actions.count("round.settle") == 1
    assert actions.count("settlement.correct") == 1
    assert _get(world, "/v1/audit/verify")["ok"]


def test_statements_before_settlement_show_amounts_due_and_no_takeover_and_factories_see_their_own(
    world: World,
) -> None:
    early = world.client.get(
        f"/v1/rounds/{world.round_id}/statements", headers=world.headers("finance")
    )
    assert early.status_code == 409
    published_round(world)
    everyone = _get(world, f"/v1/rounds/{world.round_id}/statements")
    assert everyone["settlement_version"] is None
    assert {line["factory"] for line in everyone["data"]} == {world.factory_id, world.rival_id}
    assert all(line["takeover_units"] is None for line in everyone["data"])
    for who, factory in (("factory", world.factory_id), ("rival", world.rival_id)):
        own = _get(world, f"/v1/rounds/{world.round_id}/statements", who)["data"]
        assert [line["factory"] for line in own] == [factory]
        exported = world.client.get(
            f"/v1/rounds/{world.round_id}/statements?format=csv", headers=world.headers(who)
        )
        assert [r["Factory"] for r in csv_rows(exported.content)] == [factory]
        workbook = world.client.get(
            f"/v1/rounds/{world.round_id}/statements?format=xlsx", headers=world.headers(who)
        )
        for title, rows in sheets(workbook.content).items():
            if title != "Totals":
                assert {r["Factory"] for r in rows} == {factory}, title
    result = _get(world, f"/v1/rounds/{world.round_id}/result", "manager")
    assert result["realised"] is None


REPORT_VIEWS = {
    "statements": ("factory", "item", "totals"),
    "result": ("item", "totals"),
    "takeover": ("item", "totals"),
    "margins": ("findings",),
}


def _export(world: World, path: str, fmt: str, view: str | None = None) -> Any:
    sep = "&" if "?" in path else "?"
    query = f"{path}{sep}format={fmt}" + (f"&view={view}" if view else "")
    response = world.client.get(query, headers=world.headers("finance"))
    assert response.status_code == 200, response.text
    return response


def test_exports_parse_back_to_the_figures_of_the_json(world: World) -> None:
    published_round(world)
    assert settle(world, {world.item_id: 4321}).status_code == 201
    reports = {
        "statements": f"/v1/rounds/{world.round_id}/statements",
        "result": f"/v1/rounds/{world.round_id}/result",
        "takeover": f"/v1/audit/takeover?round={world.round_id}",
        "margins": "/v1/audit/margins",
    }
    tables: dict[str, dict[str, list[dict[str, str]]]] = {}
    for name, path in reports.items():
        workbook = _export(world, path, "xlsx")
        assert workbook.headers["content-type"] == (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert workbook.headers["content-disposition"].startswith("attachment; filename=")
        assert ".xlsx" in workbook.headers["content-disposition"]
        assert len(sheets(workbook.content)) == len(REPORT_VIEWS[name])
        tables[name] = {}
        for view in REPORT_VIEWS[name]:
            as_csv = _export(world, path, "csv", view)
            assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
            assert ".csv" in as_csv.headers["content-disposition"]
            rows = csv_rows(as_csv.content)
            assert_same_rows(rows, opened_sheet(_export(world, path, "xlsx", view).content))
            tables[name][view] = rows
        default = csv_rows(_export(world, path, "csv").content)
        assert default == tables[name][REPORT_VIEWS[name][0]]

    statements = _get(world, reports["statements"])
    per_factory = tables["statements"]["factory"]
    for row, line in zip(per_factory, statements["data"], strict=True):
        assert row["Factory"] == line["factory"]
        assert row["Factory name"] == line["factory_name"]
        for header, key in (
            ("Amount (CNY)", "amount"),
            ("Cost (CNY)", "cost"),
            ("Setup cost (CNY)", "setup_cost"),
            ("Takeover value (CNY)", "takeover_value"),
        ):
            assert row[header] == line[key]
        assert number(row["Margin"]) == Decimal(line["margin"])
        assert row["Margin"].endswith("%")
        assert int(row["Units"]) == line["units"]
        assert int(row["Takeover units"]) == line["takeover_units"]
    [total] = tables["statements"]["totals"]
    assert total["Amount (CNY)"] == statements["total"]["amount"]
    assert sum(Decimal(r["Amount (CNY)"]) for r in per_factory) == Decimal(total["Amount (CNY)"])
    per_item = tables["statements"]["item"]
    assert sum(int(r["Units"]) for r in per_item) == int(total["Units"])
    assert {r["Item name"] for r in per_item} == {"Plush bear"}

    result = _get(world, reports["result"])
    labels = dict(
        zip(result["expected"], [r["Figure"] for r in tables["result"]["totals"]], strict=True)
    )
    for figure, label in labels.items():
        [row] = [r for r in tables["result"]["totals"] if r["Figure"] == label]
        assert number(row["Expected"]) == Decimal(str(result["expected"][figure]))
        assert number(row["Realised"]) == Decimal(str(result["realised"][figure]))
    assert labels["revenue"] == "Revenue (CNY)"
    [item_row] = tables["result"]["item"]
    assert item_row["Item"] == world.item_id
    assert item_row["Item name"] == result["items"][0]["item_name"]
    assert item_row["Realised revenue (CNY)"] == result["items"][0]["realised"]["revenue"]
    assert item_row["Expected net (CNY)"] == result["items"][0]["expected"]["net"]

    takeover = _get(world, reports["takeover"])["data"]
    rows = tables["takeover"]["item"]
    assert [r["Item"] for r in rows] == [t["item"] for t in takeover]
    assert [r["Item name"] for r in rows] == [t["item_name"] for t in takeover]
    assert rows[0]["Settled takeover spend"] == takeover[0]["settled"]["takeover_spend"]
    [per_round] = tables["takeover"]["totals"]
    assert per_round["Settled takeover spend"] == takeover[0]["settled"]["takeover_spend"]
    assert tables["margins"]["findings"] == []


INVISIBLE_IN_REASONS = {
    "returns\u200b counted late": "zero-width character (U+200B)",
    "\u202edetal detnuoc snruter": "bidi control character (U+202E)",
    "returns \u2066counted\u2069 late": "bidi control character (U+2066)",
    "returns counted late\ufeff": "zero-width character (U+FEFF)",
    "returns\u00adcounted": "invisible formatting character (U+00AD)",
    "returns\u0007counted": "control character (U+0007)",
}


def test_a_correction_reason_with_invisible_or_reordering_characters_is_refused(
    world: World,
) -> None:
    published_round(world)
    assert settle(world, {world.item_id: 4500}).status_code == 201
    base = f"/v1/rounds/{world.round_id}/settlement"
    manager = world.headers("manager")
    for reason, why in INVISIBLE_IN_REASONS.items():
        refused = world.client.post(
            f"{base}/corrections",
            json={"sold": {world.item_id: 4000}, "reason": reason},
            headers=manager,
        )
        assert refused.status_code == 422, (ascii(reason), refused.text)
        errors = refused.json()["errors"]
        assert [e["field"] for e in errors] == ["body.reason"], ascii(reason)
        assert why in errors[0]["message"], (ascii(reason), errors)
    assert [v["version"] for v in _get(world, base)["versions"]] == [1]
    kept = world.client.post(
        f"{base}/corrections",
        json={"sold": {world.item_id: 4000}, "reason": "returns counted late:\n\tshop 12"},
        headers=manager,
    )
    assert kept.status_code == 201, kept.text
    assert _get(world, base)["current"]["reason"] == "returns counted late:\n\tshop 12"
