"""The package's parts depend on each other in one direction only."""

import ast
from pathlib import Path

from {{ cookiecutter.__package_name }}.config import PACKAGE_NAME

PACKAGE = Path(__file__).resolve().parents[1] / "src" / PACKAGE_NAME


def imports() -> dict[str, set[str]]:
    """Module (e.g. serving.app) -> the modules of this package it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts)
        here = parts[:-1]  # the package a relative import starts from
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - node.level + 1]
                module = [*base, *(node.module or "").split(".")]
                targets = [".".join(p for p in module if p)]
                if not node.module:  # from . import a, b
                    targets = [".".join([*base, a.name]) for a in node.names]
                found.update(t for t in targets if t)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names]
                found.update(n.split(".", 1)[1] for n in names if _ours(n))
    return graph


def test_the_serving_core_imports_no_tool() -> None:
    """Nothing in serving/ imports from tools/, so the image can leave tools out."""
    graph = imports()
    wrong = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("serving")
        for target in targets
        if target.startswith("tools")
    }
    assert not wrong, f"serving imports tools: {sorted(wrong)}"


def test_no_module_imports_itself_back() -> None:
    """The import graph has no cycle."""
    graph = imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def _ours(name: str | None) -> bool:
    return bool(name) and name.startswith(PACKAGE_NAME + ".")
