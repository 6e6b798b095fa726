"""The deadline on the pages: the manager's round page and the factory's home say when the
round closes, in the viewer's zone."""

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
