"""Overload against a real server (uvicorn on 127.0.0.1), on SQLite and PostgreSQL.

The counts are asserted; the only times asserted are the issue's generous bounds (the
last of 150 answers within 15 s, another caller within 5 s, a close within 2 s).

The other caller and the manager send from clients of their own, as they would from
their own machines. On the crowd's client, the close once waited 10 s in httpx's
connection pool (all its connections busy or half-released) before it was sent, and the
server then answered it in 0.1 s: a harness delay, not the server's. On a client of its
own but on the crowd's event loop, the close still took 3 to 6 s on a loaded machine,
spent opening its connection and writing its headers while 200 racers held the loop.
So the manager sends from a thread of its own, on a connection it opened (untimed) just
before, as a manager's browser holds one: what is timed is the server's answer.
"""

import asyncio
import json
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding.models import Role, Round
from tests import factories as builders
from tests.conftest import report_figures
from tests.served import serve

READS = 150
RACERS = 200
REQUESTS_PER_RACER = 5


def _outcome(response: httpx.Response) -> str:
    # A 5xx must be a problem with Retry-After (overload, database busy), never a bare 500.
    if response.status_code >= 500:
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        return f"{response.status_code}{'' if problem else ' text'}"
    return str(response.status_code)


def test_150_concurrent_reads_from_one_key_are_answered_and_others_still_served(
    database_url: str, engine: Engine
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        round_id = builders.an_open_round(session, item_list=[item]).id
        factory_key = builders.a_key(session, Role.factory, builders.a_factory(session))
        manager_key = builders.a_key(session, Role.manager)
    url = f"/v1/rounds/{round_id}"

    async def run(base_url: str) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=READS + 10, max_keepalive_connections=READS + 10)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            started = time.monotonic()

            async def read() -> tuple[str, float]:
                response = await client.get(url, headers={"Authorization": f"Bearer {factory_key}"})
                return _outcome(response), time.monotonic() - started

            burst = [asyncio.create_task(read()) for _ in range(READS)]
            await asyncio.sleep(0.2)  # the burst is in flight
            before = time.monotonic()
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as another:
                other = await another.get(url, headers={"Authorization": f"Bearer {manager_key}"})
            other_s = time.monotonic() - before
            answers = await asyncio.gather(*burst)
        return {
            "reads": READS,
            "statuses": dict(Counter(status for status, _ in answers)),
            "last_answer_s": round(max(seconds for _, seconds in answers), 2),
            "other_caller_status": other.status_code,
            "other_caller_s": round(other_s, 2),
        }

    # One key sending 150 at once is over the configured per-key rate: this test raises it
    # (the limiter stays on); the burst is then held by the queue, not refused.
    with serve(database_url, rate_limit_per_key="1000/second") as served:
        figures = asyncio.run(run(served.base_url))
    report_figures(f"overload-reads-{engine.dialect.name}", figures)
    assert figures["statuses"] == {"200": READS}, figures
    assert figures["other_caller_status"] == 200, figures
    assert figures["last_answer_s"] <= 15, figures
    assert figures["other_caller_s"] <= 5, figures


def test_close_race_with_200_connections_in_flight(database_url: str, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        round_id = builders.an_open_round(session, item_list=[item]).id
        manager_key = builders.a_key(session, Role.manager)
        racer_keys = [
            builders.a_key(session, Role.factory, builders.a_factory(session, name=f"F{i}"))
            for i in range(RACERS)
        ]
    bids_url = f"/v1/rounds/{round_id}/bids"

    async def run(base_url: str) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=RACERS + 10, max_keepalive_connections=RACERS + 10)
        manager_headers = {"Authorization": f"Bearer {manager_key}"}

        def close_round() -> tuple[httpx.Response, float]:
            with httpx.Client(base_url=base_url, headers=manager_headers, timeout=60) as manager:
                manager.get(f"/v1/rounds/{round_id}").raise_for_status()  # opens the connection
                before = time.monotonic()
                response = manager.post(f"/v1/rounds/{round_id}/close")
                return response, time.monotonic() - before

        statuses: Counter[str] = Counter()
        accepted: dict[str, Decimal] = {}  # bid id -> unit cost of its last accepted version
        enough = asyncio.Event()
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

            async def race(index: int, key: str) -> None:
                headers = {"Authorization": f"Bearer {key}"}
                bid_id: str | None = None
                for step in range(REQUESTS_PER_RACER):
                    cost = f"{18 + index % 7}.{step:02d}"
                    if bid_id is None:
                        response = await client.post(
                            bids_url,
                            json={"item": item.id, "unit_cost": cost, "capacity": 100},
                            headers={**headers, "Idempotency-Key": f"race-{index}"},
                        )
                    elif step % 2:
                        response = await client.put(
                            f"{bids_url}/{bid_id}",
                            json={"unit_cost": cost, "capacity": 100},
                            headers=headers,
                        )
                    else:
                        response = await client.get(f"{bids_url}/{bid_id}", headers=headers)
                    statuses[_outcome(response)] += 1
                    if response.status_code in (200, 201) and response.request.method != "GET":
                        bid_id = response.json()["id"]
                        accepted[bid_id] = Decimal(response.json()["unit_cost"])
                        if len(accepted) >= RACERS // 3:
                            enough.set()
                    if response.status_code == 409:
                        return  # the round closed under it

            racers = [asyncio.create_task(race(i, key)) for i, key in enumerate(racer_keys)]
            await asyncio.wait_for(enough.wait(), timeout=60)
            closed, close_s = await asyncio.to_thread(close_round)
            await asyncio.gather(*racers)
        return {
            "racers": RACERS,
            "statuses": dict(statuses),
            "close_status": closed.status_code,
            "close_s": round(close_s, 2),
            "accepted": accepted,
        }

    with serve(database_url) as served:  # the rate limits as configured
        figures = asyncio.run(run(served.base_url))
    accepted: dict[str, Decimal] = figures.pop("accepted")
    with Session(engine) as session:
        row = session.get(Round, round_id)
        assert row is not None
        assert row.snapshot is not None
        frozen = {b["id"]: Decimal(str(b["unit_cost"])) for b in json.loads(row.snapshot)["bids"]}
    figures |= {
        "accepted_bids": len(accepted),
        "lost": len(set(accepted) - set(frozen)),
        "outside_snapshot": len(set(frozen) - set(accepted)),
        "version_mismatch": sum(1 for b, cost in accepted.items() if frozen.get(b, cost) != cost),
        "server_errors": sum(n for s, n in figures["statuses"].items() if s[0] == "5"),
    }
    report_figures(f"close-race-served-{engine.dialect.name}", figures)
    assert figures["close_status"] == 200, figures
    assert figures["server_errors"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["outside_snapshot"] == 0, figures
    assert figures["version_mismatch"] == 0, figures
    assert figures["accepted_bids"] >= RACERS // 3, figures
    assert figures["close_s"] <= 2, figures
