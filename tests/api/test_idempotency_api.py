"""Idempotency-Key: a success is replayed, a retry counts by content, a refusal frees the key."""

from sqlmodel import Session, func, select

from bidding.models import Bid, IdempotencyRecord
from tests.conftest import World


def _records(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(IdempotencyRecord)).one()


def _bids(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(Bid)).one()


def _multipart(boundary: str, filename: str, content: bytes) -> tuple[bytes, str]:
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_retried_sheet_import_with_a_new_boundary_replays_the_first_response(
    world: World,
) -> None:
    url = f"/v1/rounds/{world.round_id}/bids/import"
    sheet = f"item,unit_cost,capacity\n{world.item_id},18.50,8000\n".encode()
    responses = []
    for boundary in ("first-boundary-1111", "second-boundary-2222"):
        body, content_type = _multipart(boundary, "bids.csv", sheet)
        responses.append(
            world.client.post(
                url,
                content=body,
                headers=world.headers(
                    "factory", **{"Idempotency-Key": "import-1", "Content-Type": content_type}
                ),
            )
        )
    first, again = responses
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert _bids(world) == 1


def test_a_retried_sheet_import_with_another_file_is_a_422(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids/import"
    statuses = []
    for cost in ("18.50", "17.00"):
        sheet = f"item,unit_cost,capacity\n{world.item_id},{cost},8000\n".encode()
        body, content_type = _multipart("same-boundary", "bids.csv", sheet)
        statuses.append(
            world.client.post(
                url,
                content=body,
                headers=world.headers(
                    "factory", **{"Idempotency-Key": "import-2", "Content-Type": content_type}
                ),
            ).status_code
        )
    assert statuses == [201, 422]


def test_json_differing_only_in_spacing_and_key_order_is_the_same_request(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bodies = (
        f'{{"item":"{world.item_id}","unit_cost":"18.50","capacity":8000}}',
        f'{{ "capacity": 8000,\n  "unit_cost": "18.50", "item": "{world.item_id}" }}\n',
    )
    headers = world.headers(
        "factory", **{"Idempotency-Key": "json-1", "Content-Type": "application/json"}
    )
    first, again = (world.client.post(url, content=body, headers=headers) for body in bodies)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert _bids(world) == 1


def test_json_with_a_number_spelled_as_a_string_is_another_request(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    headers = world.headers(
        "factory", **{"Idempotency-Key": "json-2", "Content-Type": "application/json"}
    )
    first = world.client.post(
        url,
        content=f'{{"item":"{world.item_id}","unit_cost":"18.50","capacity":8000}}',
        headers=headers,
    )
    other = world.client.post(
        url,
        content=f'{{"item":"{world.item_id}","unit_cost":"18.50","capacity":"8000"}}',
        headers=headers,
    )
    assert (first.status_code, other.status_code) == (201, 422)
    assert other.json()["code"] == "idempotency_key_reused"


def test_a_refused_request_stores_nothing_and_frees_its_key_for_a_corrected_retry(
    world: World,
) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    headers = world.headers("factory", **{"Idempotency-Key": "fix-and-retry"})
    refused = world.client.post(
        url, json={"item": world.item_id, "unit_cost": "0", "capacity": 8000}, headers=headers
    )
    assert refused.status_code == 422
    assert _records(world) == 0
    corrected = world.client.post(
        url, json={"item": world.item_id, "unit_cost": "18.50", "capacity": 8000}, headers=headers
    )
    assert corrected.status_code == 201, corrected.text
    assert corrected.headers.get("idempotent-replayed") is None
    assert _records(world) == 1


def test_a_403_or_a_404_stores_nothing(world: World) -> None:
    forbidden = world.client.post(
        "/v1/factories",
        json={"name": "Not mine to make"},
        headers=world.headers("factory", **{"Idempotency-Key": "no-403"}),
    )
    missing = world.client.post(
        "/v1/rounds/rnd_missing/bids",
        json={"item": world.item_id, "unit_cost": "18.50", "capacity": 8000},
        headers=world.headers("factory", **{"Idempotency-Key": "no-404"}),
    )
    assert (forbidden.status_code, missing.status_code) == (403, 404)
    assert _records(world) == 0


def test_a_path_that_matches_no_route_records_nothing(world: World) -> None:
    response = world.client.post(
        "/v1/" + "x" * 600,
        json={},
        headers=world.headers("factory", **{"Idempotency-Key": "no-route"}),
    )
    assert response.status_code == 404
    assert _records(world) == 0


def test_a_path_too_long_or_with_a_nul_is_a_422_before_anything_is_stored(world: World) -> None:
    headers = world.headers("factory", **{"Idempotency-Key": "odd-path"})
    for path in ("/v1/rounds/ab%00c/bids", "/v1/rounds/" + "a" * 600 + "/bids"):
        response = world.client.post(path, json={}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert _records(world) == 0
