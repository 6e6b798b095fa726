"""`supplybid solve`, `verify` and `generate`: exit codes, messages, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from solver.problem import parse_problem
from solver.result import parse_result
from tests.unit.solver.test_verify import correct_rows, make_result, problem_data

runner = CliRunner()


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem_data()))
    return path


def test_solve_writes_a_result_that_verify_accepts(problem_file: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    solved = runner.invoke(app, ["solve", str(problem_file), "-o", str(result_file)])
    assert solved.exit_code == 0, solved.output
    result = parse_result(result_file.read_text())
    assert result.status == "optimal"
    assert result.objective == 25_900  # the hand-solved round of test_verify
    assert {r.bid: r.units for r in result.allocations} == {"B1": 1500, "B2": 500, "B3": 500}
    assert result.timings.parse_s > 0
    checked = runner.invoke(app, ["verify", str(problem_file), str(result_file)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("OK: round R-test")


def test_solve_without_output_prints_the_result(problem_file: Path) -> None:
    solved = runner.invoke(app, ["solve", str(problem_file), "--time-limit", "30"])
    assert solved.exit_code == 0, solved.output
    assert parse_result(solved.stdout).round == "R-test"


def test_an_infeasible_round_exits_1_with_a_result(tmp_path: Path) -> None:
    data = problem_data()
    data["items"][1]["min_fill"] = 5000  # only B3's 600 units can fill I2
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    solved = runner.invoke(app, ["solve", str(path)])
    assert solved.exit_code == 1
    assert parse_result(solved.stdout).status == "infeasible"
    assert "infeasible" in solved.stderr
    result_file = tmp_path / "result.json"
    result_file.write_text(solved.stdout)
    checked = runner.invoke(app, ["verify", str(path), str(result_file)])
    # no units awarded, but no allocation either: not verified (exit 1)
    assert checked.exit_code == 1, checked.output
    assert "no_allocation" in checked.output


def test_verify_lists_findings_and_exits_1(problem_file: Path, tmp_path: Path) -> None:
    problem = parse_problem(problem_file.read_text())
    rows = correct_rows()
    rows[0] = rows[0].model_copy(update={"units": 1600})
    result_file = tmp_path / "result.json"
    result_file.write_text(make_result(problem, rows).to_json())
    checked = runner.invoke(app, ["verify", str(problem_file), str(result_file)])
    assert checked.exit_code == 1
    assert "bid_capacity_exceeded (bid B1, factory F1, item I1)" in checked.stdout


@pytest.mark.parametrize("command", ["solve", "verify"])
def test_a_missing_problem_file_exits_2_without_a_traceback(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    args = [command, str(missing)] + ([str(missing)] if command == "verify" else [])
    done = runner.invoke(app, args)
    assert done.exit_code == 2
    assert "cannot read the problem file" in done.stderr
    assert "Traceback" not in done.output


@pytest.mark.parametrize("content", [b'{"round": ', b'{"round": {"id": "\xff"}}'])
def test_invalid_json_exits_2(content: bytes, tmp_path: Path) -> None:
    """Cut short, or not UTF-8: refused in words, never a traceback."""
    path = tmp_path / "problem.json"
    path.write_bytes(content)
    done = runner.invoke(app, ["solve", str(path)])
    assert done.exit_code == 2
    assert "not valid JSON" in done.stderr
    assert "Traceback" not in done.output


def test_an_invalid_problem_names_the_field_and_the_id(tmp_path: Path) -> None:
    data = problem_data()
    data["bids"][1]["unit_cost"] = "-1"
    data["bids"][2]["factory"] = "F404"
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    done = runner.invoke(app, ["solve", str(path)])
    assert done.exit_code == 2
    assert "bids[B2].unit_cost" in done.stderr
    assert done.exception is None or isinstance(done.exception, SystemExit)


def test_an_unknown_factory_is_named(tmp_path: Path) -> None:
    data = problem_data()
    data["bids"][2]["factory"] = "F404"
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    done = runner.invoke(app, ["verify", str(path), str(path)])
    assert done.exit_code == 2
    assert "bids[B3].factory" in done.stderr
    assert "F404" in done.stderr


def test_a_malformed_result_file_exits_2(problem_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"round": "R-test", "status": "great"}))
    done = runner.invoke(app, ["verify", str(problem_file), str(path)])
    assert done.exit_code == 2
    assert "invalid result file" in done.stderr
    assert "status" in done.stderr


def test_generate_writes_a_valid_problem(tmp_path: Path) -> None:
    path = tmp_path / "gen.json"
    args = ["generate", "--factories", "6", "--items", "5", "--bids-per-factory", "3"]
    done = runner.invoke(app, [*args, "--scenarios", "4", "--seed", "9", "--milp", "-o", str(path)])
    assert done.exit_code == 0, done.output
    problem = parse_problem(path.read_bytes())
    assert len(problem.bids) == 18
    assert problem.has_binaries


def test_generate_to_stdout_is_deterministic() -> None:
    args = ["generate", "--factories", "4", "--items", "4", "--bids-per-factory", "2"]
    first = runner.invoke(app, [*args, "--seed", "1"])
    second = runner.invoke(app, [*args, "--seed", "1"])
    assert first.exit_code == 0
    assert first.stdout == second.stdout
    assert len(parse_problem(first.stdout).bids) == 8


def test_generate_refuses_more_bids_per_factory_than_items() -> None:
    done = runner.invoke(app, ["generate", "--items", "3", "--bids-per-factory", "4"])
    assert done.exit_code == 2
    assert "--bids-per-factory" in done.stderr


def test_help_explains_each_command() -> None:
    for command in ("solve", "verify", "generate"):
        done = runner.invoke(app, [command, "--help"])
        assert done.exit_code == 0
        assert "PROBLEM.json" in done.stdout or "--factories" in done.stdout


def test_solve_prints_a_one_line_summary_on_stderr(problem_file: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    solved = runner.invoke(app, ["solve", str(problem_file), "-o", str(result_file)])
    assert solved.exit_code == 0, solved.output
    lines = solved.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("round R-test: optimal, objective 25900.00 (gap 0.000643), ")
    assert "2500 units to 3 of 3 bids, " in lines[0]
    assert lines[0].endswith(" s")


def test_verify_says_a_result_was_solved_under_another_allocator_version(
    problem_file: Path, tmp_path: Path
) -> None:
    result_file = tmp_path / "result.json"
    runner.invoke(app, ["solve", str(problem_file), "-o", str(result_file)])
    data = json.loads(result_file.read_text())
    del data["solver"]["options"]["allocator_version"]  # as results solved before versions
    result_file.write_text(json.dumps(data))
    checked = runner.invoke(app, ["verify", str(problem_file), str(result_file)])
    assert checked.exit_code == 0, checked.output
    assert "solved under allocator version 1; this replay runs version 4" in checked.stderr
    assert "whole units proven" in checked.stderr
