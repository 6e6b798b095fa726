"""Amending part of a bid (PATCH) with optimistic locking: ETag out, If-Match back."""

from typing import Any

from sqlmodel import Session, func, select

from bidding.models import AuditEvent, BidVersion
from tests.conftest import World


def _submit(world: World, **terms: Any) -> tuple[str, str]:
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        json={"item": world.item_id, "unit_cost": "18.50", "capacity": 8000} | terms,
        headers=world.headers("factory"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.headers["etag"]


def _url(world: World, bid_id: str) -> str:
    return f"/v1/rounds/{world.round_id}/bids/{bid_id}"


def _writes(world: World) -> tuple[int, int]:
    with Session(world.engine) as session:
        return (
            session.exec(select(func.count()).select_from(BidVersion)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


def test_a_patch_changes_only_the_terms_it_gives_and_answers_the_new_etag(world: World) -> None:
    bid_id, tag = _submit(world, ask_price="21.00", min_lot=100, setup_cost="50.00")
    assert tag == '"1"'
    read = world.client.get(_url(world, bid_id), headers=world.headers("factory"))
    assert read.headers["etag"] == tag
    patched = world.client.patch(
        _url(world, bid_id),
        json={"unit_cost": "17.90"},
        headers=world.headers("factory", **{"If-Match": tag}),
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["version"], patched.headers["etag"]) == (2, '"2"')
    assert (body["unit_cost"], body["capacity"], body["ask_price"]) == ("17.90", 8000, "21.00")
    assert (body["min_lot"], body["setup_cost"]) == (100, "50.00")


def test_null_clears_an_optional_term_and_is_refused_for_a_required_one(world: World) -> None:
    bid_id, tag = _submit(world, ask_price="21.00", min_lot=100, setup_cost="50.00")
    headers = world.headers("factory", **{"If-Match": tag})
    before = _writes(world)
    for field in ("unit_cost", "capacity"):
        refused = world.client.patch(_url(world, bid_id), json={field: None}, headers=headers)
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == [f"body.{field}"]
    assert _writes(world) == before
    cleared = world.client.patch(
        _url(world, bid_id),
        json={"ask_price": None, "min_lot": None, "setup_cost": None},
        headers=headers,
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["ask_price"], body["min_lot"], body["setup_cost"]) == (None, 0, "0.00")


def test_a_patch_without_if_match_is_a_428_and_changes_nothing(world: World) -> None:
    bid_id, _ = _submit(world)
    before = _writes(world)
    response = world.client.patch(
        _url(world, bid_id), json={"capacity": 10}, headers=world.headers("factory")
    )
    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "precondition_required"
    assert _writes(world) == before


def test_a_stale_if_match_is_a_412_on_patch_put_and_delete_and_changes_nothing(
    world: World,
) -> None:
    bid_id, first = _submit(world)
    url = _url(world, bid_id)
    moved = world.client.put(
        url,
        json={"unit_cost": "18.00", "capacity": 8000},
        headers=world.headers("factory", **{"If-Match": first}),
    )
    assert (moved.status_code, moved.headers["etag"]) == (200, '"2"')
    before = _writes(world)
    stale = world.headers("factory", **{"If-Match": first})
    attempts = [
        world.client.patch(url, json={"capacity": 10}, headers=stale),
        world.client.put(url, json={"unit_cost": "1.00", "capacity": 10}, headers=stale),
        world.client.delete(url, headers=stale),
        world.client.patch(
            url, json={"capacity": 10}, headers=world.headers("factory", **{"If-Match": 'W/"2"'})
        ),
    ]
    assert [r.status_code for r in attempts] == [412] * 4
    assert {r.json()["code"] for r in attempts} == {"precondition_failed"}
    assert {r.headers["etag"] for r in attempts} == {'"2"'}
    assert _writes(world) == before
    now = world.client.get(url, headers=world.headers("factory")).json()
    assert (now["version"], now["unit_cost"], now["status"]) == (2, "18.00", "live")


def test_two_patches_made_against_one_version_the_second_is_refused(world: World) -> None:
    bid_id, tag = _submit(world)
    headers = world.headers("factory", **{"If-Match": tag})
    one = world.client.patch(_url(world, bid_id), json={"capacity": 7000}, headers=headers)
    two = world.client.patch(_url(world, bid_id), json={"unit_cost": "1.00"}, headers=headers)
    assert (one.status_code, two.status_code) == (200, 412)
    now = world.client.get(_url(world, bid_id), headers=world.headers("factory")).json()
    assert (now["capacity"], now["unit_cost"]) == (7000, "18.50")


def test_put_without_if_match_keeps_working_and_star_matches_any_version(world: World) -> None:
    bid_id, _ = _submit(world)
    put = world.client.put(
        _url(world, bid_id),
        json={"unit_cost": "18.00", "capacity": 8000},
        headers=world.headers("factory"),
    )
    assert (put.status_code, put.json()["version"]) == (200, 2)
    star = world.client.patch(
        _url(world, bid_id),
        json={"capacity": 5},
        headers=world.headers("factory", **{"If-Match": "*"}),
    )
    assert (star.status_code, star.json()["version"], star.json()["capacity"]) == (200, 3, 5)


def test_a_patch_that_changes_nothing_makes_no_version(world: World) -> None:
    bid_id, tag = _submit(world)
    before = _writes(world)
    for body in ({}, {"unit_cost": "18.50"}):
        same = world.client.patch(
            _url(world, bid_id), json=body, headers=world.headers("factory", **{"If-Match": tag})
        )
        assert (same.status_code, same.headers["etag"], same.json()["version"]) == (200, tag, 1)
    assert _writes(world) == before


def test_a_patch_is_held_to_the_bid_rules_and_to_its_owner(world: World) -> None:
    bid_id, tag = _submit(world)
    lot = world.client.patch(
        _url(world, bid_id),
        json={"min_lot": 9000},
        headers=world.headers("factory", **{"If-Match": tag}),
    )
    assert lot.status_code == 422
    assert [e["field"] for e in lot.json()["errors"]] == ["body.min_lot"]
    rival = world.client.patch(
        _url(world, bid_id),
        json={"capacity": 1},
        headers=world.headers("rival", **{"If-Match": tag}),
    )
    assert (rival.status_code, rival.json()["code"]) == (404, "bid_not_found")


def _nullable(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(f.get("type") == "null" for f in prop.get("anyOf", []))


def test_every_patch_body_allows_null_in_its_schema_exactly_where_null_is_taken(
    world: World,
) -> None:
    bid_id, _ = _submit(world)
    document = world.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    targets = {
        "/v1/factories/{factory_id}": (f"/v1/factories/{world.factory_id}", "admin"),
        "/v1/items/{item_id}": (f"/v1/items/{world.item_id}", "manager"),
        "/v1/rounds/{round_id}": (f"/v1/rounds/{world.draft_round_id}", "manager"),
        "/v1/rounds/{round_id}/bids/{bid_id}": (_url(world, bid_id), "factory"),
    }
    checked = []
    for path, operations in document["paths"].items():
        if "patch" not in operations:
            continue
        url, who = targets[path]  # a new PATCH operation must be added here
        content = operations["patch"]["requestBody"]["content"]["application/json"]
        body_schema = schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]
        for field, prop in body_schema["properties"].items():
            headers = world.headers(who, **{"If-Match": "*"})
            answer = world.client.patch(url, json={field: None}, headers=headers)
            refused_null = answer.status_code == 422 and any(
                e["field"] == f"body.{field}" for e in answer.json()["errors"]
            )
            checked.append((path, field, _nullable(prop), not refused_null))
    assert len({c[0] for c in checked}) == 4
    assert [c for c in checked if c[2] != c[3]] == []
