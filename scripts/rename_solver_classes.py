"""Rename the solver's exchange-format classes that share a name with a service class.

Kept for branches written before the rename (issue 11): run it over their Python files.

Usage: python rename_solver_classes.py FILE...  (rewrites NAME tokens only, never strings)
solver.problem: Bid -> ProblemBid, Factory -> ProblemFactory, Item -> ProblemItem,
Scenario -> ProblemScenario; solver.result: Allocation -> BidAllocation,
Conflict -> RuleConflict. In solver/ every such name is the solver's; elsewhere only names
imported from solver.problem / solver.result are renamed.
"""

import ast
import io
import sys
import tokenize
from pathlib import Path

PROBLEM = {
    "Bid": "ProblemBid",
    "Factory": "ProblemFactory",
    "Item": "ProblemItem",
    "Scenario": "ProblemScenario",
}
RESULT = {"Allocation": "BidAllocation", "Conflict": "RuleConflict"}


def names_to_rename(path: str, text: str) -> dict[str, str]:
    if path.startswith("solver/") or "/solver/" in path:
        own: dict[str, str] = {}
        if path.endswith("solver/problem.py"):
            own |= PROBLEM
        if path.endswith("solver/result.py"):
            own |= RESULT
        imported = {}
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "solver.problem",
                "solver.result",
            ):
                table = PROBLEM if node.module == "solver.problem" else RESULT
                for a in node.names:
                    if a.name in table and a.asname is None:
                        imported[a.name] = table[a.name]
        return own | imported
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module in ("solver.problem", "solver.result"):
            table = PROBLEM if node.module == "solver.problem" else RESULT
            for a in node.names:
                if a.name in table and a.asname is None:
                    out[a.name] = table[a.name]
    return out


def rewrite(path: str) -> bool:
    text = Path(path).read_text(encoding="utf-8")
    mapping = names_to_rename(path, text)
    if not mapping:
        return False
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    lines = text.splitlines(keepends=True)
    edits = []
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in mapping:
            # skip attribute access (x.Bid) and keyword arguments
            (row, col) = tok.start
            line = lines[row - 1]
            if col > 0 and line[col - 1] == ".":
                continue
            edits.append((row, col, tok.string))
    for row, col, name in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[name] + line[col + len(name) :]
    new = "".join(lines)
    if new != text:
        Path(path).write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    for p in sys.argv[1:]:
        if rewrite(p):
            print("renamed in", p)
