"""The server and workers refuse to start without an audit key, in one sentence (issue 15).

Before, a server started without the key answered its first write on a keyed chain with
a 500, and an empty key was a traceback. `make run` gets a development key made once.
"""

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bidding import audit
from bidding.db import get_engine
from bidding.settings import get_settings
from cli.main import app, main
from tests.factories import an_item

KEY = "finance-holds-this-key-0123456789abcdef"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The command line on the test's migrated database, with no audit key in the environment."""
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", database_url)
    monkeypatch.delenv("SUPPLYBID_AUDIT_KEY", raising=False)
    monkeypatch.delenv("SUPPLYBID_AUDIT_KEY_FILE", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield runner
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What would have started: uvicorn and the worker are replaced by recorders."""
    calls: list[str] = []

    def serve(*_args: Any, **_kwargs: Any) -> None:
        calls.append("server")

    def work(*_args: Any, **_kwargs: Any) -> None:
        calls.append("worker")

    monkeypatch.setattr("uvicorn.run", serve)
    monkeypatch.setattr("bidding.jobs.run_worker", work)
    return calls


def _with_key(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"SUPPLYBID_{name.upper()}", value)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({}, "refused: no audit key"),
        ({"audit_key": ""}, "refused: no audit key"),
        ({"audit_key": "too short"}, "the audit key has 9 characters, too short"),
        ({"audit_key_file": "/nonexistent/audit-key"}, "cannot be read (No such file"),
    ],
)
def test_the_server_and_the_worker_refuse_to_start_without_a_fit_key_in_one_sentence(
    cli: CliRunner,
    started: list[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    sentence: str,
) -> None:
    _with_key(monkeypatch, job_queue="procrastinate", **env)
    for command in (["serve", "--port", "8149"], ["worker"]):
        answer = cli.invoke(app, command)
        assert answer.exit_code == 2, answer.output
        assert sentence in answer.output
        assert "SUPPLYBID_AUDIT_KEY" in answer.output
        assert "Traceback" not in answer.output
        assert len(answer.output.strip().splitlines()) == 1
    assert started == []


def test_the_server_starts_with_a_key_or_a_key_file(
    cli: CliRunner, started: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _with_key(monkeypatch, audit_key=KEY)
    assert cli.invoke(app, ["serve", "--port", "8149"]).exit_code == 0
    key_file = tmp_path / "audit-key"
    key_file.write_text(KEY + "\n")
    monkeypatch.delenv("SUPPLYBID_AUDIT_KEY")
    _with_key(monkeypatch, audit_key_file=str(key_file))
    assert cli.invoke(app, ["serve", "--port", "8149"]).exit_code == 0
    assert started == ["server", "server"]
    assert get_settings().audit_secret() == KEY.encode()


def test_make_runs_development_key_is_made_once_with_mode_0600(
    cli: CliRunner, tmp_path: Path
) -> None:
    key_file = tmp_path / "var" / "audit-key"
    made = cli.invoke(app, ["audit", "new-key", str(key_file)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key.strip()) == 64
    again = cli.invoke(app, ["audit", "new-key", str(key_file)])
    assert (again.exit_code, key_file.read_text()) == (0, key)
    assert "kept" in again.output


def test_a_command_writing_to_a_keyed_chain_without_the_key_is_one_sentence(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = get_engine()
    audit.configure_chain(engine, audit.ChainSettings(key=KEY.encode()))
    with Session(engine) as session:
        an_item(session)  # the chain is keyed from here on
    audit.configure_chain(engine, audit.ChainSettings(key=None))
    monkeypatch.setattr("sys.argv", ["supplybid", "keys", "create", "--role", "admin"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("refused: the audit chain is keyed: set SUPPLYBID_AUDIT_KEY")
    assert len(err.strip().splitlines()) == 1
