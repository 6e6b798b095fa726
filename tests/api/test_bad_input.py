"""Bad input gets a 422 problem naming every field at fault, never a 500, and changes nothing."""

import base64
import json
from typing import Any

from sqlmodel import Session, SQLModel, func, select

import bidding.models  # noqa: F401  (every table on SQLModel.metadata)
from tests.conftest import World


def _counts(world: World) -> dict[str, int]:
    """Rows in every table the service has: "nothing stored" means nothing, anywhere."""
    with Session(world.engine) as session:
        return {
            table.name: session.exec(select(func.count()).select_from(table)).one()
            for table in SQLModel.metadata.sorted_tables
        }


def _post_raw(world: World, path: str, text: str, who: str) -> tuple[int, dict[str, Any]]:
    response = world.client.post(
        path,
        content=text.encode(),
        headers=world.headers(who, **{"Content-Type": "application/json"}),
    )
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()


# Raw JSON values for unit_cost, as a client could send them.
BAD_UNIT_COSTS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    '"NaN"',
    '"Infinity"',
    '"1e400"',
    "-1",
    "0",
    '"18.505"',
    "18.505",
    "1e30",
    '"abc"',
    "true",
    "null",
    "[1]",
    '{"a": 1}',
]


def test_a_bad_unit_cost_is_a_422_naming_the_field_and_nothing_is_stored(world: World) -> None:
    before = _counts(world)
    wrong = []
    for raw in BAD_UNIT_COSTS:
        text = f'{{"item": "{world.item_id}", "unit_cost": {raw}, "capacity": 100}}'
        status, problem = _post_raw(world, f"/v1/rounds/{world.round_id}/bids", text, "factory")
        fields = [e["field"] for e in problem.get("errors") or []]
        if status != 422 or problem["code"] != "invalid_input" or fields != ["body.unit_cost"]:
            wrong.append((raw, status, problem))
    assert wrong == []
    assert _counts(world) == before


def test_a_nan_in_a_decimal_field_is_a_422_not_a_500(world: World) -> None:
    text = f'{{"item": "{world.item_id}", "unit_cost": NaN, "capacity": 100}}'
    status, problem = _post_raw(world, f"/v1/rounds/{world.round_id}/bids", text, "factory")
    assert status == 422
    assert "NaN" not in json.dumps(problem).replace('"NaN"', "")


def test_every_field_at_fault_is_listed(world: World) -> None:
    text = json.dumps(
        {
            "item": world.item_id,
            "unit_cost": "-1",
            "capacity": 0,
            "ask_price": "abc",
            "min_lot": True,
            "setup_cost": 1e30,
            "colour": "red",
        }
    )
    status, problem = _post_raw(world, f"/v1/rounds/{world.round_id}/bids", text, "factory")
    assert status == 422
    fields = {e["field"] for e in problem["errors"]}
    assert {
        "body.unit_cost",
        "body.capacity",
        "body.min_lot",
        "body.setup_cost",
        "body.colour",
    } <= fields
    assert any(f.startswith("body.ask_price") for f in fields)


BAD_BODIES: list[tuple[str, dict[str, object], str]] = [
    ("/v1/factories", {"name": "F", "monthly_capacity": -5}, "body.monthly_capacity"),
    ("/v1/factories", {"name": "F", "monthly_capacity": 10**30}, "body.monthly_capacity"),
    ("/v1/factories", {"name": "F", "monthly_capacity": True}, "body.monthly_capacity"),
    ("/v1/factories", {"name": "F", "monthly_capacity": 10, "is_new": 1}, "body.is_new"),
    ("/v1/factories", {"name": "", "monthly_capacity": 10}, "body.name"),
    ("/v1/factories", {"name": "F", "monthly_capacity": 10, "x": 1}, "body.x"),
    ("/v1/rounds", {"name": "R", "category": "c", "period": "2026-13"}, "body.period"),
    (
        "/v1/rounds",
        {"name": "R", "category": "c", "period": "2026-12", "margin_floor": 1},
        "body.margin_floor",
    ),
    (
        "/v1/rounds",
        {"name": "R", "category": "c", "period": "2026-12", "capacity_share": 0},
        "body.capacity_share",
    ),
    (
        "/v1/items",
        {
            "name": "I",
            "retail_price": "10",
            "handling_cost": "2",
            "salvage_value": "9",
            "demand": [{"units": 5, "probability": 1}],
        },
        "body.salvage_value",
    ),
    (
        "/v1/items",
        {
            "name": "I",
            "retail_price": "10",
            "handling_cost": "2",
            "salvage_value": "1",
            "demand": [{"units": 5, "probability": "0.5"}],
        },
        "body.demand",
    ),
]


def test_bad_bodies_elsewhere_are_422s_that_store_nothing(world: World) -> None:
    before = _counts(world)
    wrong = []
    for path, body, field in BAD_BODIES:
        who = "admin" if path == "/v1/factories" else "manager"
        status, problem = _post_raw(world, path, json.dumps(body), who)
        fields = [e["field"] for e in problem.get("errors") or []]
        if status != 422 or field not in fields:
            wrong.append((path, body, status, problem))
    assert wrong == []
    assert _counts(world) == before


def test_unknown_ids_are_404s(world: World) -> None:
    for path in ("/v1/items/itm_nope", "/v1/rounds/rnd_nope", "/v1/factories/fac_nope"):
        response = world.client.get(path, headers=world.headers("manager"))
        assert response.status_code == 404, path
    bid = world.client.get(
        f"/v1/rounds/{world.round_id}/bids/bid_nope", headers=world.headers("factory")
    )
    assert bid.json()["code"] == "bid_not_found"
    put = world.client.put(
        f"/v1/rounds/{world.draft_round_id}/items/itm_nope",
        json={},
        headers=world.headers("manager"),
    )
    assert put.status_code == 404


def test_a_malformed_id_or_cursor_is_a_422_not_a_500(world: World) -> None:
    odd = world.client.get("/v1/rounds/%00bad", headers=world.headers("manager"))
    assert odd.status_code == 422
    cursor = world.client.get("/v1/rounds?cursor=%%%", headers=world.headers("manager"))
    assert cursor.status_code == 422
    assert cursor.json()["code"] == "invalid_cursor"
    limit = world.client.get("/v1/rounds?limit=0", headers=world.headers("manager"))
    assert limit.status_code == 422


def test_malformed_json_is_a_422(world: World) -> None:
    status, _problem = _post_raw(world, "/v1/factories", "{not json", "admin")
    assert status == 422


def test_a_cursor_key_with_a_trailing_newline_is_refused(world: World) -> None:
    for after in ("rnd_abc\n", "12\n", "\u0663"):
        raw = json.dumps({"after": after}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for path in ("/v1/rounds", "/v1/audit/events"):
            response = world.client.get(
                path, params={"cursor": cursor}, headers=world.headers("admin")
            )
            assert response.status_code == 422, (path, after, response.text)
            assert response.json()["code"] == "invalid_cursor"


def test_a_factory_share_of_zero_in_an_invitation_is_a_422_not_the_rounds_share(
    world: World,
) -> None:
    """0 once read as "none", giving a factory meant to get nothing the round's share."""
    response = world.client.put(
        f"/v1/rounds/{world.draft_round_id}/factories/{world.factory_id}",
        json={"capacity_share": 0},
        headers=world.headers("manager"),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.capacity_share"]
