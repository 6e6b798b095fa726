"""The settlement page's correction goes through the API's body schema: a reason with a
reordering or invisible character is refused as the API refuses it, and nothing changes."""

from tests.api.test_settlement_api import published_round, settle
from tests.conftest import World
from tests.web.helpers import sign_in


def _versions(world: World) -> list[int]:
    history = world.client.get(
        f"/v1/rounds/{world.round_id}/settlement", headers=world.headers("finance")
    ).json()
    return [v["version"] for v in history["versions"]]


def test_a_correction_reason_with_a_bidi_control_is_refused_on_the_page(world: World) -> None:
    published_round(world)
    assert settle(world, {world.item_id: 4500}).status_code == 201
    token = sign_in(world.client, world.keys["manager"])
    url = f"/rounds/{world.round_id}/settlement"
    refused = world.client.post(
        url,
        data={
            "csrf_token": token,
            f"sold.{world.item_id}": "4000",
            "reason": "returns \u202edetal",
        },
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "<code>reason</code>" in refused.text
    assert "bidi control character (U+202E)" in refused.text
    assert _versions(world) == [1]
    kept = world.client.post(
        url,
        data={"csrf_token": token, f"sold.{world.item_id}": "4000", "reason": "returns late"},
        follow_redirects=False,
    )
    assert kept.status_code == 303, kept.text
    assert _versions(world) == [1, 2]
