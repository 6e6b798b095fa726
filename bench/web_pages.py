"""Server time of the web workspace's heaviest pages on a round of 10,000 (or 100,000) bids.

The round is written to a SQLite file and closed as bench.service_round does; the app runs
in-process (its embedded worker solves) and each page is asked for through TestClient, so
the time is the server's: routing, session lookup, domain reads, charts, templates. The
reference in the same run is the API's JSON answer for the same allocation
(`GET /v1/allocations/{id}`), so the page figures are also given as ratios to it.

    python -m bench.web_pages --bids 10000
    python -m bench.web_pages --bids 10000 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

import migrations
from api.app import create_app
from bench.service_round import FACTORIES, build_round
from bidding import keys
from bidding.models import Role
from bidding.principal import SYSTEM
from bidding.settings import Settings
from solver.generate import generate_problem
from solver.problem import parse_problem

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _timed(
    client: TestClient, path: str, repeat: int, headers: dict[str, str] | None = None
) -> float:
    """Median seconds of `repeat` GETs (after one warm-up), each checked to be a 200."""
    times = []
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        answer = client.get(path, headers=headers)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        if attempt:
            times.append(elapsed)
    return statistics.median(times)


def _solve(client: TestClient, key: str, round_id: str, body: dict[str, Any]) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    made = client.post(f"/v1/rounds/{round_id}/allocations", json=body, headers=headers)
    assert made.status_code == 202, made.text
    allocation_id = str(made.json()["id"])
    deadline = time.monotonic() + 1800
    while True:
        status = client.get(f"/v1/allocations/{allocation_id}", headers=headers).json()["status"]
        if status == "done":
            return allocation_id
        assert status != "failed", f"{allocation_id} failed"
        assert time.monotonic() < deadline, "the solve took over 30 minutes"
        time.sleep(0.5)


def run(bids: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Build, solve, what-if, then time the pages; the figures as a dict."""
    url = f"sqlite:///{workdir / f'web-{bids}.db'}"
    document = generate_problem(
        factories=FACTORIES,
        items=max(bids // 40, 1),
        bids_per_factory=max(bids // FACTORIES, 1),
        scenarios=10,
        seed=2026,
    )
    problem = parse_problem(document)
    migrations.upgrade(url)
    app = create_app(Settings(database_url=url, job_queue="embedded"))
    round_id = build_round(app.state.engine, problem)
    with Session(app.state.engine) as session:
        manager = keys.create_key(
            session=session, actor=SYSTEM, role=Role.manager, name="bench"
        ).secret
    figures: dict[str, Any] = {"bids": len(problem.bids), "items": len(problem.items)}
    with TestClient(app) as client:
        started = time.perf_counter()
        base = _solve(client, manager, round_id, {})
        figures["solve_s"] = round(time.perf_counter() - started, 1)
        other = _solve(client, manager, round_id, {"exclude_factories": [problem.factories[0].id]})
        form = client.get("/login")
        token = CSRF.search(form.text)
        assert token
        client.post(
            "/login", data={"api_key": manager, "csrf_token": token.group(1), "next": "/rounds"}
        )
        reference = _timed(
            client, f"/v1/allocations/{base}", repeat, {"Authorization": f"Bearer {manager}"}
        )
        pages = {
            "round (tabulation, first item)": f"/rounds/{round_id}",
            "allocation": f"/allocations/{base}",
            "allocation, bids page 50": f"/allocations/{base}?page=50",
            "comparison": f"/allocations/{base}/compare?other={other}",
        }
        figures["reference_api_json_s"] = round(reference, 4)
        figures["pages"] = {}
        for name, path in pages.items():
            seconds = _timed(client, path, repeat)
            size = len(client.get(path).content)
            figures["pages"][name] = {
                "seconds": round(seconds, 4),
                "ratio_to_api_json": round(seconds / reference, 2),
                "bytes": size,
            }
    app.state.engine.dispose()
    return figures


def main() -> None:
    """Run the sizes asked for and print a markdown table; save var/bench/web_pages.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, nargs="+", default=[10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for bids in args.bids:
            results.append(run(bids, args.repeat, Path(tmp)))
    print("| bids | page | server time (median) | ratio to the API's JSON | page size |")
    print("|---|---|---|---|---|")
    for figures in results:
        print(
            f"| {figures['bids']:,} | API JSON of the allocation (reference) | "
            f"{figures['reference_api_json_s'] * 1000:.0f} ms | 1.00 | |"
        )
        for name, page in figures["pages"].items():
            print(
                f"| {figures['bids']:,} | {name} | {page['seconds'] * 1000:.0f} ms | "
                f"{page['ratio_to_api_json']:.2f} | {page['bytes'] / 1024:.0f} KiB |"
            )
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "web_pages.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
