"""A round of about 10,000 bids, closed and taken to published awards through the HTTP API.

The round is set up directly in the database (a generated problem, as bench.allocator
uses, written as rows of an open round). Then a real server runs as a subprocess
(`supplybid serve` on 127.0.0.1) and, on PostgreSQL, a `supplybid worker` process; on
SQLite the server's embedded worker solves. Each step is timed from the client: close the
round, POST allocations, wait for done, GET the result, publish, every award as one
streamed CSV; then a bare `supplybid solve` of the allocation's problem, the reference.
The manager's path (`PATH`: the solve request to every award read) is compared with it.

    python -m bench.service_round --bids 10000                       # SQLite, a temp file
    python -m bench.service_round --bids 10000 --database-url postgresql+psycopg://...
    python -m bench.service_round --bids 100000 --runs 3  # medians of 3, a new database each
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

import migrations
from bidding import keys
from bidding.db import make_engine
from bidding.jobs import apply_procrastinate_schema
from bidding.models import (
    Bid,
    BidVersion,
    Factory,
    Item,
    Role,
    Round,
    RoundItem,
    RoundState,
    Scenario,
    utcnow,
)
from bidding.principal import SYSTEM
from bidding.values import to_cents, to_ppb
from solver.generate import generate_problem
from solver.problem import Problem, parse_problem

SUPPLYBID = str(Path(sys.executable).parent / "supplybid")
FACTORIES = 200
PATH = ("post_allocations_s", "wait_for_done_s", "publish_s", "awards_csv_s")
"""The manager's path (issue 11 item 6): from the solve request to every award read."""


def build_round(engine: Engine, problem: Problem) -> str:
    """Write the problem's factories, items, bids as rows of an open round (closed later,
    through the API, as a manager closes it before asking for a solve)."""
    round_id = f"rnd_bench_{secrets.token_hex(4)}"
    now = utcnow()
    with Session(engine) as session:
        session.execute(
            insert(Factory),
            [
                {
                    "id": f.id,
                    "name": f.id,
                    "monthly_capacity": f.monthly_capacity,
                    "is_new": False,
                    "created_at": now,
                }
                for f in problem.factories
            ],
        )
        session.execute(
            insert(Item),
            [
                {
                    "id": i.id,
                    "name": i.id,
                    "retail_price_cents": to_cents(i.retail_price),
                    "handling_cost_cents": to_cents(i.handling_cost),
                    "salvage_value_cents": to_cents(i.salvage_value),
                    "created_at": now,
                }
                for i in problem.items
            ],
        )
        session.execute(
            insert(Scenario),
            [
                {
                    "item_id": i.id,
                    "position": n,
                    "units": s.units,
                    "probability_ppb": to_ppb(s.probability),
                }
                for i in problem.items
                for n, s in enumerate(i.demand)
            ],
        )
        session.execute(
            insert(Round),
            [
                {
                    "id": round_id,
                    "name": "Bench round",
                    "category": "bench",
                    "period": "2026-11",
                    "currency": "CNY",
                    "margin_floor_ppb": to_ppb(problem.round.margin_floor),
                    "capacity_share_ppb": to_ppb(problem.round.capacity_share),
                    "state": RoundState.open,
                    "created_at": now,
                    "opened_at": now,
                }
            ],
        )
        session.execute(
            insert(RoundItem),
            [{"round_id": round_id, "item_id": i.id, "min_fill": 0} for i in problem.items],
        )
        session.execute(
            insert(Bid),
            [
                {
                    "id": f"{round_id}_{b.id}",
                    "round_id": round_id,
                    "factory_id": b.factory,
                    "item_id": b.item,
                    "status": "live",
                    "version": 1,
                    "live_slot": f"{round_id}/{b.factory}/{b.item}",
                    "created_at": now,
                    "updated_at": now,
                }
                for b in problem.bids
            ],
        )
        session.execute(
            insert(BidVersion),
            [
                {
                    "bid_id": f"{round_id}_{b.id}",
                    "version": 1,
                    "unit_cost_cents": to_cents(b.unit_cost),
                    "capacity": b.capacity,
                    "ask_price_cents": None if b.ask_price is None else to_cents(b.ask_price),
                    "min_lot": b.min_lot,
                    "setup_cost_cents": to_cents(b.setup_cost),
                    "nonce": "bench",
                    "commitment": "bench",
                    "created_at": now,
                }
                for b in problem.bids
            ],
        )
        session.commit()
    return round_id


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess stopped with SIGTERM at the end; its output goes to `log`."""
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _wait_healthy(client: httpx.Client, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def run(bids: int, database_url: str, workdir: Path) -> dict[str, Any]:
    """Set up the round, then time each API step; the figures as a dict."""
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    started = time.perf_counter()
    document = generate_problem(
        factories=FACTORIES,
        items=max(bids // 40, 1),
        bids_per_factory=max(bids // FACTORIES, 1),
        scenarios=10,
        seed=2026,
    )
    problem = parse_problem(document)
    migrations.upgrade(database_url)
    engine = make_engine(database_url, pool_size=2)
    if postgres:
        apply_procrastinate_schema(engine)
    round_id = build_round(engine, problem)
    with Session(engine) as session:
        manager = keys.create_key(session=session, actor=SYSTEM, role=Role.manager).secret
        factory_key = keys.create_key(
            session=session,
            actor=SYSTEM,
            role=Role.factory,
            factory_id=problem.factories[0].id,
        ).secret
    engine.dispose()
    setup_s = time.perf_counter() - started

    port = _free_port()
    env = {**os.environ, "SUPPLYBID_DATABASE_URL": database_url}
    # The server and worker refuse to start without an audit key: a throwaway one.
    env.setdefault("SUPPLYBID_AUDIT_KEY", secrets.token_hex(32))
    serve = [SUPPLYBID, "serve", "--host", "127.0.0.1", "--port", str(port)]
    figures: dict[str, Any] = {
        "database": "postgresql" if postgres else "sqlite",
        "queue": "procrastinate (separate worker)" if postgres else "embedded",
        "bids": len(problem.bids),
        "factories": len(problem.factories),
        "items": len(problem.items),
        "setup_s": round(setup_s, 2),
    }
    with process(serve, env, workdir / "server.log"), _maybe_worker(postgres, env, workdir):
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {manager}"},
            timeout=300,
        )
        _wait_healthy(client)
        steps: dict[str, float] = {}

        t = time.perf_counter()
        client.post(f"/v1/rounds/{round_id}/close").raise_for_status()
        steps["close_s"] = time.perf_counter() - t

        t = time.perf_counter()
        posted = client.post(f"/v1/rounds/{round_id}/allocations", json={})
        steps["post_allocations_s"] = time.perf_counter() - t
        posted.raise_for_status()
        allocation_id = posted.json()["id"]

        t = time.perf_counter()
        while True:  # the list shows status without the result: a cheap poll
            state = client.get(f"/v1/rounds/{round_id}/allocations", params={"limit": 500}).json()[
                "data"
            ]
            current = next(a for a in state if a["id"] == allocation_id)
            if current["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        steps["wait_for_done_s"] = time.perf_counter() - t
        if current["status"] != "done":
            raise RuntimeError(f"solve failed: {current['error']}")

        t = time.perf_counter()
        result = client.get(f"/v1/allocations/{allocation_id}")
        steps["get_result_s"] = time.perf_counter() - t
        body = result.json()
        figures["result_bytes"] = len(result.content)
        figures["solver_total_s"] = body["result"]["timings"]["total_s"]
        figures["objective"] = body["result"]["objective"]

        problem_file = workdir / "problem.json"
        problem_file.write_bytes(client.get(f"/v1/allocations/{allocation_id}/problem").content)

        t = time.perf_counter()
        published = client.post(f"/v1/allocations/{allocation_id}/publish")
        steps["publish_s"] = time.perf_counter() - t
        published.raise_for_status()

        t = time.perf_counter()
        lines = 0
        with client.stream(
            "GET", f"/v1/rounds/{round_id}/awards", params={"format": "csv", "view": "bid"}
        ) as exported:
            exported.raise_for_status()
            for chunk in exported.iter_bytes():
                lines += chunk.count(b"\n")
        steps["awards_csv_s"] = time.perf_counter() - t
        figures["awards"] = lines - 1  # the header

        t = time.perf_counter()
        own = client.get(
            f"/v1/rounds/{round_id}/awards",
            params={"format": "csv"},
            headers={"Authorization": f"Bearer {factory_key}"},
        )
        steps["awards_csv_one_factory_s"] = time.perf_counter() - t
        own.raise_for_status()
        figures["steps"] = {k: round(v, 3) for k, v in steps.items()}
    path = sum(steps[k] for k in PATH)
    bare = bare_solve(problem_file, workdir)
    figures["path_s"] = round(path, 3)
    figures["bare_solve_s"] = round(bare, 3)
    figures["ratio"] = round(path / bare, 2)
    return figures


def bare_solve(problem_file: Path, workdir: Path) -> float:
    """Seconds of `supplybid solve` on the allocation's problem, as a process, start to end."""
    t = time.perf_counter()
    subprocess.run(
        [SUPPLYBID, "solve", str(problem_file), "-o", str(workdir / "result.json")],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


@contextmanager
def _maybe_worker(postgres: bool, env: dict[str, str], workdir: Path) -> Iterator[None]:
    if not postgres:
        yield
        return
    with process([SUPPLYBID, "worker"], env, workdir / "worker.log"):
        yield


def _fresh_database(database_url: str, run: int) -> str:
    """A new, empty database for one run: on PostgreSQL one created beside the URL's."""
    url = make_url(database_url)
    name = f"bench_round_{os.getpid()}_{run}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    """Parse the arguments, run (each run on a new database), print the figures and medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bids", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--runs", type=int, default=1, help="runs, each on a new database")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="supplybid-bench-") as tmp:
            workdir = Path(tmp)
            if args.database_url:
                url = _fresh_database(args.database_url, n)
            else:
                url = f"sqlite:///{workdir / 'bench.db'}"
            figures = run(args.bids, url, workdir)
        print(json.dumps(figures), file=sys.stderr, flush=True)
        runs.append(figures)
    steps = {k: statistics.median(r["steps"][k] for r in runs) for k in runs[0]["steps"]}
    summary = {
        **{k: v for k, v in runs[-1].items() if k != "steps"},
        "runs": len(runs),
        "median_steps": steps,
        "median_path_s": statistics.median(r["path_s"] for r in runs),
        "median_bare_solve_s": statistics.median(r["bare_solve_s"] for r in runs),
        "median_ratio": statistics.median(r["ratio"] for r in runs),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
