"""The layout holds: no import cycle, no sibling import inside a function, no oversized file.

Read with `ast` from the source, so the checks see the imports as written (a cycle hidden
behind an import inside a function is still a cycle).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("bidding", "api")
PACKAGES = ("bidding", "api", "solver", "cli")
MAX_LINES = 600


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, known: set[str]) -> Iterator[tuple[str, bool]]:
    """(module imported, whether inside a function) for each import of a known module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            if name in known:
                yield name, id(node) in inside
                break


def _graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for package in packages:
        modules |= _modules(package)
    known = set(modules)
    return {
        name: {imported for imported, _ in _imports(path, known) if imported != name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of modules, or None (depth-first, colours)."""
    colour = dict.fromkeys(graph, 0)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if colour.get(nxt) == 0 and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0 and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_bidding_and_api_import_each_other_without_a_cycle() -> None:
    graph = _graph(PACKAGES)
    assert _cycle({k: v for k, v in graph.items() if k.split(".")[0] in LAYERS}) is None


def test_the_solvers_modules_import_one_another_without_a_cycle() -> None:
    graph = _graph(PACKAGES)
    assert _cycle({k: v for k, v in graph.items() if k.split(".")[0] == "solver"}) is None


@pytest.mark.parametrize("package", [*LAYERS, "solver"])
def test_no_module_imports_a_sibling_inside_a_function(package: str) -> None:
    modules = _modules(package)
    known = set(modules)
    hidden = [
        f"{name} imports {imported}"
        for name, path in modules.items()
        for imported, in_function in _imports(path, known)
        if in_function
    ]
    assert hidden == []


@pytest.mark.parametrize("package", [*LAYERS, "solver"])
def test_no_file_is_over_600_lines(package: str) -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules(package).values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_solver_imports_neither_bidding_nor_api_nor_sqlmodel() -> None:
    found = []
    for name, path in _modules("solver").items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"{name} imports {t}"
                for t in targets
                if t.split(".")[0] in {"bidding", "api", "sqlmodel", "sqlalchemy"}
            ]
    assert found == []


def test_one_place_turns_rows_into_a_problem_and_one_stores_a_result() -> None:
    builders = {
        name
        for name, path in _modules("bidding").items()
        if "parse_problem(document)" in path.read_text(encoding="utf-8")
    }
    writers = {
        name
        for name, path in (_modules("bidding") | _modules("api")).items()
        if ".result = " in path.read_text(encoding="utf-8")
    }
    assert builders == {"bidding.snapshot"}
    assert writers == {"bidding.solves"}


def test_the_api_reads_values_from_the_shared_module_not_the_solvers_parser() -> None:
    graph = _graph(PACKAGES)
    parser_users = sorted(
        k for k, v in graph.items() if k.startswith("api") and "solver.problem" in v
    )
    assert parser_users == []
    assert any("solver.values" in v for k, v in graph.items() if k.startswith("api.schemas"))


def test_schemas_are_a_package_by_noun_matching_the_routes() -> None:
    routes = {p.stem for p in (ROOT / "api" / "routes").glob("*.py")} - {"__init__"}
    schemas = {p.stem for p in (ROOT / "api" / "schemas").glob("*.py")} - {"__init__", "base"}
    assert routes == schemas


def test_no_class_name_is_used_twice_across_the_layers() -> None:
    defined: dict[str, list[str]] = {}
    for package in PACKAGES:
        for name, path in _modules(package).items():
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    defined.setdefault(node.name, []).append(name)
    assert {k: v for k, v in defined.items() if len(v) > 1} == {}
