"""The admission step's key cache: one lookup per key at a time, revocations honoured."""

import asyncio
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.key_cache import KeyCache
from api.limits import AdmissionMiddleware
from bidding import keys
from bidding.models import ApiKey, Role, utcnow
from bidding.principal import Principal
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import World, create_tables


def _admission(client: TestClient) -> AdmissionMiddleware:
    stack = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(stack, AdmissionMiddleware):
        stack = stack.app
    return stack


def test_a_key_revoked_through_the_api_is_refused_at_once_though_cached(world: World) -> None:
    cache = _admission(world.client).keys
    assert cache.ttl_s > 0
    url = f"/v1/rounds/{world.round_id}"
    for _ in range(5):
        assert world.client.get(url, headers=world.headers("factory")).status_code == 200
    with Session(world.engine) as session:
        key_id = session.exec(
            select(ApiKey.id).where(col(ApiKey.key_hash) == keys.hash_key(world.keys["factory"]))
        ).one()
    revoked = world.client.delete(f"/v1/api-keys/{key_id}", headers=world.headers("admin"))
    assert revoked.status_code == 200, revoked.text
    refused = world.client.get(url, headers=world.headers("factory"))
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    assert world.client.get(url, headers=world.headers("rival")).status_code == 200


@pytest.fixture
def cached_app(database_url: str) -> Iterator[tuple[TestClient, Engine, str, str]]:
    app = create_app(
        Settings(
            database_url=database_url,
            job_queue="embedded",
            key_cache_ttl_s=0.5,
            rate_limit_per_key="1000/second",
        )
    )
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        round_id = builders.an_open_round(session, item_list=[builders.an_item(session)]).id
        key = builders.a_key(session, Role.factory, builders.a_factory(session))
    with TestClient(app) as client:
        yield client, app.state.engine, key, f"/v1/rounds/{round_id}"
    app.state.engine.dispose()


def test_a_revocation_made_by_another_process_is_honoured_within_the_ttl(
    cached_app: tuple[TestClient, Engine, str, str],
) -> None:
    client, engine, key, url = cached_app
    cache = _admission(client).keys
    headers = {"Authorization": f"Bearer {key}"}
    before = cache.lookups_made
    for _ in range(10):
        assert client.get(url, headers=headers).status_code == 200
    assert cache.lookups_made - before <= 1  # believed, not asked ten times
    # As another server process or the CLI would: the row changes, this process is not told.
    with engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(col(ApiKey.key_hash) == keys.hash_key(key))
            .values(revoked_at=utcnow())
        )
    revoked_at = time.monotonic()
    while client.get(url, headers=headers).status_code == 200:
        assert time.monotonic() - revoked_at < cache.ttl_s + 0.5, "served past the cache's ttl"
        time.sleep(0.05)
    assert client.get(url, headers=headers).status_code == 401


def test_concurrent_requests_of_one_key_share_one_lookup(database_url: str, engine: Engine) -> None:
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        key = builders.a_key(session, Role.factory, builders.a_factory(session))

    async def many() -> tuple[list[Principal | None], int]:
        cache = KeyCache(asyncio.Semaphore(4), timeout_s=10, ttl_s=5)
        found = await asyncio.gather(*(cache.principal(engine, key) for _ in range(50)))
        wrong = await asyncio.gather(*(cache.principal(engine, key + "x") for _ in range(50)))
        assert wrong == [None] * 50
        return list(found), cache.lookups_made

    found, lookups = asyncio.run(many())
    assert lookups == 2  # one for the key, one for the wrong key, 100 answers
    assert {p.role for p in found if p is not None} == {Role.factory}
    assert None not in found


def test_a_cache_with_no_ttl_asks_every_time(database_url: str, engine: Engine) -> None:
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        key = builders.a_key(session, Role.factory, builders.a_factory(session))

    async def sequential() -> int:
        cache = KeyCache(asyncio.Semaphore(4), timeout_s=10, ttl_s=0)
        for _ in range(3):
            assert await cache.principal(engine, key) is not None
        return cache.lookups_made

    assert asyncio.run(sequential()) == 3


def test_a_crowd_of_new_keys_is_asked_in_a_few_queries_each_answered_as_its_own(
    database_url: str, engine: Engine
) -> None:
    # A race of 200 factories used to take 200 lookup turns, and a manager's first
    # request (the close) waited behind all of them. A turn now asks for every key that
    # arrived before it.
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        made = [builders.a_factory(session, name=f"F{i}") for i in range(60)]
        factory_ids = [f.id for f in made]
        factory_keys = [builders.a_key(session, Role.factory, f) for f in made]
        manager_key = builders.a_key(session, Role.manager)

    async def crowd() -> tuple[list[Principal | None], Principal | None, list[Principal | None]]:
        cache = KeyCache(asyncio.Semaphore(2), timeout_s=10, ttl_s=5)
        asked = [cache.principal(engine, key) for key in factory_keys]
        wrong = [cache.principal(engine, f"{key}x") for key in factory_keys[:10]]
        found = await asyncio.gather(*asked, cache.principal(engine, manager_key), *wrong)
        assert cache.lookups_made == 71
        assert cache.queries_made <= 2, cache.queries_made  # not 71
        return list(found[:60]), found[60], list(found[61:])

    found, manager, wrong = asyncio.run(crowd())
    assert [p.factory_id if p else None for p in found] == factory_ids
    assert {p.role for p in found if p} == {Role.factory}
    assert manager is not None
    assert manager.role == Role.manager
    assert manager.factory_id is None
    assert wrong == [None] * 10


def test_a_failed_lookup_is_told_to_every_waiter_and_the_next_request_asks_again(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        key = builders.a_key(session, Role.factory, builders.a_factory(session))
    real = keys.active_principals

    def broken(*_: object) -> dict[str, Principal]:
        raise ConnectionError("the database went away")

    async def twice() -> Principal | None:
        cache = KeyCache(asyncio.Semaphore(2), timeout_s=10, ttl_s=5)
        monkeypatch.setattr(keys, "active_principals", broken)
        failed = await asyncio.gather(
            *(cache.principal(engine, key) for _ in range(5)), return_exceptions=True
        )
        assert [type(f) for f in failed] == [ConnectionError] * 5
        monkeypatch.setattr(keys, "active_principals", real)
        return await cache.principal(engine, key)

    principal = asyncio.run(twice())
    assert principal is not None
    assert principal.role == Role.factory
