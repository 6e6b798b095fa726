"""Strict input (issue 15): money as API.md spells it, names clean of invisible characters.

Every money field takes a decimal string of ASCII digits with at most 2 decimals; a
JSON number is still read this release, with a `Deprecation` header and a warning in the
answer. Names are NFC-normalised; bidi controls and zero-width characters are refused.
"""

import unicodedata
from typing import Any

import pytest
from sqlmodel import Session, func, select

from api.deprecation import DEPRECATION
from bidding.models import AuditEvent, Bid, Factory, Item, Round
from tests.conftest import World

MALFORMED_MONEY = {
    " 18.50 ": "spaces",
    "18.50 ": "spaces",
    "1.85e1": "exponent",
    "\u0661\u0668.\u0665\u0660": "digits other than ASCII",  # Arabic-Indic: Decimal() reads it
    "\uff11\uff18.\uff15\uff10": "digits other than ASCII",  # full-width
    "18,50": "decimal comma",
    "+18.50": "sign",
    "18.": "not a decimal amount",
    "": "empty",
}


def _counts(world: World) -> tuple[int, ...]:
    with Session(world.engine) as session:
        return tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Bid, Item, Round, Factory, AuditEvent)
        )


def _money_cases(world: World) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(who, method, path, body with the money field set to None, field) for every money field."""
    bids = f"/v1/rounds/{world.round_id}/bids"
    bid: dict[str, Any] = {"item": world.item_id, "unit_cost": "18.50", "capacity": 100}
    item: dict[str, Any] = {
        "name": "Kettle",
        "retail_price": "39.90",
        "handling_cost": "4.00",
        "salvage_value": "8.00",
        "demand": [{"units": 10, "probability": "1"}],
    }
    round_: dict[str, Any] = {"name": "R", "category": "c", "period": "2026-12"}
    cases = [("factory", "POST", bids, bid, f) for f in ("unit_cost", "ask_price", "setup_cost")]
    cases += [
        ("manager", "POST", "/v1/items", item, f)
        for f in ("retail_price", "handling_cost", "salvage_value")
    ]
    cases += [
        ("manager", "PATCH", f"/v1/items/{world.item_id}", {}, "retail_price"),
        ("manager", "POST", "/v1/rounds", round_, "budget"),
        ("manager", "PATCH", f"/v1/rounds/{world.draft_round_id}", {}, "budget"),
        ("manager", "POST", f"/v1/rounds/{world.round_id}/allocations", {}, "budget"),
    ]
    return cases


def test_every_money_field_refuses_each_malformed_spelling_naming_the_field(
    world: World,
) -> None:
    before = _counts(world)
    wrong = []
    for who, method, path, body, field in _money_cases(world):
        for text, reason in MALFORMED_MONEY.items():
            response = world.client.request(
                method, path, json=body | {field: text}, headers=world.headers(who)
            )
            problem = response.json()
            errors = problem.get("errors") or []
            if (
                response.status_code != 422
                or [e["field"] for e in errors] != [f"body.{field}"]
                or reason not in errors[0]["message"]
                or '"18.50"' not in errors[0]["message"]
            ):
                wrong.append((method, path, field, text, response.status_code, problem))
    assert wrong == []
    assert _counts(world) == before


def test_money_as_a_string_is_read_without_a_warning(world: World) -> None:
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        json={"item": world.item_id, "unit_cost": "18.5", "capacity": 100, "ask_price": "21"},
        headers=world.headers("factory"),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["unit_cost"], response.json()["ask_price"]) == ("18.50", "21.00")
    assert "deprecation" not in response.headers
    assert "warnings" not in response.json()


def test_money_as_a_json_number_is_read_for_now_with_a_deprecation_header_and_a_warning(
    world: World,
) -> None:
    headers = world.headers("factory", **{"Idempotency-Key": "number-money"})
    url = f"/v1/rounds/{world.round_id}/bids"
    body = {"item": world.item_id, "unit_cost": 18.5, "capacity": 100, "setup_cost": 250}
    first = world.client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["deprecation"] == DEPRECATION
    assert (first.json()["unit_cost"], first.json()["setup_cost"]) == ("18.50", "250.00")
    warnings = first.json()["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["body.unit_cost", "body.setup_cost"]
    assert all('send it as a decimal string, such as "18.50"' in w for w in warnings)
    replay = world.client.post(url, json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()  # the warnings too
    assert replay.headers["deprecation"] == DEPRECATION  # and the header with them


def test_a_replay_of_an_answer_without_warnings_has_no_deprecation_header(world: World) -> None:
    headers = world.headers("factory", **{"Idempotency-Key": "string-money"})
    url = f"/v1/rounds/{world.round_id}/bids"
    body = {"item": world.item_id, "unit_cost": "18.50", "capacity": 100}
    first = world.client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = world.client.post(url, json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()
    assert "deprecation" not in first.headers
    assert "deprecation" not in replay.headers


@pytest.mark.parametrize("number", [18.505, -1, 1e30, True])
def test_a_json_number_that_is_no_money_is_refused_as_before(world: World, number: Any) -> None:
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        json={"item": world.item_id, "unit_cost": number, "capacity": 100},
        headers=world.headers("factory"),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.unit_cost"]


def test_the_openapi_says_money_is_a_string_and_a_number_is_deprecated(world: World) -> None:
    schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
    unit_cost = schemas["BidCreate"]["properties"]["unit_cost"]
    text, number = unit_cost["anyOf"]
    assert (text["type"], text["pattern"], text["examples"]) == (
        "string",
        r"^[0-9]+(\.[0-9]{1,2})?$",
        ["18.50"],
    )
    assert (number["type"], number["deprecated"]) == ("number", True)
    budget = schemas["RoundCreate"]["properties"]["budget"]
    assert [form["type"] for form in budget["anyOf"]] == ["string", "number", "null"]


INVISIBLE = {
    "Kettle\u200b": "zero-width character (U+200B)",
    "Ket\u200dtle": "zero-width character (U+200D)",
    "Kettle\ufeff": "zero-width character (U+FEFF)",
    "\u202eelttek": "bidi control character (U+202E)",
    "Kettle \u2066x\u2069": "bidi control character (U+2066)",
    "Kettle\u200f": "bidi control character (U+200F)",
    "Ket\u00adtle": "invisible formatting character (U+00AD)",
    "Kettle\u0085": "control character (U+0085)",
}


def _name_cases(world: World) -> list[tuple[str, str, str, dict[str, Any], str]]:
    item: dict[str, Any] = {
        "name": "Kettle",
        "retail_price": "39.90",
        "handling_cost": "4.00",
        "salvage_value": "8.00",
        "demand": [{"units": 10, "probability": "1"}],
    }
    round_: dict[str, Any] = {"name": "R", "category": "c", "period": "2026-12"}
    return [
        ("admin", "POST", "/v1/factories", {"monthly_capacity": 10}, "name"),
        ("admin", "PATCH", f"/v1/factories/{world.factory_id}", {}, "name"),
        ("manager", "POST", "/v1/items", item, "name"),
        ("manager", "PATCH", f"/v1/items/{world.item_id}", {}, "name"),
        ("manager", "POST", "/v1/rounds", round_, "name"),
        ("manager", "POST", "/v1/rounds", round_, "category"),
        ("manager", "PATCH", f"/v1/rounds/{world.draft_round_id}", {}, "name"),
        ("admin", "POST", "/v1/api-keys", {"role": "manager"}, "name"),
    ]


def test_every_name_refuses_bidi_controls_and_zero_width_characters_naming_the_field(
    world: World,
) -> None:
    before = _counts(world)
    wrong = []
    for who, method, path, body, field in _name_cases(world):
        for text, reason in INVISIBLE.items():
            response = world.client.request(
                method, path, json=body | {field: text}, headers=world.headers(who)
            )
            errors = response.json().get("errors") or []
            if (
                response.status_code != 422
                or [e["field"] for e in errors] != [f"body.{field}"]
                or reason not in errors[0]["message"]
            ):
                wrong.append((method, path, field, ascii(text), response.status_code, errors))
    assert wrong == []
    assert _counts(world) == before


def test_names_are_stored_nfc_normalised(world: World) -> None:
    decomposed = "Cafe\u0301 Kettle"  # e + combining acute: looks like "Café Kettle"
    made = world.client.post(
        "/v1/factories",
        json={"name": decomposed, "monthly_capacity": 10},
        headers=world.headers("admin"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["name"] == unicodedata.normalize("NFC", decomposed) == "Caf\u00e9 Kettle"
    with Session(world.engine) as session:
        stored = session.get(Factory, made.json()["id"])
        assert stored is not None
        assert stored.name == "Caf\u00e9 Kettle"
    renamed = world.client.patch(
        f"/v1/rounds/{world.draft_round_id}",
        json={"name": "Re\u0301sume\u0301 round"},
        headers=world.headers("manager"),
    )
    assert renamed.json()["name"] == "R\u00e9sum\u00e9 round"
    # Other scripts and emoji are names like any other.
    plain = world.client.post(
        "/v1/factories",
        json={"name": "\u4e49\u4e4c\u5de5\u5382 \U0001f3ed", "monthly_capacity": 10},
        headers=world.headers("admin"),
    )
    assert plain.status_code == 201, plain.text
