"""`supplybid serve --workers 2` on SQLite: two processes writing one database file.

Writers of both processes take turns on the writer lock file, so concurrent bids and
amendments all land (none lost, none at another version than answered); exactly one of
the processes runs the embedded job worker (it holds the jobs lock file), and a solve
asked of either is done.
"""

import asyncio
import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding.models import Bid, BidVersion, Role
from bidding.values import to_cents
from tests import factories as builders
from tests.conftest import report_figures
from tests.served import serve

CLIENTS = 24
STEPS = 8


def _children(pid: int) -> set[int]:
    """uvicorn's worker processes under its manager process."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # uvicorn's workers, not multiprocessing's resource tracker
        if int(fields[1]) == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
            found.add(int(stat.parent.name))
    return found


def _flock_holders(path: Path) -> set[int]:
    """The processes holding a flock on the file (from /proc/locks)."""
    inode = path.stat().st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            holders.add(int(parts[4]))
    return holders


def test_two_workers_on_sqlite_lose_no_bid_and_run_one_job_worker(
    database_url: str, engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the lock files are SQLite's; PostgreSQL locks rows (SELECT ... FOR UPDATE)")
    with Session(engine, expire_on_commit=False) as session:
        item_list = [builders.an_item(session, name=f"Item {n}") for n in range(3)]
        round_id = builders.an_open_round(session, item_list=item_list).id
        manager_key = builders.a_key(session, Role.manager)
        factory_keys = [
            builders.a_key(session, Role.factory, builders.a_factory(session, name=f"F{n}"))
            for n in range(CLIENTS)
        ]
    bids_url = f"/v1/rounds/{round_id}/bids"
    accepted: dict[str, tuple[int, Decimal]] = {}
    statuses: Counter[str] = Counter()

    async def client_loop(http: httpx.AsyncClient, index: int, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        mine: list[str] = []
        for step in range(STEPS):
            cost = f"{15 + index % 9}.{step:02d}"
            if step < len(item_list):
                item = item_list[step]
                response = await http.post(
                    bids_url,
                    json={"item": item.id, "unit_cost": cost, "capacity": 100},
                    headers={**headers, "Idempotency-Key": f"w-{index}-{item.id}"},
                )
            else:
                response = await http.put(
                    f"{bids_url}/{mine[step % len(mine)]}",
                    json={"unit_cost": cost, "capacity": 100},
                    headers=headers,
                )
            statuses[str(response.status_code)] += 1
            if response.status_code in (200, 201):
                body = response.json()
                accepted[body["id"]] = (int(body["version"]), Decimal(body["unit_cost"]))
                if response.status_code == 201:
                    mine.append(body["id"])

    async def run(base_url: str) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=CLIENTS + 10)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
            await asyncio.gather(*(client_loop(http, n, k) for n, k in enumerate(factory_keys)))
            manager = {"Authorization": f"Bearer {manager_key}"}
            closed = await http.post(f"/v1/rounds/{round_id}/close", headers=manager)
            asked = await http.post(f"/v1/rounds/{round_id}/allocations", json={}, headers=manager)
            allocation = asked.json().get("id")
            status = None
            deadline = time.monotonic() + 60
            while allocation and time.monotonic() < deadline:
                status = (await http.get(f"/v1/allocations/{allocation}", headers=manager)).json()
                if status.get("status") in ("done", "failed"):
                    break
                await asyncio.sleep(0.3)
        return {
            "close": closed.status_code,
            "allocation": asked.status_code,
            "solve": (status or {}).get("status"),
        }

    jobs_lock = Path(f"{engine.url.database}-jobs.lock")
    writer_lock = Path(f"{engine.url.database}-writer.lock")
    with serve(database_url, workers=2, rate_limit_per_key="1000/second") as served:
        deadline = time.monotonic() + 30
        workers = _children(served.pid)
        while (len(workers) < 2 or not jobs_lock.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(served.pid)
        holders: set[int] = set()
        while not holders and time.monotonic() < deadline:
            holders = _flock_holders(jobs_lock)
            time.sleep(0.2)
        figures = asyncio.run(run(served.base_url))
        holders_after = _flock_holders(jobs_lock)
    with Session(engine) as session:
        stored = {
            bid_id: (version, cents)
            for bid_id, version, cents in session.exec(
                select(Bid.id, Bid.version, BidVersion.unit_cost_cents).join(
                    BidVersion,
                    (col(BidVersion.bid_id) == col(Bid.id))
                    & (col(BidVersion.version) == col(Bid.version)),
                )
            ).all()
        }
    figures |= {
        "statuses": dict(statuses),
        "worker_processes": len(workers),
        "job_worker_processes": len(holders),
        "accepted_bids": len(accepted),
        "lost": sum(1 for b in accepted if b not in stored),
        "not_as_accepted": sum(
            1
            for b, (v, cost) in accepted.items()
            if b in stored and stored[b] != (v, to_cents(cost))
        ),
    }
    report_figures("served-two-workers-sqlite", json.loads(json.dumps(figures, default=str)))
    assert len(workers) == 2, figures
    assert writer_lock.exists(), figures
    assert len(holders) == 1, (holders, workers)
    assert holders <= workers, (holders, workers)
    assert holders_after == holders, (holders_after, holders)  # it stayed the one worker
    assert statuses["201"] == CLIENTS * len(item_list), figures
    assert sum(n for s, n in statuses.items() if s[0] == "5") == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["not_as_accepted"] == 0, figures
    assert figures["close"] == 200, figures
    assert figures["allocation"] == 202, figures
    assert figures["solve"] == "done", figures
