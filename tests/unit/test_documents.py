"""bidding.documents: a stored text parsed once per process, and what a writer keeps is
what parsing its text gives (so a kept problem or result is the one a reader would parse)."""

from bidding.documents import KEPT, KEPT_CHARS, _Parsed, problem_of, result_of
from solver.problem import parse_problem
from solver.result import parse_result
from solver.solve import SolveOptions, solve
from tests.unit.solver.builders import random_problem_data


def test_a_text_is_parsed_once_and_the_last_few_are_kept() -> None:
    texts = [
        parse_problem(random_problem_data(s, milp=False, bids=8)).to_json() for s in range(KEPT + 1)
    ]
    first = problem_of(texts[0])
    assert problem_of(texts[0]) is first
    assert first == parse_problem(texts[0])
    for text in texts[1 : KEPT + 1]:
        problem_of(text)
    assert problem_of(texts[0]) is not first  # pushed out, parsed again
    assert problem_of(texts[0]) == first


def test_what_a_solve_keeps_is_what_its_written_texts_parse_to() -> None:
    for seed in range(4):
        problem = parse_problem(random_problem_data(seed, milp=seed % 2 == 0, bids=15))
        text = problem.to_json()
        assert parse_problem(text) == problem
        result = solve(problem, SolveOptions())
        written = result.to_json()
        again = parse_result(written)
        assert again == result
        assert again.to_json() == written
        result_of.keep(written, result)
        assert result_of(written) is result


def test_the_texts_kept_stay_within_their_characters_most_recent_kept() -> None:
    parses: list[str] = []

    def parse(text: str) -> str:
        parses.append(text)
        return text.upper()

    parsed = _Parsed(parse, entries=10, chars=100)
    texts = [f"{n}" * 30 for n in range(5)]  # 30 characters each: three fit in 100
    for text in texts:
        assert parsed(text) == text.upper()
    assert parsed.kept() == (3, 90)
    parses.clear()
    for text in reversed(texts):  # the last three are kept; the first two parsed again
        parsed(text)
    assert parses == [texts[1], texts[0]]
    assert parsed.kept() == (3, 90)
    long = "x" * 101  # longer than the whole budget: parsed, not kept, nothing pushed out
    parses.clear()
    assert parsed(long) == long.upper()
    assert parsed(long) == long.upper()
    assert parses == [long, long]
    assert parsed.kept() == (3, 90)
    parsed.keep(texts[0], "kept twice")  # the same text again counts once
    assert parsed.kept() == (3, 90)
    assert parsed(texts[0]) == "kept twice"


def test_the_entries_bound_holds_too_and_the_service_caches_are_bounded() -> None:
    parsed = _Parsed(str.upper, entries=2, chars=10**6)
    for n in range(5):
        parsed(f"text {n}")
    assert parsed.kept() == (2, 12)
    for n in range(3 * KEPT):
        problem_of(parse_problem(random_problem_data(n, milp=False, bids=4)).to_json())
    entries, chars = problem_of.kept()
    assert entries == KEPT
    assert chars <= KEPT_CHARS
