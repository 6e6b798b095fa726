"""Round deadlines over HTTP: `closes_at` in and out, its refusals, and a round closed by it."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bidding.lifecycle import database_now
from tests.conftest import World

ROUND = {
    "name": "Glassware, July",
    "category": "glassware",
    "period": "2027-07",
}


def db_now(world: World) -> datetime:
    """The database's clock, as the service reads it."""
    with Session(world.engine) as session:
        return database_now(session)


def at(moment: datetime) -> str:
    return moment.isoformat()


def test_a_round_takes_a_deadline_with_a_zone_and_shows_it_in_utc(world: World) -> None:
    ahead = (db_now(world) + timedelta(days=3)).astimezone(UTC).replace(microsecond=0)
    in_shanghai = ahead.astimezone(ZoneInfo("Asia/Shanghai"))
    created = world.client.post(
        "/v1/rounds",
        json={**ROUND, "closes_at": in_shanghai.isoformat()},
        headers=world.headers("manager"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert datetime.fromisoformat(body["closes_at"]) == ahead
    assert body["closes_at"].endswith("Z") or body["closes_at"].endswith("+00:00")
    shown = world.client.get(f"/v1/rounds/{body['id']}", headers=world.headers("manager"))
    assert datetime.fromisoformat(shown.json()["closes_at"]) == ahead
    listed = world.client.get("/v1/rounds", headers=world.headers("manager")).json()["data"]
    assert {r["id"]: r["closes_at"] for r in listed}[world.round_id] is None
    without = world.client.post("/v1/rounds", json=ROUND, headers=world.headers("manager"))
    assert without.json()["closes_at"] is None


def _refusal(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_a_past_naive_or_unreal_deadline_is_a_422_naming_the_field(world: World) -> None:
    past = db_now(world) - timedelta(seconds=5)
    for value in (at(past), "2030-01-01T00:00:00", "0001-01-01T00:00:00+01:00", "soon"):
        response = world.client.post(
            "/v1/rounds", json={**ROUND, "closes_at": value}, headers=world.headers("manager")
        )
        assert response.status_code == 422, (value, response.text)
        body = _refusal(response)
        assert body["code"] == "invalid_input"
        assert [e["field"] for e in body["errors"]] == ["body.closes_at"], value
    listed = world.client.get("/v1/rounds", headers=world.headers("manager")).json()["data"]
    assert len(listed) == 2  # the world's two rounds: nothing was created


def test_an_open_rounds_deadline_moves_forward_and_a_closed_rounds_is_a_409(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}"
    ahead = db_now(world) + timedelta(hours=1)
    moved = world.client.patch(url, json={"closes_at": at(ahead)}, headers=world.headers("manager"))
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["closes_at"]) == ahead
    assert moved.json()["state"] == "open"
    back = world.client.patch(
        url,
        json={"closes_at": at(db_now(world) - timedelta(minutes=1))},
        headers=world.headers("manager"),
    )
    assert back.status_code == 422
    assert [e["field"] for e in _refusal(back)["errors"]] == ["body.closes_at"]
    renamed = world.client.patch(url, json={"name": "x"}, headers=world.headers("manager"))
    assert renamed.status_code == 409
    assert _refusal(renamed)["code"] == "round_not_draft"
    as_factory = world.client.patch(
        url, json={"closes_at": at(ahead + timedelta(hours=1))}, headers=world.headers("factory")
    )
    assert as_factory.status_code == 403

    closed = world.client.post(f"{url}/close", headers=world.headers("manager"))
    assert closed.status_code == 200
    late = world.client.patch(
        url, json={"closes_at": at(ahead + timedelta(hours=1))}, headers=world.headers("manager")
    )
    assert late.status_code == 409
    body = _refusal(late)
    assert body["code"] == "round_not_open"
    assert body["state"] == "closed"
    assert "closed" in body["detail"]
    events = world.client.get("/v1/audit/events", headers=world.headers("finance")).json()
    moves = [e for e in events["data"] if e["action"] == "round.deadline.move"]
    assert len(moves) == 1
    assert json.loads(moves[0]["after"])["closes_at"] == ahead.astimezone(UTC).isoformat()


def test_a_round_is_closed_by_its_deadline_and_bids_are_refused_from_it(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}"
    assert world.client.get(url, headers=world.headers("manager")).status_code == 200  # warm
    deadline = db_now(world) + timedelta(seconds=2.5)
    moved = world.client.patch(
        url, json={"closes_at": at(deadline)}, headers=world.headers("manager")
    )
    assert moved.status_code == 200, moved.text
    bid = {"item": world.item_id, "unit_cost": "18.50", "capacity": 100}
    accepted = world.client.post(f"{url}/bids", json=bid, headers=world.headers("factory"))
    assert accepted.status_code == 201, accepted.text
    bid_id = accepted.json()["id"]

    while datetime.now(UTC) < deadline + timedelta(milliseconds=20):
        time.sleep(0.02)
    late = [
        world.client.post(f"{url}/bids", json=bid, headers=world.headers("rival")),
        world.client.put(
            f"{url}/bids/{bid_id}",
            json={"unit_cost": "9.00", "capacity": 100},
            headers=world.headers("factory"),
        ),
        world.client.delete(f"{url}/bids/{bid_id}", headers=world.headers("factory")),
    ]
    for response in late:
        assert response.status_code == 409, response.text
        assert _refusal(response)["code"] == "round_not_open"

    give_up = time.monotonic() + 15
    state = "open"
    while state == "open" and time.monotonic() < give_up:
        time.sleep(0.1)
        state = world.client.get(url, headers=world.headers("manager")).json()["state"]
    assert state == "closed", "the embedded queue's timer did not close the round"
    problem = world.client.get(f"{url}/problem", headers=world.headers("manager")).json()
    assert [b["id"] for b in problem["bids"]] == [bid_id]
    assert [Decimal(str(b["unit_cost"])) for b in problem["bids"]] == [Decimal("18.50")]
    events = world.client.get(
        "/v1/audit/events", params={"limit": 500}, headers=world.headers("finance")
    ).json()["data"]
    (close,) = [e for e in events if e["action"] == "round.close"]
    assert close["actor_role"] == "system"
    assert close["actor_key_id"] is None
    assert datetime.fromisoformat(json.loads(close["after"])["deadline"]) == deadline
    assert datetime.fromisoformat(close["occurred_at"]) >= deadline
