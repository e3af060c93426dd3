"""Keep the base image's torch and Neuron packages while the project is installed on top of it.

The Neuron DLC's torch, torch-neuronx, neuronx-cc and numpy are built for each other; pip must never
swap one of them for a PyPI release. Used by the Dockerfile (standard library only, base Python):

    python pins.py constraints               the base's protected distributions as `name==version`
    python pins.py requirements PYPROJECT    [project].dependencies, for a deps-only layer
    python pins.py check CONSTRAINTS         fail unless every pinned distribution is unchanged
"""

from __future__ import annotations

import fnmatch
import importlib.metadata as md
import re
import sys
from pathlib import Path

# torch* covers torch, torch-neuronx, torchvision, torch-xla; neuron*/libneuron* the Neuron SDK
# (neuronx-cc, neuronx-distributed, libneuronxla); numpy is the ABI the compiled packages were built
# on. Not optimum-neuron: that one is the project's to install at its pinned version.
PROTECTED = ("torch*", "neuron*", "libneuron*", "transformers-neuronx", "nki", "numpy")


def canonical(name: str) -> str:
    """PEP 503 name: `Torch_NeuronX` and `torch-neuronx` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def protected_versions(path: list[str] | None = None) -> dict[str, str]:
    """Installed protected distributions -> the version Python imports (the first on the path)."""
    found: dict[str, str] = {}
    for dist in md.distributions(path=sys.path if path is None else path):
        name = canonical(dist.metadata["Name"] or "")
        if name and name not in found and any(fnmatch.fnmatchcase(name, p) for p in PROTECTED):
            found[name] = dist.version
    return dict(sorted(found.items()))


def requirements(pyproject: Path) -> list[str]:
    import tomllib  # Python 3.11+, which every supported base has

    project = tomllib.loads(pyproject.read_text())["project"]
    return [str(dep) for dep in project.get("dependencies", [])]


def read_constraints(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[canonical(name.strip())] = version.strip()
    return pins


def check(constraints: Path, path: list[str] | None = None) -> list[str]:
    """One line per protected distribution that changed or vanished since the constraints were taken."""
    now = protected_versions(path)
    problems = []
    for name, version in read_constraints(constraints).items():
        if now.get(name) != version:
            problems.append(f"{name}: base had {version}, now {now.get(name, 'missing')}")
    return problems


def main(argv: list[str]) -> int:
    match argv:
        case ["constraints"]:
            print("\n".join(f"{n}=={v}" for n, v in protected_versions().items()))
        case ["requirements", pyproject]:
            print("\n".join(requirements(Path(pyproject))))
        case ["check", path]:
            problems = check(Path(path))
            if problems:
                print("pins: the install changed the base image's packages:", *problems, sep="\n  ", file=sys.stderr)
                return 1
            kept = read_constraints(Path(path))
            print("pins: base packages unchanged:", ", ".join(f"{n} {v}" for n, v in kept.items()))
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
