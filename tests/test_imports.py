"""The package's parts import each other one way only, in layers, with no cycle between modules.

    core                      imports nothing of ours
    container, compile        core
    gateway                   core
    deploy                    core, gateway
    local_endpoint            core, gateway, deploy
    simulator                 core, deploy, the root modules (cost)
    root (cli, cost)          anything

Every import counts, function-local and TYPE_CHECKING ones included.
"""

from __future__ import annotations

import ast
import os
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sdxl_inf2"
ROOT_AREA = "(root)"
ALLOWED = {
    "core": set(),
    "container": {"core"},
    "compile": {"core"},
    "gateway": {"core"},
    "deploy": {"core", "gateway"},
    "local_endpoint": {"core", "gateway", "deploy"},
    "simulator": {"core", "deploy", ROOT_AREA},
}


def package_files() -> list[Path]:
    """Every module of the package, through the links to container/ and compile/."""
    found = []
    for folder, _, files in os.walk(ROOT / PACKAGE, followlinks=True):
        found += [Path(folder) / name for name in files if name.endswith(".py")]
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path) -> set[str]:
    """Our modules that `path` imports, relative or absolute, anywhere in the file."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found |= {n for n in [target, *(f"{target}.{alias.name}" for alias in node.names)] if is_module(n)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if is_module(alias.name)}
    return {name for name in found if name.split(".")[0] == PACKAGE and name != module_name(path)}


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (ROOT / PACKAGE / parts[-1]).is_dir() else ROOT_AREA


GRAPH = {module_name(path): imported(path) for path in package_files()}


def test_the_walk_sees_every_part() -> None:
    assert {area(module) for module in GRAPH} == {*ALLOWED, ROOT_AREA}
    assert "sdxl_inf2.container.runtime" in GRAPH["sdxl_inf2.container.finish"]


def test_modules_form_no_import_cycle() -> None:
    try:
        list(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_each_part_imports_only_the_layers_below_it() -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if area(module) != ROOT_AREA
        for target in targets
        if area(target) != area(module) and area(target) not in ALLOWED[area(module)]
    )
    assert wrong == []
