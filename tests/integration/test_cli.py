"""The service commands on a real database: migrate, seed the demo, make keys, verify."""

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bidding.db import get_engine
from bidding.settings import get_settings
from cli.main import app


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The command line on the test's (empty) database."""
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", database_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_make_run_steps_migrate_and_seed_a_demo_round_with_a_key_per_role(cli: CliRunner) -> None:
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli.invoke(app, ["demo", "seed"])
    assert first.exit_code == 0, first.output
    for role in ("admin", "manager", "finance", "factory"):
        assert f"  {role} " in first.output
    assert "http://127.0.0.1:8000/docs" in first.output
    again = cli.invoke(app, ["demo", "seed"])
    assert again.output.splitlines()[0] == first.output.splitlines()[0]  # the same round
    verified = cli.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0
    assert "audit chain ok" in verified.output
    assert cli.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
