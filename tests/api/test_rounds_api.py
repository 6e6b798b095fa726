"""The round routes: lifecycle, wrong-state refusals, the frozen problem, pagination."""

from tests.conftest import World


def test_a_round_goes_from_draft_to_open_to_closed_with_409s_naming_the_state(
    world: World,
) -> None:
    manager = world.headers("manager")
    url = f"/v1/rounds/{world.draft_round_id}"
    assert world.client.post(f"{url}/close", headers=manager).json()["code"] == "round_not_open"
    problem = world.client.get(f"{url}/problem", headers=manager)
    assert problem.status_code == 409
    assert problem.json()["code"] == "round_not_closed"
    patched = world.client.patch(url, json={"name": "Renamed", "budget": "1000.5"}, headers=manager)
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["budget"] == "1000.50"
    assert world.client.post(f"{url}/open", headers=manager).json()["state"] == "open"
    again = world.client.post(f"{url}/open", headers=manager)
    assert again.status_code == 409
    assert again.json()["code"] == "round_not_draft"
    late_patch = world.client.patch(url, json={"name": "Too late"}, headers=manager)
    assert late_patch.status_code == 409
    assert late_patch.json()["state"] == "open"
    late_item = world.client.delete(f"{url}/items/{world.item_id}", headers=manager)
    assert late_item.status_code == 409
    assert world.client.get(url, headers=manager).json()["name"] == "Renamed"
    closed = world.client.post(f"{url}/close", headers=manager).json()
    assert closed["state"] == "closed"
    assert closed["input_hash"].startswith("sha256:")
    frozen = world.client.get(f"{url}/problem", headers=manager).json()
    assert frozen["round"]["id"] == world.draft_round_id
    assert [i["id"] for i in frozen["items"]] == [world.item_id]
    assert world.client.post(f"{url}/cancel", headers=manager).json()["state"] == "cancelled"
    cancelled = world.client.post(f"{url}/cancel", headers=manager)
    assert cancelled.json()["code"] == "round_not_cancellable"


def test_a_round_without_items_cannot_open(world: World) -> None:
    manager = world.headers("manager")
    made = world.client.post(
        "/v1/rounds", json={"name": "Empty", "category": "c", "period": "2026-12"}, headers=manager
    ).json()
    assert made["margin_floor"] == "0.1"
    assert made["capacity_share"] == "0.2"
    opened = world.client.post(f"/v1/rounds/{made['id']}/open", headers=manager)
    assert opened.status_code == 409
    assert opened.json()["code"] == "round_has_no_items"


def test_invitations_limit_who_sees_and_bids_in_a_round(world: World) -> None:
    manager = world.headers("manager")
    url = f"/v1/rounds/{world.draft_round_id}"
    invited = world.client.put(
        f"{url}/factories/{world.factory_id}",
        json={"capacity_share": "0.5", "guaranteed_units": 100},
        headers=manager,
    )
    assert invited.json() == {
        "factory": world.factory_id,
        "capacity_share": "0.5",
        "guaranteed_units": 100,
    }
    world.client.post(f"{url}/open", headers=manager)
    rival_view = world.client.get(url, headers=world.headers("rival"))
    assert rival_view.status_code == 404
    rival_bid = world.client.post(
        f"{url}/bids",
        json={"item": world.item_id, "unit_cost": "10", "capacity": 10},
        headers=world.headers("rival"),
    )
    assert rival_bid.status_code == 404
    rival_list = world.client.get(f"{url}/bids", headers=world.headers("rival"))
    assert rival_list.status_code == 404
    assert rival_list.json()["code"] == "bid_not_found"
    own = world.client.post(
        f"{url}/bids",
        json={"item": world.item_id, "unit_cost": "10", "capacity": 10},
        headers=world.headers("factory"),
    )
    assert own.status_code == 201
    listed = world.client.get("/v1/rounds", headers=world.headers("rival")).json()["data"]
    assert world.draft_round_id not in [r["id"] for r in listed]


def test_lists_are_paginated_with_an_opaque_cursor(world: World) -> None:
    manager = world.headers("manager")
    for n in range(5):
        world.client.post(
            "/v1/rounds",
            json={"name": f"R{n}", "category": "c", "period": "2026-12"},
            headers=manager,
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = world.client.get("/v1/rounds", params=params, headers=manager).json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7


def test_a_factory_sees_its_own_invitation_but_not_the_other_invitees(world: World) -> None:
    manager = world.headers("manager")
    url = f"/v1/rounds/{world.draft_round_id}"
    for factory_id in (world.factory_id, world.rival_id):
        world.client.put(f"{url}/factories/{factory_id}", json={}, headers=manager)
    world.client.post(f"{url}/open", headers=manager)
    seen_by_factory = world.client.get(url, headers=world.headers("factory")).json()
    assert [f["factory"] for f in seen_by_factory["factories"]] == [world.factory_id]
    seen_by_manager = world.client.get(url, headers=manager).json()
    assert len(seen_by_manager["factories"]) == 2
