"""Rate limits as configured: per API key, and per client for requests without a valid key."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from bidding.models import Role
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import create_tables
from tests.web.helpers import sign_in

BURST = 60
"""Over the default per-key limit (25 a second) when sent back to back."""


@dataclass
class Limited:
    """An app with the default limits, a round and two factories' keys."""

    client: TestClient
    round_url: str
    key: str
    other_key: str


@pytest.fixture
def limited(database_url: str) -> Iterator[Limited]:
    app = create_app(Settings(database_url=database_url, job_queue="embedded"))
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        round_id = builders.an_open_round(session, item_list=[item]).id
        key = builders.a_key(session, Role.factory, builders.a_factory(session, name="A"))
        other = builders.a_key(session, Role.factory, builders.a_factory(session, name="B"))
    with TestClient(app) as client:
        yield Limited(client, f"/v1/rounds/{round_id}", key, other)
    app.state.engine.dispose()


def _assert_rate_limited(response_json: dict[str, object], retry_after: str | None) -> None:
    assert response_json["code"] == "rate_limited"
    assert response_json["status"] == 429
    assert retry_after is not None
    assert retry_after.isdigit()
    assert int(retry_after) >= 1


def test_a_bursting_key_gets_429_with_retry_after_and_another_key_does_not(
    limited: Limited,
) -> None:
    statuses = []
    refused = None
    for _ in range(BURST):
        response = limited.client.get(
            limited.round_url, headers={"Authorization": f"Bearer {limited.key}"}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused = response
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= 20  # the limit's worth went through
    assert refused is not None
    assert refused.headers["content-type"] == "application/problem+json"
    _assert_rate_limited(refused.json(), refused.headers.get("retry-after"))
    other = limited.client.get(
        limited.round_url, headers={"Authorization": f"Bearer {limited.other_key}"}
    )
    assert other.status_code == 200


def test_requests_without_a_key_are_limited_per_client(limited: Limited) -> None:
    statuses = [limited.client.get(limited.round_url).status_code for _ in range(30)]
    assert set(statuses) == {401, 429}, statuses
    refused = limited.client.get(limited.round_url)
    _assert_rate_limited(refused.json(), refused.headers.get("retry-after"))


def test_wrong_keys_count_against_the_client_so_rotating_them_does_not_help(
    limited: Limited,
) -> None:
    statuses = [
        limited.client.get(
            limited.round_url, headers={"Authorization": f"Bearer sbk_wrong_{n}"}
        ).status_code
        for n in range(30)
    ]
    assert set(statuses) == {401, 429}, statuses
    assert statuses.count(401) <= 10  # the per-client limit of 10 a second


def test_made_up_session_cookies_are_limited_as_one_anonymous_client(limited: Limited) -> None:
    # Each request names another session that does not exist: counted per client (10 a
    # second), not each as a signed-in person of its own.
    statuses = [
        limited.client.get(
            "/", headers={"Cookie": f"sb_session=made-up-{n}"}, follow_redirects=False
        ).status_code
        for n in range(30)
    ]
    assert 429 in statuses, statuses
    assert len([s for s in statuses if s != 429]) <= 10, statuses
    refused = limited.client.get("/", headers={"Cookie": "sb_session=another"})
    assert refused.status_code == 429
    _assert_rate_limited(refused.json(), refused.headers.get("retry-after"))


def test_a_live_session_is_limited_as_a_key_not_as_the_client(limited: Limited) -> None:
    sign_in(limited.client, limited.key)  # the cookie is kept by the client
    # Past the per-client 10 a second, within the per-key 25: all served.
    statuses = [limited.client.get("/factory").status_code for _ in range(18)]
    assert statuses == [200] * 18, statuses
    # Made-up cookies from the same client are still anonymous, whatever the live one sent.
    fake = [
        limited.client.get(
            "/", headers={"Cookie": f"sb_session=fake-{n}"}, follow_redirects=False
        ).status_code
        for n in range(15)
    ]
    assert 429 in fake, fake


PACE_PER_S = 50.0


def test_refusals_to_a_key_sending_many_at_once_are_paced(database_url: str) -> None:
    # 60 requests at once from one key over a limit of 5 a second: the refusals go out at
    # most PACE_PER_S a second (held on a timer), not as fast as the server can answer.
    app = create_app(
        Settings(
            database_url=database_url,
            job_queue="embedded",
            rate_limit_per_key="5/second",
            rate_limit_refusals_per_s=PACE_PER_S,
        )
    )
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        round_id = builders.an_open_round(session, item_list=[builders.an_item(session)]).id
        key = builders.a_key(session, Role.factory, builders.a_factory(session))

    async def burst() -> tuple[list[tuple[int, float, str | None]], float]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = time.monotonic()

            async def one() -> tuple[int, float, str | None]:
                response = await client.get(f"/v1/rounds/{round_id}", headers=headers)
                retry = response.headers.get("retry-after")
                return response.status_code, time.monotonic() - started, retry

            return list(await asyncio.gather(*(one() for _ in range(60)))), started

    answers, _ = asyncio.run(burst())
    app.state.engine.dispose()
    refused = sorted(seconds for status, seconds, _ in answers if status == 429)
    assert {status for status, _, _ in answers} == {200, 429}, answers
    assert len(refused) >= 50, answers
    assert all(retry is not None and int(retry) >= 1 for s, _, retry in answers if s == 429)
    # The first is answered at once; each next one at least 1/PACE_PER_S after the one before.
    spread = refused[-1] - refused[0]
    assert spread >= 0.9 * (len(refused) - 1) / PACE_PER_S, (spread, len(refused))
