"""A short run of the load bench (bench/load.py) in CI: a handful of clients for a few
seconds against a real server, on SQLite and PostgreSQL. Counts only, never a time:
no 5xx, no failure, and every bid the server accepted is in the database as accepted.
"""

import asyncio

from sqlalchemy.engine import Engine

from bench.load import BENCH_LIMITS, drive, lost_bids, prepare, summary
from tests.conftest import report_figures
from tests.served import serve

CLIENTS = 6
SECONDS = 4.0


def test_a_short_load_run_loses_no_bid_and_answers_no_5xx(
    database_url: str, engine: Engine
) -> None:
    setup = prepare(engine, CLIENTS, item_count=8)
    limits = {name.removeprefix("SUPPLYBID_").lower(): v for name, v in BENCH_LIMITS.items()}
    with serve(database_url, **limits) as served:
        tally = asyncio.run(drive(served.base_url, setup, SECONDS))
    figures = summary(tally) | lost_bids(engine, tally.accepted)
    report_figures(f"load-short-{engine.dialect.name}", figures)
    assert figures["server_errors"] == 0, figures
    assert figures["failures"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["not_as_accepted"] == 0, figures
    # The run did write: bids submitted by every client and amended.
    assert figures["by_kind"]["submit"]["count"] >= CLIENTS, figures
    assert figures["by_kind"].get("amend", {}).get("count", 0) > 0, figures
    assert figures["accepted_bids"] >= CLIENTS, figures
