"""The service commands on a real database: migrate, seed the demo, make keys, verify."""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from bidding.db import get_engine
from bidding.settings import get_settings
from cli.main import app, main


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


def test_make_run_steps_migrate_and_seed_a_demo_round_with_a_key_per_role(
    cli: CliRunner, tmp_path: Path
) -> None:
    keys_file = tmp_path / "var" / "demo-keys.txt"
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli.invoke(app, ["demo", "seed", "--keys-file", str(keys_file)])
    assert first.exit_code == 0, first.output
    for role in ("admin", "manager", "finance", "factory"):
        assert f"  {role} " in first.output
    assert "http://127.0.0.1:8000/docs" in first.output
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    kept = keys_file.read_text()
    printed = dict(line.split()[:2] for line in first.output.splitlines() if "sbk_" in line[:20])
    assert sorted(printed) == ["admin", "factory", "finance", "manager"]
    for role, key in printed.items():
        assert f"{role.upper()}_KEY={key}\n" in kept
    again = cli.invoke(app, ["demo", "seed", "--keys-file", str(keys_file)])
    assert again.exit_code == 0, again.output
    round_id = first.output.split()[2]
    assert f"Demo round {round_id} was seeded before; its keys are in {keys_file}" in again.output
    assert "sbk_" not in again.output
    assert keys_file.read_text() == kept
    verified = cli.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0
    assert "audit chain ok" in verified.output
    assert cli.invoke(app, ["db", "downgrade", "base"]).exit_code == 0


def test_a_command_where_no_database_is_refuses_in_one_sentence_and_writes_no_file(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", "sqlite:///./var/supplybid.db")
    get_settings.cache_clear()
    get_engine.cache_clear()
    for command in (["keys", "create", "--role", "admin"], ["demo", "seed"], ["audit", "verify"]):
        answer = cli.invoke(app, command)
        assert answer.exit_code == 2, answer.output
        assert "no database at" in answer.output
        assert "supplybid db upgrade" in answer.output
        assert "Traceback" not in answer.output
    assert list(tmp_path.iterdir()) == []


def test_an_unmigrated_database_is_one_sentence_and_exit_code_2(cli: CliRunner) -> None:
    with get_engine().connect():
        pass  # the database exists (a SQLite file is made), with no table in it
    answer = cli.invoke(app, ["keys", "create", "--role", "admin"])
    assert answer.exit_code == 2
    assert "is not set up: run `supplybid db upgrade`" in answer.output
    assert cli.invoke(app, ["db", "upgrade", "0001"]).exit_code == 0
    behind = cli.invoke(app, ["keys", "create", "--role", "admin"])
    assert behind.exit_code == 2
    assert "is at revision 0001" in behind.output


def test_an_xlsx_report_is_not_written_to_a_terminal(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    monkeypatch.setattr("cli.report_commands._stdout_is_terminal", lambda: True)
    answer = cli.invoke(app, ["report", "takeover", "--format", "xlsx"])
    assert answer.exit_code == 2
    assert "give -o FILE" in answer.output
    assert answer.stdout_bytes.count(b"PK") == 0


def test_a_database_fault_past_the_checks_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr("cli.main.app", failing)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "refused: the database answered: server closed the connection\n"
    )


def test_a_key_named_on_the_command_line_follows_the_apis_name_rules(cli: CliRunner) -> None:
    refused = cli.invoke(app, ["keys", "create", "--role", "admin", "--name", "ops\u202e"])
    assert refused.exit_code == 2
    assert "bidi control character (U+202E)" in refused.output


@pytest.mark.parametrize(
    ("url", "queue"),
    [
        ("postgresql+psycopg://app@127.0.0.1:1/none", "embedded"),
        ("sqlite:///file:shared?mode=memory&uri=true", "auto"),
    ],
)
def test_several_server_processes_without_a_jobs_lock_are_refused(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str, queue: str
) -> None:
    """Each process would run the embedded queue and requeue the others' running solves."""
    with monkeypatch.context() as settings:
        settings.setenv("SUPPLYBID_DATABASE_URL", url)
        settings.setenv("SUPPLYBID_JOB_QUEUE", queue)
        get_settings.cache_clear()
        answer = cli.invoke(app, ["serve", "--workers", "2"])
    get_settings.cache_clear()
    get_engine.cache_clear()
    assert answer.exit_code == 2, answer.output
    assert "--workers above 1 needs the jobs lock" in answer.output
    assert "Traceback" not in answer.output
