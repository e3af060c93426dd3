"""The Dockerfile read statically (dockerfile-parse): what SageMaker and the cache need from it.

These run everywhere, also where the image test cannot (CodeBuild runs `make test IMAGE_TEST=0`);
the image test then checks the same things on the built image. hadolint runs in `make lint`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
DLC = "public.ecr.aws/neuron/pytorch-inference-neuronx:2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04"


def instructions() -> list[tuple[str, str]]:
    """(instruction, value) for every instruction but comments, in order."""
    parsed = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return [(i["instruction"], i["value"]) for i in parsed.structure if i["instruction"] != "COMMENT"]


def values(name: str) -> list[str]:
    return [value for kind, value in instructions() if kind == name]


def test_base_is_the_neuron_dlc_for_optimum_neuron_0_4_5() -> None:
    assert instructions()[:2] == [("ARG", f"BASE_IMAGE={DLC}"), ("FROM", "${BASE_IMAGE}")]


def test_sagemaker_contract() -> None:
    assert [json.loads(v) for v in values("ENTRYPOINT")] == [["serve"]]  # exec form, one entrypoint
    assert not values("CMD") and not values("USER")  # `serve` replaces CMD; SageMaker expects root
    assert "8080" in " ".join(values("EXPOSE")).split()
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in " ".join(values("LABEL"))
    [health] = values("HEALTHCHECK")
    assert "/ping" in health and "SAGEMAKER_BIND_TO_PORT" in health


def test_no_secrets_in_build_args_or_env() -> None:
    names = " ".join(values("ARG") + values("ENV"))
    assert not re.search(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY|AWS_ACCESS|CREDENTIAL)", names, re.IGNORECASE)


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    steps = instructions()
    deps = next(n for n, (kind, value) in enumerate(steps) if kind == "RUN" and "-r requirements.txt" in value)
    first_source = next(n for n, (kind, value) in enumerate(steps) if kind == "COPY" and "container" in value)
    assert deps < first_source
    copied_before = " ".join(value for kind, value in steps[:deps] if kind == "COPY")
    assert copied_before.split() == ["image/pins.py", "pyproject.toml", "./"], "only what the deps layer needs"


def test_every_pip_install_is_held_to_the_base_constraints() -> None:
    for run in values("RUN"):
        for command in re.split(r"&&|;", run):
            if "pip install" in command:
                assert "-c base-constraints.txt" in command and "--no-cache-dir" in command, command


def test_every_package_of_the_distribution_is_copied() -> None:
    """`sdxl-inf2 serve` in the image imports every CLI area: each package must be in the image."""
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {value.split()[0] for value in values("COPY")}
    assert {name.rstrip("*") for name in include} <= copied


def test_dockerignore_lets_every_copied_path_through() -> None:
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    for value in values("COPY"):
        for source in value.split()[:-1]:
            assert included(source.rstrip("/"), rules), f"COPY {source} is excluded by .dockerignore"
    assert not included("build/image-test/storage", rules) and not included(".venv", rules)
    assert not included("model_artifacts/tiny-sdxl/manifest.json", rules)


def included(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a pattern matches a folder's contents."""
    keep = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for rule in rules:
        pattern = rule.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            keep = rule.startswith("!")
    return keep
