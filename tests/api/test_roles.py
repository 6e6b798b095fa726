"""Every role against every endpoint it may not use: 403, and 401 without a valid key."""

import pytest

from tests.conftest import World

ROLES = ("admin", "manager", "finance", "factory")

# (method, path template, body, roles allowed). Ids in braces come from the world.
ROUTES: list[tuple[str, str, dict[str, object] | None, set[str]]] = [
    ("POST", "/v1/api-keys", {"role": "finance"}, {"admin"}),
    ("GET", "/v1/api-keys", None, {"admin"}),
    ("GET", "/v1/api-keys/key_unknown", None, {"admin"}),
    ("DELETE", "/v1/api-keys/key_unknown", None, {"admin"}),
    ("POST", "/v1/factories", {"name": "F", "monthly_capacity": 10}, {"admin", "manager"}),
    ("GET", "/v1/factories", None, {"admin", "manager"}),
    ("GET", "/v1/factories/{factory}", None, {"admin", "manager", "factory"}),
    ("PATCH", "/v1/factories/{factory}", {"name": "G"}, {"admin", "manager"}),
    (
        "POST",
        "/v1/items",
        {
            "name": "I",
            "retail_price": "10",
            "handling_cost": "1",
            "salvage_value": "1",
            "demand": [{"units": 5, "probability": 1}],
        },
        {"manager"},
    ),
    ("GET", "/v1/items", None, set(ROLES)),
    ("GET", "/v1/items/{item}", None, set(ROLES)),
    ("PATCH", "/v1/items/{item}", {"name": "J"}, {"manager"}),
    ("POST", "/v1/rounds", {"name": "R", "category": "c", "period": "2026-12"}, {"manager"}),
    ("GET", "/v1/rounds", None, set(ROLES)),
    ("GET", "/v1/rounds/{round}", None, set(ROLES)),
    ("PATCH", "/v1/rounds/{draft}", {"name": "S"}, {"manager"}),
    ("PUT", "/v1/rounds/{draft}/items/{item}", {"min_fill": 1}, {"manager"}),
    ("DELETE", "/v1/rounds/{draft}/items/{item}", None, {"manager"}),
    ("PUT", "/v1/rounds/{draft}/factories/{factory}", {"guaranteed_units": 1}, {"manager"}),
    ("DELETE", "/v1/rounds/{draft}/factories/{factory}", None, {"manager"}),
    ("POST", "/v1/rounds/{draft}/open", None, {"manager"}),
    ("POST", "/v1/rounds/{round}/close", None, {"manager"}),
    ("POST", "/v1/rounds/{draft}/cancel", None, {"manager"}),
    ("GET", "/v1/rounds/{round}/problem", None, {"manager", "finance"}),
    (
        "POST",
        "/v1/rounds/{round}/bids",
        {"item": "{item}", "unit_cost": "1.00", "capacity": 1},
        {"factory"},
    ),
    ("POST", "/v1/rounds/{round}/bids/import", None, {"factory"}),
    ("GET", "/v1/rounds/{round}/bids/template?format=xlsx", None, {"factory"}),
    ("GET", "/v1/rounds/{round}/bids", None, {"factory", "manager", "finance"}),
    ("GET", "/v1/rounds/{round}/bids/bid_unknown", None, {"factory", "manager", "finance"}),
    ("PUT", "/v1/rounds/{round}/bids/bid_unknown", {"unit_cost": "1", "capacity": 1}, {"factory"}),
    ("DELETE", "/v1/rounds/{round}/bids/bid_unknown", None, {"factory"}),
    (
        "GET",
        "/v1/rounds/{round}/bids/bid_unknown/versions",
        None,
        {"factory", "manager", "finance"},
    ),
    ("POST", "/v1/rounds/{round}/allocations", {}, {"manager"}),
    ("GET", "/v1/rounds/{round}/allocations", None, {"manager", "finance"}),
    ("GET", "/v1/allocations/alc_unknown", None, {"manager", "finance"}),
    ("GET", "/v1/allocations/alc_unknown/problem", None, {"manager", "finance"}),
    ("GET", "/v1/allocations/alc_unknown/compare/alc_other", None, {"manager", "finance"}),
    ("POST", "/v1/allocations/alc_unknown/publish", None, {"manager"}),
    ("GET", "/v1/rounds/{round}/awards", None, {"factory", "manager", "finance"}),
    ("GET", "/v1/rounds/{round}/awards?format=csv", None, {"factory", "manager", "finance"}),
    ("GET", "/v1/rounds/{round}/awards?format=xlsx", None, {"factory", "manager", "finance"}),
    ("POST", "/v1/rounds/{round}/settlement", {"sold": {}}, {"manager"}),
    (
        "POST",
        "/v1/rounds/{round}/settlement/corrections",
        {"sold": {}, "reason": "recount"},
        {"manager"},
    ),
    ("GET", "/v1/rounds/{round}/settlement", None, {"manager", "finance"}),
    ("GET", "/v1/rounds/{round}/statements", None, {"factory", "finance"}),
    ("GET", "/v1/rounds/{round}/statements?format=csv", None, {"factory", "finance"}),
    ("GET", "/v1/rounds/{round}/result", None, {"manager", "finance"}),
    ("GET", "/v1/rounds/{round}/result?format=xlsx", None, {"manager", "finance"}),
    ("GET", "/v1/audit/margins", None, {"finance"}),
    ("GET", "/v1/audit/margins?format=csv", None, {"finance"}),
    ("GET", "/v1/audit/takeover", None, {"finance"}),
    ("POST", "/v1/allocations/alc_unknown/replay", None, {"finance"}),
    ("GET", "/v1/audit/events", None, {"finance", "admin"}),
    ("GET", "/v1/audit/verify", None, {"finance", "admin"}),
]


def _fill(world: World, template: str) -> str:
    return template.format(
        factory=world.factory_id,
        item=world.item_id,
        round=world.round_id,
        draft=world.draft_round_id,
    )


def _body(world: World, body: dict[str, object] | None) -> dict[str, object] | None:
    if body is None:
        return None
    return {k: _fill(world, v) if isinstance(v, str) else v for k, v in body.items()}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_with_403_wherever_it_may_not_go(world: World, role: str) -> None:
    wrong = []
    for method, path, body, allowed in ROUTES:
        if role in allowed:
            continue
        response = world.client.request(
            method, _fill(world, path), json=_body(world, body), headers=world.headers(role)
        )
        problem = response.json()
        if (
            response.status_code != 403
            or response.headers["content-type"] != "application/problem+json"
            or problem["code"] != "forbidden"
        ):
            wrong.append(f"{method} {path}: {response.status_code} {problem}")
    assert wrong == []


def test_every_route_answers_401_without_a_valid_key(world: World) -> None:
    wrong = []
    for method, path, body, _ in ROUTES:
        for headers in (
            {},
            {"Authorization": "Bearer sbk_not_a_key"},
            {"Authorization": "Basic x"},
        ):
            response = world.client.request(
                method, _fill(world, path), json=_body(world, body), headers=headers
            )
            if (
                response.status_code != 401
                or response.json()["code"] != "not_authenticated"
                or not response.headers.get("www-authenticate", "").startswith("Bearer")
            ):
                wrong.append(f"{method} {path} {headers}: {response.status_code}")
    assert wrong == []


def test_the_allowed_roles_get_past_the_role_check(world: World) -> None:
    refused = []
    for method, path, body, allowed in ROUTES:
        for role in sorted(allowed):
            response = world.client.request(
                method, _fill(world, path), json=_body(world, body), headers=world.headers(role)
            )
            if response.status_code in (401, 403):
                refused.append(f"{role} {method} {path}: {response.status_code}")
    assert refused == []


def test_a_factory_reading_another_factory_gets_404(world: World) -> None:
    response = world.client.get(f"/v1/factories/{world.rival_id}", headers=world.headers("factory"))
    assert response.status_code == 404
    assert response.json()["code"] == "factory_not_found"
    own = world.client.get(f"/v1/factories/{world.factory_id}", headers=world.headers("factory"))
    assert own.status_code == 200


def test_a_revoked_key_answers_401_and_keys_are_listed_without_secrets(world: World) -> None:
    made = world.client.post(
        "/v1/api-keys", json={"role": "manager", "name": "temp"}, headers=world.headers("admin")
    )
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["id"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert world.client.get("/v1/rounds", headers=bearer).status_code == 200
    listed = world.client.get("/v1/api-keys", headers=world.headers("admin")).json()["data"]
    assert all("key" not in row for row in listed)
    assert any(row["id"] == key_id and key.startswith(row["prefix"]) for row in listed)
    revoked = world.client.delete(f"/v1/api-keys/{key_id}", headers=world.headers("admin"))
    assert revoked.json()["revoked_at"] is not None
    assert world.client.get("/v1/rounds", headers=bearer).status_code == 401


def test_a_factory_key_needs_a_known_factory(world: World) -> None:
    missing = world.client.post(
        "/v1/api-keys", json={"role": "factory"}, headers=world.headers("admin")
    )
    assert missing.status_code == 422
    unknown = world.client.post(
        "/v1/api-keys",
        json={"role": "factory", "factory": "fac_nope"},
        headers=world.headers("admin"),
    )
    assert unknown.status_code == 404


def test_healthz_needs_no_key(world: World) -> None:
    response = world.client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}
