"""The bid routes: submit, idempotency, sealing, amend, withdraw, versions."""

import pytest
from sqlmodel import Session, func, select

from bidding.errors import IdempotencyInFlight
from bidding.models import AuditEvent, Bid
from tests.conftest import World


def _bid_body(world: World, **changes: object) -> dict[str, object]:
    return {"item": world.item_id, "unit_cost": "18.50", "capacity": 8000} | changes


def _count_bids(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(Bid)).one()


def test_a_factory_submits_a_bid_and_gets_it_back_with_money_as_strings(world: World) -> None:
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        json=_bid_body(world, ask_price=21, setup_cost="100"),
        headers=world.headers("factory"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("bid_")
    assert (body["unit_cost"], body["ask_price"], body["setup_cost"]) == (
        "18.50",
        "21.00",
        "100.00",
    )
    assert (body["factory"], body["status"], body["version"]) == (world.factory_id, "live", 1)


def test_a_second_live_bid_on_the_same_item_is_a_409_bid_exists_naming_the_live_one(
    world: World,
) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    first = world.client.post(url, json=_bid_body(world), headers=world.headers("factory"))
    assert first.status_code == 201
    second = world.client.post(url, json=_bid_body(world), headers=world.headers("factory"))
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["code"] == "bid_exists"
    assert second.json()["bid"] == first.json()["id"]
    assert first.json()["id"] in second.json()["detail"]
    assert _count_bids(world) == 1


def test_an_idempotent_submit_replays_the_first_response(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    headers = world.headers("factory", **{"Idempotency-Key": "k-1"})
    first = world.client.post(url, json=_bid_body(world), headers=headers)
    again = world.client.post(url, json=_bid_body(world), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert _count_bids(world) == 1


def test_an_idempotency_key_reused_with_another_body_is_a_422(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    headers = world.headers("factory", **{"Idempotency-Key": "k-2"})
    world.client.post(url, json=_bid_body(world), headers=headers)
    other = world.client.post(url, json=_bid_body(world, unit_cost="1.00"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_an_idempotency_key_is_scoped_to_the_api_key(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    mine = world.client.post(
        url, json=_bid_body(world), headers=world.headers("factory", **{"Idempotency-Key": "same"})
    )
    theirs = world.client.post(
        url, json=_bid_body(world), headers=world.headers("rival", **{"Idempotency-Key": "same"})
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_idempotency_key_still_in_flight_is_a_409(world: World) -> None:
    import asyncio

    from api.idempotency import request_hash
    from bidding import idempotency
    from bidding.keys import find_active_key

    url = f"/v1/rounds/{world.round_id}/bids"
    body = b'{"item": "%s", "unit_cost": "18.50", "capacity": 8000}' % world.item_id.encode()
    with Session(world.engine) as session:
        key = find_active_key(session=session, secret=world.keys["factory"])
        assert key is not None
        idempotency.claim(
            session=session,
            api_key_id=key.id,
            method="POST",
            path=url,
            key="k-3",
            request_hash=asyncio.run(request_hash("application/json", body)),
        )
    response = world.client.post(
        url,
        content=body,
        headers=world.headers(
            "factory", **{"Idempotency-Key": "k-3", "Content-Type": "application/json"}
        ),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_flight"
    assert _count_bids(world) == 0


def test_bids_are_sealed_from_staff_and_other_factories_before_the_close(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(url, json=_bid_body(world), headers=world.headers("factory")).json()
    for role in ("manager", "finance"):
        listing = world.client.get(url, headers=world.headers(role))
        assert listing.status_code == 409
        assert listing.json()["code"] == "round_not_closed"
        one = world.client.get(f"{url}/{bid['id']}", headers=world.headers(role))
        assert one.status_code == 409
        rnd = world.client.get(f"/v1/rounds/{world.round_id}", headers=world.headers(role)).json()
        assert rnd["bid_count"] == 1
    rival = world.client.get(f"{url}/{bid['id']}", headers=world.headers("rival"))
    assert rival.status_code == 404
    assert rival.json()["code"] == "bid_not_found"
    assert world.client.get(url, headers=world.headers("rival")).json()["data"] == []
    versions = world.client.get(f"{url}/{bid['id']}/versions", headers=world.headers("rival"))
    assert versions.status_code == 404
    own = world.client.get(f"{url}/{bid['id']}", headers=world.headers("factory"))
    assert own.status_code == 200
    assert own.json()["unit_cost"] == "18.50"
    factory_view = world.client.get(
        f"/v1/rounds/{world.round_id}", headers=world.headers("factory")
    )
    assert factory_view.json()["bid_count"] is None


def test_staff_read_every_bid_once_the_round_is_closed(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(url, json=_bid_body(world), headers=world.headers("factory")).json()
    closed = world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    )
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    for role in ("manager", "finance"):
        listing = world.client.get(url, headers=world.headers(role))
        assert [b["id"] for b in listing.json()["data"]] == [bid["id"]]
        versions = world.client.get(f"{url}/{bid['id']}/versions", headers=world.headers(role))
        assert [v["version"] for v in versions.json()["data"]] == [1]
    problem = world.client.get(
        f"/v1/rounds/{world.round_id}/problem", headers=world.headers("finance")
    )
    assert problem.status_code == 200
    assert [b["id"] for b in problem.json()["bids"]] == [bid["id"]]


def test_amend_and_withdraw_work_while_open_and_are_refused_after_the_close(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(url, json=_bid_body(world), headers=world.headers("factory")).json()
    amended = world.client.put(
        f"{url}/{bid['id']}",
        json={"unit_cost": "17.00", "capacity": 5000},
        headers=world.headers("factory"),
    )
    assert amended.status_code == 200
    assert amended.json()["version"] == 2
    withdrawn = world.client.delete(f"{url}/{bid['id']}", headers=world.headers("factory"))
    assert withdrawn.json()["status"] == "withdrawn"
    again = world.client.post(url, json=_bid_body(world), headers=world.headers("factory"))
    assert again.status_code == 201
    world.client.post(f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager"))
    with Session(world.engine) as session:
        events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    late = world.client.put(
        f"{url}/{again.json()['id']}",
        json={"unit_cost": "1.00", "capacity": 1},
        headers=world.headers("factory"),
    )
    assert late.status_code == 409
    assert late.json()["code"] == "round_not_open"
    late_submit = world.client.post(url, json=_bid_body(world), headers=world.headers("factory"))
    assert late_submit.status_code == 409
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(AuditEvent)).one() == events


def test_a_bids_versions_come_in_pages_like_every_list(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(url, json=_bid_body(world), headers=world.headers("factory")).json()
    for cost in ("18.00", "17.50", "17.00", "16.50"):
        amended = world.client.put(
            f"{url}/{bid['id']}",
            json={"unit_cost": cost, "capacity": 8000},
            headers=world.headers("factory"),
        )
        assert amended.status_code == 200, amended.text
    seen: list[int] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = world.client.get(
            f"{url}/{bid['id']}/versions", params=params, headers=world.headers("factory")
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) <= 2
        seen += [v["version"] for v in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5]
    assert pages == 3
    assert [
        v["unit_cost"]
        for v in world.client.get(
            f"{url}/{bid['id']}/versions", headers=world.headers("factory")
        ).json()["data"]
    ] == ["18.50", "18.00", "17.50", "17.00", "16.50"]
    bad = world.client.get(
        f"{url}/{bid['id']}/versions",
        params={"cursor": "bm90LWpzb24"},
        headers=world.headers("factory"),
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


def test_a_key_freed_by_a_failed_attempt_while_claimed_again_goes_ahead(world: World) -> None:
    """A failed attempt frees its key (`complete` with None) just as a retry finds it taken:
    the retry claims it again instead of failing on a row that is gone (seen as a 500)."""
    from sqlalchemy import event

    from bidding import idempotency
    from bidding.keys import find_active_key

    url = f"/v1/rounds/{world.round_id}/bids"
    with Session(world.engine) as session:
        key = find_active_key(session=session, secret=world.keys["factory"])
        assert key is not None
        api_key_id = key.id
    scope = {"api_key_id": api_key_id, "method": "POST", "path": url, "key": "k-4"}
    with Session(world.engine) as session:
        assert idempotency.claim(session=session, **scope, request_hash="h") is None
    with Session(world.engine) as retry:
        freed: list[bool] = []

        def free_it(_session: Session, _previous: object) -> None:
            if not freed:  # the failed attempt ends between the retry's insert and its read
                freed.append(True)
                with Session(world.engine) as failed:
                    idempotency.complete(session=failed, **scope, response=None)

        event.listen(retry, "after_soft_rollback", free_it)
        assert idempotency.claim(session=retry, **scope, request_hash="h") is None
        assert freed == [True]
    with Session(world.engine) as session, pytest.raises(IdempotencyInFlight):
        idempotency.claim(session=session, **scope, request_hash="h")
