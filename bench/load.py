"""The load target (issue 13, point 5): 50 clients, one factory key each, 60 s of mixed
bids, amends and reads against a served app, on SQLite or PostgreSQL.

The server runs as `make run` serves it: `supplybid serve` (uvicorn, one process, on
127.0.0.1) with its worker (embedded on SQLite; a `supplybid worker` process on
PostgreSQL). The round is set up through the domain beforehand: items, one factory and
one key per client, every factory invited to one open round. Each client then loops for
the time given: submit a bid on an item it has not bid on yet, amend one of its bids, or
read (its bid, its bid list, the round), chosen at random with fixed weights, with no
pause between requests unless `--think-ms` asks for one (a closed loop: the offered load
is whatever the server answers).

Reported: p50/p95/p99 latency (all requests and by kind), requests a second, failures
(anything but the expected 200/201, or no answer), 5xx, and lost bids: every bid the
server accepted (201, or 200 on an amend) must be in the database at the end at the
version and unit cost of its last accepted answer.

`--burst` measures the burst isolation instead: the p95 of one paced reader alone, then
while another key sends as fast as 100 connections allow; the target is at most three
times the idle p95 plus 50 ms.

Rate limits are the bench's (BENCH_LIMITS, raised for 50 busy keys), the limiter on.

    python -m bench.load                                     # SQLite, a temp file
    python -m bench.load --database-url postgresql+psycopg://...
    python -m bench.load --seconds 20 --profile var/bench/profile   # pyinstrument on the server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

import migrations
from bidding import factories, items, keys, rounds
from bidding.db import make_engine
from bidding.items import DemandScenario
from bidding.jobs import apply_procrastinate_schema
from bidding.models import Bid, BidVersion, Role
from bidding.principal import SYSTEM
from bidding.values import to_cents

SUPPLYBID = str(Path(sys.executable).parent / "supplybid")
BENCH_LIMITS = {
    "SUPPLYBID_RATE_LIMIT_PER_KEY": "100/second;6000/minute",
    "SUPPLYBID_RATE_LIMIT_PER_CLIENT": "100/second;6000/minute",
}
"""The bench's rate limits: a closed-loop client may send up to about 30 a second."""
WEIGHTS = {"submit": 15, "amend": 35, "get_bid": 25, "list_bids": 15, "get_round": 10}
"""How often a client picks each kind of request (a submit with every item bid is an amend)."""
STEADY_AFTER_S = 5.0
"""The figures are also given for the requests sent after this (`steady`): the first
seconds hold the start, 50 first requests that are all submits, each key's first lookup
and the pool's first connections (the paced runs' submit tail came from there)."""
TARGET_P95_MS = 200.0
TARGET_P99_MS = 500.0


@dataclass(frozen=True)
class Setup:
    """An open round with its items, and one factory key per client."""

    round_id: str
    item_ids: list[str]
    factory_keys: list[str]


def prepare(engine: Engine, clients: int, item_count: int) -> Setup:
    """Items, factories and their keys, and one open round they are all invited to."""
    with Session(engine, expire_on_commit=False) as session:
        item_ids = [
            items.create_item(
                session=session,
                actor=SYSTEM,
                name=f"Bench item {n}",
                retail_price=Decimal("39.90"),
                handling_cost=Decimal("4.00"),
                salvage_value=Decimal("8.00"),
                demand=[
                    DemandScenario(9000, Decimal("0.25")),
                    DemandScenario(12000, Decimal("0.5")),
                    DemandScenario(16000, Decimal("0.25")),
                ],
            ).id
            for n in range(item_count)
        ]
        round_id = rounds.create_round(
            session=session,
            actor=SYSTEM,
            name="Load bench",
            category="bench",
            period="2026-12",
            currency="CNY",
            margin_floor=Decimal("0.10"),
            capacity_share=Decimal("0.20"),
            budget=None,
        ).id
        for item_id in item_ids:
            rounds.put_round_item(
                session=session,
                actor=SYSTEM,
                round_id=round_id,
                item_id=item_id,
                min_fill=0,
                max_factory_share=None,
            )
        factory_keys = []
        for n in range(clients):
            factory = factories.create_factory(
                session=session,
                actor=SYSTEM,
                name=f"Bench factory {n}",
                monthly_capacity=50_000,
                is_new=False,
            )
            rounds.invite_factory(
                session=session,
                actor=SYSTEM,
                round_id=round_id,
                factory_id=factory.id,
                capacity_share=None,
                guaranteed_units=0,
            )
            made = keys.create_key(
                session=session,
                actor=SYSTEM,
                role=Role.factory,
                factory_id=factory.id,
                name=f"bench {n}",
            )
            factory_keys.append(made.secret)
        rounds.open_round(session=session, actor=SYSTEM, round_id=round_id)
    return Setup(round_id=round_id, item_ids=item_ids, factory_keys=factory_keys)


@dataclass
class Tally:
    """What the clients saw: latencies by kind, statuses, and the bids the server accepted."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    """bid id -> (version, unit cost) of its last accepted answer."""
    seconds: float = 0.0

    steady: dict[str, list[float]] = field(default_factory=dict)
    """Latencies of the requests sent after the first STEADY_AFTER_S seconds, by kind."""
    began: float = 0.0

    def record(self, kind: str, seconds: float, status: str, expected: bool) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        if time.perf_counter() - seconds >= self.began + STEADY_AFTER_S:
            self.steady.setdefault(kind, []).append(seconds)
        self.statuses[status] += 1
        if not expected:
            self.failures[f"{kind} {status}"] += 1

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("5"))


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of latencies in seconds, as milliseconds."""
    if not samples:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    if len(samples) == 1:
        ms = round(samples[0] * 1000, 1)
        return {"p50_ms": ms, "p95_ms": ms, "p99_ms": ms}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


class Client:
    """One factory's ERP: its key, the items it has bid on, and its accepted bids."""

    def __init__(
        self, http: httpx.AsyncClient, setup: Setup, key: str, seed: int, tally: Tally
    ) -> None:
        self.http = http
        self.round_url = f"/v1/rounds/{setup.round_id}"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.unbid = list(setup.item_ids)
        self.random = random.Random(seed)
        self.random.shuffle(self.unbid)
        self.bids: list[str] = []
        self.tally = tally
        self.seed = seed
        self.sent = 0

    async def step(self) -> None:
        """One request of a kind drawn by WEIGHTS."""
        kind = self.random.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if kind == "submit" and not self.unbid:
            kind = "amend"
        if kind != "submit" and not self.bids:
            kind = "submit" if self.unbid else "get_round"
        self.sent += 1
        cost = f"{self.random.randint(12, 30)}.{self.random.randint(0, 99):02d}"
        bid_id = self.random.choice(self.bids) if self.bids else ""
        started = time.perf_counter()
        try:
            if kind == "submit":
                item_id = self.unbid[-1]
                response = await self.http.post(
                    f"{self.round_url}/bids",
                    json={"item": item_id, "unit_cost": cost, "capacity": 5000},
                    headers={**self.headers, "Idempotency-Key": f"load-{self.seed}-{item_id}"},
                )
            elif kind == "amend":
                response = await self.http.put(
                    f"{self.round_url}/bids/{bid_id}",
                    json={"unit_cost": cost, "capacity": 5000},
                    headers=self.headers,
                )
            elif kind == "get_bid":
                response = await self.http.get(
                    f"{self.round_url}/bids/{bid_id}", headers=self.headers
                )
            elif kind == "list_bids":
                response = await self.http.get(f"{self.round_url}/bids", headers=self.headers)
            else:
                response = await self.http.get(self.round_url, headers=self.headers)
        except httpx.HTTPError as exc:
            self.tally.record(kind, time.perf_counter() - started, type(exc).__name__, False)
            return
        elapsed = time.perf_counter() - started
        status = response.status_code
        expected = status == (201 if kind == "submit" else 200)
        self.tally.record(kind, elapsed, str(status), expected)
        if expected and kind in ("submit", "amend"):
            body = response.json()
            self.tally.accepted[body["id"]] = (int(body["version"]), Decimal(body["unit_cost"]))
            if kind == "submit":
                self.unbid.pop()
                self.bids.append(body["id"])


async def drive(
    base_url: str,
    setup: Setup,
    seconds: float,
    think_s: float = 0.0,
    seed: int = 2026,
    synchronized: bool = False,
) -> Tally:
    """Every client loops for `seconds` (each request started before then is awaited).

    Paced (`think_s`), each client starts after a pause drawn uniformly within one mean
    pause, as a fleet of ERPs does, unless `synchronized`: then all 50 send their first
    request (a submit: none has a bid yet) in the same millisecond. That burst, 50 submits
    of 3 writes each at once, was the paced run's submit tail (the 50 slowest submits of
    the run were exactly the 50 first, waiting for one of 8 places: bench.traced_server).
    """
    tally = Tally()
    clients = len(setup.factory_keys)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        started = time.perf_counter()
        tally.began = started
        deadline = started + seconds

        async def loop(client: Client) -> None:
            if think_s and not synchronized:
                await asyncio.sleep(client.random.uniform(0, think_s))
            while time.perf_counter() < deadline:
                await client.step()
                if think_s:
                    await asyncio.sleep(client.random.expovariate(1 / think_s))

        everyone = [
            Client(http, setup, key, seed + n, tally) for n, key in enumerate(setup.factory_keys)
        ]
        await asyncio.gather(*(loop(c) for c in everyone))
        tally.seconds = time.perf_counter() - started
    return tally


def lost_bids(engine: Engine, accepted: dict[str, tuple[int, Decimal]]) -> dict[str, int]:
    """Accepted bids not in the database, or not at their last accepted version and cost."""
    stored: dict[str, tuple[int, int]] = {}
    with Session(engine) as session:
        ids = list(accepted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = session.exec(
                select(Bid.id, Bid.version, BidVersion.unit_cost_cents)
                .join(
                    BidVersion,
                    (col(BidVersion.bid_id) == col(Bid.id))
                    & (col(BidVersion.version) == col(Bid.version)),
                )
                .where(col(Bid.id).in_(chunk))
            ).all()
            stored.update({bid_id: (version, cents) for bid_id, version, cents in rows})
    missing = [b for b in accepted if b not in stored]
    behind = [
        b
        for b, (version, cost) in accepted.items()
        if b in stored and stored[b] != (version, to_cents(cost))
    ]
    return {"accepted_bids": len(accepted), "lost": len(missing), "not_as_accepted": len(behind)}


def summary(tally: Tally) -> dict[str, Any]:
    """The figures of one run of the clients."""
    every = [s for samples in tally.latencies.values() for s in samples]
    return {
        "requests": tally.requests,
        "seconds": round(tally.seconds, 1),
        "requests_per_s": round(tally.requests / tally.seconds, 1) if tally.seconds else 0.0,
        **percentiles_ms(every),
        "failures": sum(tally.failures.values()),
        "server_errors": tally.server_errors,
        "statuses": dict(sorted(tally.statuses.items())),
        "failed": dict(tally.failures),
        "by_kind": {
            kind: {"count": len(samples), **percentiles_ms(samples)}
            for kind, samples in sorted(tally.latencies.items())
        },
        "steady": {
            "after_s": STEADY_AFTER_S,
            **percentiles_ms([s for samples in tally.steady.values() for s in samples]),
            "by_kind": {
                kind: {"count": len(samples), **percentiles_ms(samples)}
                for kind, samples in sorted(tally.steady.items())
            },
        },
    }


# Burst isolation (issue 13, point 3): one key bursting, another's p95 against its idle p95.

BURST_CONNECTIONS = 100
VICTIM_INTERVAL_S = 0.05


async def _paced_reads(
    http: httpx.AsyncClient, url: str, key: str, seconds: float, stop: asyncio.Event | None = None
) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        response = await http.get(url, headers={"Authorization": f"Bearer {key}"})
        latencies.append(time.perf_counter() - started)
        statuses[str(response.status_code)] += 1
        await asyncio.sleep(VICTIM_INTERVAL_S)
    if stop is not None:
        stop.set()
    return latencies, statuses


async def burst_isolation(base_url: str, setup: Setup, seconds: float) -> dict[str, Any]:
    """The victim's p95 alone, then while another key bursts with 100 connections."""
    victim, burster = setup.factory_keys[0], setup.factory_keys[1]
    url = f"/v1/rounds/{setup.round_id}"
    limits = httpx.Limits(max_connections=BURST_CONNECTIONS + 10)
    async with (
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http,
        httpx.AsyncClient(base_url=base_url, timeout=30) as alone,
    ):
        for _ in range(20):  # warm up: connections, caches, the first queries
            await alone.get(url, headers={"Authorization": f"Bearer {victim}"})
        idle, _ = await _paced_reads(alone, url, victim, seconds)
        stop = asyncio.Event()
        burst_statuses: Counter[str] = Counter()

        async def burst() -> None:
            while not stop.is_set():
                try:
                    response = await http.get(url, headers={"Authorization": f"Bearer {burster}"})
                    burst_statuses[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    burst_statuses[type(exc).__name__] += 1

        bursters = [asyncio.create_task(burst()) for _ in range(BURST_CONNECTIONS)]
        await asyncio.sleep(1.0)  # the burst is under way
        loaded, victim_statuses = await _paced_reads(alone, url, victim, seconds, stop)
        await asyncio.gather(*bursters)
    idle_p95 = percentiles_ms(idle)["p95_ms"]
    loaded_p95 = percentiles_ms(loaded)["p95_ms"]
    bound = 3 * idle_p95 + 50
    return {
        "victim_idle": {"count": len(idle), **percentiles_ms(idle)},
        "victim_during_burst": {"count": len(loaded), **percentiles_ms(loaded)},
        "victim_statuses": dict(victim_statuses),
        "burst_statuses": dict(sorted(burst_statuses.items())),
        "burst_requests_per_s": round(sum(burst_statuses.values()) / (seconds + 1.0), 1),
        "bound_ms": round(bound, 1),
        "ratio_to_idle": round(loaded_p95 / idle_p95, 2) if idle_p95 else None,
        "met": loaded_p95 <= bound,
    }


# The served app.


def _port(ports: str) -> int:
    # A free port of the range, drawn at random: the first free one was the same for every
    # bench and server of the shared machine starting at once, and a `--workers` server
    # binds its port some seconds before it listens on it. Two runs ended up on one port
    # (one measured another helper's server; in one, 412 of its requests reached it).
    first, _, last = ports.partition("-")
    candidates = list(range(int(first), int(last or first) + 1))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.send_signal(signal.SIGINT if "bench.profiled_server" in args else signal.SIGTERM)
            try:
                child.wait(120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@dataclass(frozen=True)
class Server:
    """A served app: where it listens, and its process (to read the CPU time it used)."""

    base_url: str
    pid: int

    def cpu_s(self) -> float:
        """User and system CPU seconds the server has used so far: its process and, with
        `--workers`, its worker processes (children, alive)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if stat.parent.name == str(self.pid) or fields[1] == str(self.pid):
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def served(
    database_url: str,
    ports: str,
    workdir: Path,
    profile: Path | None = None,
    limits: dict[str, str] = BENCH_LIMITS,
    workers: int = 1,
    trace: Path | None = None,
) -> Iterator[Server]:
    """`supplybid serve` (or the same app under pyinstrument) and, on PostgreSQL, a worker."""
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    port = _port(ports)
    env = {**os.environ, "SUPPLYBID_DATABASE_URL": database_url, **limits}
    env.setdefault("SUPPLYBID_AUDIT_KEY", secrets.token_hex(32))  # serve and worker share it
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if profile is not None:
        command = [sys.executable, "-m", "bench.profiled_server", *where, "--out", str(profile)]
    elif trace is not None:
        command = [sys.executable, "-m", "bench.traced_server", *where, "--out", str(trace)]
    else:
        command = [SUPPLYBID, "serve", *where, "--workers", str(workers)]
    base_url = f"http://127.0.0.1:{port}"
    with _process(command, env, workdir / "server.log") as server:
        worker = _process([SUPPLYBID, "worker"], env, workdir / "worker.log") if postgres else None
        with worker if worker is not None else _nothing():
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise RuntimeError((workdir / "server.log").read_text()[-2000:])
                try:
                    # Ours only once it says it listens there: another process may hold the
                    # port (other benches and tests share the range), and its /healthz
                    # would answer as well (one run measured another helper's server).
                    if listening(workdir / "server.log", base_url) and (
                        httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
                    ):
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not come up")
                time.sleep(0.2)
            yield Server(base_url, server.pid)


def listening(log: Path, base_url: str) -> bool:
    """Whether uvicorn's log says it bound `base_url` (not that the bind failed)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return f"running on {base_url} " in text and "error while attempting to bind" not in text


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def database(database_url: str | None, workdir: Path) -> tuple[str, Engine]:
    """The bench's database, migrated (and, on PostgreSQL, with the job queue's schema)."""
    url = database_url or f"sqlite:///{workdir / 'load.db'}"
    migrations.upgrade(url)
    engine = make_engine(url, pool_size=2)
    if engine.dialect.name == "postgresql":
        apply_procrastinate_schema(engine)
    return url, engine


def main() -> None:
    """Parse the arguments, run, print the figures as JSON (and save them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause per client")
    parser.add_argument(
        "--synchronized-start",
        action="store_true",
        help="paced: every client's first request at once (by default spread over a pause)",
    )
    parser.add_argument("--ports", default=os.environ.get("SUPPLYBID_BENCH_PORTS", "8600-8699"))
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument output stem")
    parser.add_argument(
        "--trace", type=Path, default=None, help="each request's phases (bench.traced_server)"
    )
    parser.add_argument("--burst", action="store_true", help="measure burst isolation instead")
    parser.add_argument("--workers", type=int, default=1, help="supplybid serve --workers")
    parser.add_argument(
        "--configured-limits",
        action="store_true",
        help="the rate limits as the environment configures them, not the bench's",
    )
    parser.add_argument("--out", type=Path, default=Path("var/bench/load.json"))
    args = parser.parse_args()
    if args.database_url and make_url(args.database_url).get_backend_name() == "postgresql":
        # A fresh schema of the bench's own, so runs do not see each other's rows.
        args.database_url = _fresh_schema(args.database_url)
    with tempfile.TemporaryDirectory(prefix="supplybid-load-") as tmp:
        workdir = Path(tmp)
        url, engine = database(args.database_url, workdir)
        setup = prepare(engine, args.clients, args.items)
        figures: dict[str, Any] = {
            "database": engine.dialect.name,
            "clients": args.clients,
            "items": args.items,
            "think_ms": args.think_ms,
            "start": "synchronized"
            if args.synchronized_start or not args.think_ms
            else "spread over one mean pause",
            "workers": args.workers,
            "rate_limits": "as configured" if args.configured_limits else BENCH_LIMITS,
        }
        limits = {} if args.configured_limits else BENCH_LIMITS
        with served(
            url, args.ports, workdir, args.profile, limits, args.workers, args.trace
        ) as server:
            figures["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
            cpu_before, client_before = server.cpu_s(), time.process_time()
            if args.burst:
                figures |= asyncio.run(burst_isolation(server.base_url, setup, args.seconds))
            else:
                tally = asyncio.run(
                    drive(
                        server.base_url,
                        setup,
                        args.seconds,
                        think_s=args.think_ms / 1000,
                        synchronized=args.synchronized_start,
                    )
                )
                figures |= summary(tally)
                figures["server_cpu_ms_per_request"] = round(
                    (server.cpu_s() - cpu_before) * 1000 / max(tally.requests, 1), 2
                )
                figures["client_cpu_ms_per_request"] = round(
                    (time.process_time() - client_before) * 1000 / max(tally.requests, 1), 2
                )
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        if not args.burst:
            # Whether this server answered the run: uvicorn logs each request it serves.
            # One run measured a server that was not its own (no request in its log, its
            # CPU 0.05 ms a request, 17,032 submits failed): such a run says nothing.
            logged = (workdir / "server.log").read_text(errors="replace").count(' HTTP/1.1" ')
            figures["requests_in_server_log"] = logged
            figures["measured_this_server"] = logged >= tally.requests // 2
            figures |= lost_bids(engine, tally.accepted)
            figures["targets_met"] = (
                figures["measured_this_server"]
                and figures["p95_ms"] <= TARGET_P95_MS
                and figures["p99_ms"] <= TARGET_P99_MS
                and figures["failures"] == 0
                and figures["lost"] == 0
                and figures["not_as_accepted"] == 0
            )
        engine.dispose()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if figures.get("failures") or figures.get("server_errors"):
            kept = args.out.with_suffix(".server.log")  # what the server said, for the why
            kept.write_bytes((workdir / "server.log").read_bytes())
            figures["server_log"] = str(kept)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def _fresh_schema(database_url: str) -> str:
    schema = f"load_{int(time.time())}_{os.getpid()}"
    admin = make_engine(database_url, pool_size=1)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
