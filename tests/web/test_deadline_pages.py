"""The deadline on the pages: the manager's round page and the factory's home say when the
round closes, in the viewer's zone."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import sign_in

DEADLINE = "2030-01-15T10:00:00+00:00"
IN_SHANGHAI = "Closes at 2030-01-15 18:00 CST (Asia/Shanghai)"


def test_the_round_page_and_the_factory_home_show_the_deadline_in_the_viewers_zone(
    world: World,
) -> None:
    moved = world.client.patch(
        f"/v1/rounds/{world.round_id}",
        json={"closes_at": DEADLINE},
        headers=world.headers("manager"),
    )
    assert moved.status_code == 200, moved.text
    sign_in(world.client, world.keys["manager"], time_zone="Asia/Shanghai")
    page = world.client.get(f"/rounds/{world.round_id}")
    assert page.status_code == 200
    assert IN_SHANGHAI in page.text
    draft = world.client.get(f"/rounds/{world.draft_round_id}")
    assert "Closes at" not in draft.text  # no deadline, no line

    factory = TestClient(world.client.app)  # a browser of its own
    sign_in(factory, world.keys["factory"], time_zone="Europe/Paris")
    home = factory.get("/factory")
    assert home.status_code == 200
    assert "closes at 2030-01-15 11:00 CET (Europe/Paris)" in home.text

    closed = world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    )
    assert closed.status_code == 200
    assert "closes at" not in factory.get("/factory").text  # past: the close is shown


def _round_json(world: World, round_id: str) -> dict[str, Any]:
    body: dict[str, Any] = world.client.get(
        f"/v1/rounds/{round_id}", headers=world.headers("manager")
    ).json()
    return body


def test_a_new_round_takes_its_deadline_in_the_managers_zone(world: World) -> None:
    token = sign_in(world.client, world.keys["manager"], time_zone="Asia/Shanghai")
    form = world.client.get("/rounds/new")
    assert form.status_code == 200
    assert 'name="closes_at" type="datetime-local"' in form.text
    assert "in your time zone (Asia/Shanghai)" in form.text
    made = world.client.post(
        "/rounds",
        data={
            "csrf_token": token,
            "name": "Jars, January",
            "category": "jars",
            "period": "2030-01",
            "item": world.item_id,
            "closes_at": "2030-01-15T18:00",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    round_id = made.headers["location"].rsplit("/", 1)[-1]
    assert _round_json(world, round_id)["closes_at"] == "2030-01-15T10:00:00Z"
    assert IN_SHANGHAI in world.client.get(f"/rounds/{round_id}").text


def test_the_round_page_moves_the_deadline_as_the_api_does_and_audits_it(world: World) -> None:
    token = sign_in(world.client, world.keys["manager"], time_zone="Europe/Paris")
    page = world.client.get(f"/rounds/{world.round_id}")
    assert 'action="/rounds/' + world.round_id + '/deadline"' in page.text
    assert "Set a deadline (Europe/Paris)" in page.text
    moved = world.client.post(
        f"/rounds/{world.round_id}/deadline",
        data={"csrf_token": token, "closes_at": "2031-02-01T09:30"},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    assert _round_json(world, world.round_id)["closes_at"] == "2031-02-01T08:30:00Z"
    events = world.client.get("/v1/audit/events?limit=500", headers=world.headers("finance"))
    assert events.status_code == 200, events.text
    moves = [e for e in events.json()["data"] if e["action"] == "round.deadline.move"]
    assert [e["entity_id"] for e in moves] == [world.round_id]
    again = world.client.get(f"/rounds/{world.round_id}")
    assert "Move the deadline to (Europe/Paris)" in again.text
    assert 'value="2031-02-01T09:30"' in again.text  # the field holds it in the viewer's zone


def test_the_countdown_counts_from_the_database_clock_and_the_plain_time_stays(
    world: World,
) -> None:
    world.client.patch(
        f"/v1/rounds/{world.round_id}",
        json={"closes_at": DEADLINE},
        headers=world.headers("manager"),
    )
    sign_in(world.client, world.keys["manager"], time_zone="Asia/Shanghai")
    before = datetime.now(UTC)
    page = world.client.get(f"/rounds/{world.round_id}").text
    after = datetime.now(UTC)
    found = re.search(r'class="countdown" data-closes-at="([^"]+)" data-now="([^"]+)" hidden', page)
    assert found, page
    assert datetime.fromisoformat(found.group(1)) == datetime.fromisoformat(DEADLINE)
    now = datetime.fromisoformat(found.group(2))
    # SQLite's clock is the host's: the page's "now" is the database's, read while serving.
    assert before - timedelta(seconds=1) <= now <= after + timedelta(seconds=1)
    assert IN_SHANGHAI in page  # without script, the plain time with its zone


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ("2020-01-01T10:00", "body.closes_at", "must be in the future"),
        ("", "closes_at", "give the new deadline"),
        ("tomorrow", "closes_at", "valid datetime"),
    ],
)
def test_a_refused_deadline_is_a_readable_page_and_changes_nothing(
    world: World, given: str, field: str, message: str
) -> None:
    token = sign_in(world.client, world.keys["manager"])
    answer = world.client.post(
        f"/rounds/{world.round_id}/deadline",
        data={"csrf_token": token, "closes_at": given},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert f"<code>{field}</code>" in answer.text
    assert message in answer.text
    assert _round_json(world, world.round_id)["closes_at"] is None


def test_a_closed_round_refuses_a_new_deadline_naming_its_state(world: World) -> None:
    token = sign_in(world.client, world.keys["manager"])
    world.client.post(f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager"))
    answer = world.client.post(
        f"/rounds/{world.round_id}/deadline",
        data={"csrf_token": token, "closes_at": "2031-02-01T09:30"},
        follow_redirects=False,
    )
    assert answer.status_code == 409
    assert "closed" in answer.text
    page = world.client.get(f"/rounds/{world.round_id}").text
    assert "deadline-form" not in page  # no form where no deadline can be set
