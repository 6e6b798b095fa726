"""Fractions and money travel as plain decimal strings: never an exponent, however small."""

import re
from typing import Any

from tests.conftest import World

# A number in exponent notation, as a whole string or as a JSON value: not inside an id.
EXPONENT = re.compile(r"^-?\d+(\.\d+)?[eE][+-]?\d+$")
EXPONENT_IN_JSON = re.compile(r"[:\[,]\s*\"?-?\d+(\.\d+)?[eE][+-]?\d+\"?\s*[,}\]]")


def _decimal_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _decimal_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _decimal_strings(v)]
    return [value] if isinstance(value, str) and EXPONENT.search(value) else []


def test_a_tiny_probability_comes_back_as_a_plain_decimal(world: World) -> None:
    made = world.client.post(
        "/v1/items",
        json={
            "name": "Rare demand",
            "retail_price": "10",
            "handling_cost": "1",
            "salvage_value": "1",
            "demand": [
                {"units": 1000, "probability": "0.00000001"},
                {"units": 5, "probability": "0.99999999"},
            ],
        },
        headers=world.headers("manager"),
    )
    assert made.status_code == 201, made.text
    read = world.client.get(f"/v1/items/{made.json()['id']}", headers=world.headers("manager"))
    for body in (made.json(), read.json()):
        assert [s["probability"] for s in body["demand"]] == ["0.00000001", "0.99999999"]
        assert _decimal_strings(body) == []
    events = world.client.get(
        "/v1/audit/events", params={"limit": 500}, headers=world.headers("finance")
    ).json()["data"]
    assert "0.00000001" in events[-1]["after"]
    assert not EXPONENT_IN_JSON.search(events[-1]["after"])


def test_a_tiny_share_comes_back_as_a_plain_decimal(world: World) -> None:
    manager = world.headers("manager")
    made = world.client.post(
        "/v1/rounds",
        json={
            "name": "Tiny share",
            "category": "c",
            "period": "2026-12",
            "capacity_share": "0.00000001",
            "margin_floor": "0.000000001",
        },
        headers=manager,
    )
    assert made.status_code == 201, made.text
    read = world.client.get(f"/v1/rounds/{made.json()['id']}", headers=manager)
    for body in (made.json(), read.json()):
        assert (body["capacity_share"], body["margin_floor"]) == ("0.00000001", "0.000000001")
        assert _decimal_strings(body) == []
