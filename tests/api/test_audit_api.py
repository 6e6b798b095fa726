"""The audit routes and `supplybid audit verify`: a tampered event is reported by both."""

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bidding.db import get_engine
from bidding.settings import get_settings
from cli.main import app as cli
from tests.conftest import World


@pytest.fixture
def cli_on(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The command line, configured for the world's database."""
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", world.engine.url.render_as_string(False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_finance_pages_through_the_audit_events(world: World) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = world.client.get("/v1/audit/events", params=params, headers=world.headers("finance"))
        assert page.status_code == 200
        seen += [e["seq"] for e in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, len(seen) + 1))
    assert len(seen) > 4


def test_a_tampered_event_is_reported_by_the_api_and_the_command_line(
    world: World, cli_on: CliRunner
) -> None:
    verified = world.client.get("/v1/audit/verify", headers=world.headers("admin")).json()
    assert verified["ok"] is True
    assert cli_on.invoke(cli, ["audit", "verify"]).exit_code == 0
    with world.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor_role = 'admin' WHERE seq = 3"))
    report = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert (report["ok"], report["first_broken_seq"]) == (False, 3)
    result = cli_on.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 3" in result.output


def test_keys_create_prints_the_key_alone_on_the_last_line(world: World, cli_on: CliRunner) -> None:
    result = cli_on.invoke(cli, ["keys", "create", "--role", "finance", "--name", "ops"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sbk_")
    assert world.client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {key}"}).json()[
        "ok"
    ]
    refused = cli_on.invoke(cli, ["keys", "create", "--role", "factory"])
    assert refused.exit_code == 2
