"""The API as its OpenAPI document says: Allow on a 405, unknown query parameters refused,
operation ids after the routes, and every refusal an operation can answer listed."""

from typing import Any

import pytest

from api.contract import REFUSALS, documented_codes
from bidding.errors import RoundNotFound, RoundNotOpen
from tests.conftest import World


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/rounds", "GET, POST"),
        ("DELETE", "/v1/rounds", "GET, POST"),
        ("DELETE", "/v1/rounds/{round}", "GET, PATCH"),
        ("OPTIONS", "/v1/rounds/{round}/items/{item}", "DELETE, PUT"),
        ("GET", "/v1/rounds/{round}/bids/import", "POST"),
        ("PUT", "/v1/audit/verify", "GET"),
    ],
)
def test_a_method_the_path_lacks_is_a_405_listing_the_paths_methods(
    world: World, method: str, path: str, allow: str
) -> None:
    url = path.format(round=world.round_id, item=world.item_id)
    answer = world.client.request(method, url, headers=world.headers("manager"))
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "method_not_allowed"


def test_an_undeclared_query_parameter_is_refused_by_name(world: World) -> None:
    answer = world.client.get("/v1/rounds?limt=5", headers=world.headers("manager"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["query.limt"]
    assert world.client.get("/v1/rounds?limit=5", headers=world.headers("manager")).is_success


def test_operation_ids_are_the_route_names(world: World) -> None:
    document: dict[str, Any] = world.client.get("/openapi.json").json()
    ids = {
        (path, method): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert ids[("/v1/rounds", "post")] == "create_round"
    assert ids[("/v1/rounds/{round_id}/bids", "post")] == "submit_bid"
    assert ids[("/v1/rounds/{round_id}/allocations", "post")] == "solve_round"
    assert len(set(ids.values())) == len(ids)
    assert not [name for name in ids.values() if "_v1_" in name]


def test_each_operation_lists_its_problem_codes_with_an_example_body(world: World) -> None:
    document: dict[str, Any] = world.client.get("/openapi.json").json()
    listed = {
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    }
    assert set(REFUSALS) <= listed
    path = "/v1/rounds/{round_id}/bids"
    assert documented_codes(document, path, "post", 404) == {RoundNotFound.code}
    assert RoundNotOpen.code in documented_codes(document, path, "post", 409)
    assert documented_codes(document, path, "post", 401) == {"not_authenticated"}
    example = document["paths"][path]["post"]["responses"]["409"]["content"][
        "application/problem+json"
    ]["examples"][RoundNotOpen.code]["value"]
    assert (example["status"], example["code"]) == (409, RoundNotOpen.code)
    # The example is what the API answers: bid into a draft round.
    answer = world.client.post(
        f"/v1/rounds/{world.draft_round_id}/bids",
        json={"item": world.item_id, "unit_cost": "18.50", "capacity": 100},
        headers=world.headers("factory"),
    )
    assert answer.status_code in (404, 409)
    status = answer.status_code
    assert answer.json()["code"] in documented_codes(document, path, "post", status)
