"""Items: edited while every round holding them is a draft (SPEC 2), refused after that."""

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from bidding.models import AuditEvent
from tests import factories as builders
from tests.conftest import World

CHANGE = {"retail_price": "999.00", "demand": [{"units": 1, "probability": "1"}]}


def _events(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def _fresh_item_in_a_draft_round(world: World) -> tuple[str, str]:
    with Session(world.engine, expire_on_commit=False) as session:
        item = builders.an_item(session, name="Fresh")
        draft = builders.a_draft_round(session, item_list=[item])
        return item.id, draft.id


def test_an_item_in_an_open_round_is_refused_naming_the_round_and_left_as_it_was(
    world: World,
) -> None:
    before = world.client.get(f"/v1/items/{world.item_id}", headers=world.headers("manager"))
    events = _events(world)
    response = world.client.patch(
        f"/v1/items/{world.item_id}", json=CHANGE, headers=world.headers("manager")
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "item_in_use"
    assert f"{world.round_id} (open)" in response.json()["detail"]
    after = world.client.get(f"/v1/items/{world.item_id}", headers=world.headers("manager"))
    assert after.json() == before.json()
    assert _events(world) == events


@pytest.mark.parametrize("state", ["closed", "solved", "published", "settled"])
def test_an_item_in_a_round_past_its_draft_is_refused(world: World, state: str) -> None:
    item_id, round_id = _fresh_item_in_a_draft_round(world)
    with world.engine.begin() as connection:
        connection.execute(
            text("UPDATE round SET state = :state WHERE id = :id"), {"state": state, "id": round_id}
        )
    response = world.client.patch(
        f"/v1/items/{item_id}", json=CHANGE, headers=world.headers("manager")
    )
    assert response.status_code == 409, response.text
    assert f"{round_id} ({state})" in response.json()["detail"]


def test_an_item_only_in_draft_or_cancelled_rounds_is_edited(world: World) -> None:
    item_id, round_id = _fresh_item_in_a_draft_round(world)
    assert world.client.patch(
        f"/v1/items/{item_id}", json={"name": "Renamed"}, headers=world.headers("manager")
    ).is_success
    cancelled = world.client.post(f"/v1/rounds/{round_id}/cancel", headers=world.headers("manager"))
    assert cancelled.status_code == 200, cancelled.text
    response = world.client.patch(
        f"/v1/items/{item_id}", json=CHANGE, headers=world.headers("manager")
    )
    assert response.status_code == 200, response.text
    assert response.json()["retail_price"] == "999.00"
