"""The engine stays the maths: small modules, no cycles, nothing of the service in it."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

ENGINE = ROOT / "worker" / "engine"
# What the engine may import beyond the standard library and itself.
ALLOWED = {"numpy", "sympy"}
FORBIDDEN = {"flask", "celery", "kombu", "redis", "service", "worker", "pathgrad"}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(engine modules imported relatively, top-level packages imported absolutely)."""
    inner, outer = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                inner.add(node.module.split(".")[0])
            else:
                inner.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            outer.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outer.update(alias.name.split(".")[0] for alias in node.names)
    return inner, outer


def test_no_engine_module_is_over_400_lines() -> None:
    long = {p.name: n for p in ENGINE.glob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_the_engine_imports_no_service_and_has_no_import_cycle() -> None:
    graph = {}
    for path in ENGINE.glob("*.py"):
        inner, outer = _imports(path)  # TYPE_CHECKING imports included: ast sees them all
        assert not outer & FORBIDDEN, (path.name, outer & FORBIDDEN)
        graph[path.stem] = inner - {"__init__"}
    graph.pop("__init__")  # the package's face imports the modules; none imports it
    assert all("__init__" not in targets for targets in graph.values())
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in trail, f"import cycle: {' -> '.join((*trail, node))}"
        if node in done:
            return
        for target in graph.get(node, ()):
            visit(target, (*trail, node))
        done.add(node)

    for module in graph:
        visit(module, ())
