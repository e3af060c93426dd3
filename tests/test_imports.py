"""The container's modules import each other one way only: no cycles, not even under TYPE_CHECKING."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "container"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Container modules that `path` imports, relative or absolute, anywhere in the file."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [f"{target}.{alias.name}" for alias in node.names]
            found |= {n for n in [target, *names] if (ROOT / Path(*n.split("."))).with_suffix(".py").exists()}
            found |= {n for n in [target, *names] if (ROOT / Path(*n.split(".")) / "__init__.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.split(".")[0] == "container" and name != module_name(path)}


def test_container_modules_form_no_import_cycle() -> None:
    graph = {module_name(path): imported(path) for path in PACKAGE.rglob("*.py")}
    assert len(graph) > 20 and "container.runtime" in graph["container.finish"]  # the walk saw the modules
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
