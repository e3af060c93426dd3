"""buildspec.yml, run command by command under bash with recording `docker`, `aws` and `make`.

The runner follows CodeBuild's rules: one shell for all phases (variables carry over), phases in
order, a phase stops at its first failing command, and a failed phase skips the rest of the build
when it is install or pre_build or says `on-failure: ABORT` (otherwise post_build still runs).
A typo in a command, a phase name or the order shows up as a failure here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STANDIN = Path(__file__).with_name("buildspec_standin.py")
PHASES = ("install", "pre_build", "build", "post_build")
REGION, REPO, COMMIT = "eu-west-1", "sdxl-inf2", "0123456789abcdef0123456789abcdef01234567"
ACCOUNT, TOKEN = "123456789012", "fake-ecr-token"  # what the stand-in answers
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
URI = f"{REGISTRY}/{REPO}"
ARTIFACT = "image-uri.txt"


def load_buildspec() -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    assert isinstance(spec, dict)
    return spec


def runner_script(spec: dict[str, Any]) -> str:
    """The buildspec's commands as one bash script with CodeBuild's phase rules."""
    lines = ["export CODEBUILD_BUILD_SUCCEEDING=1"]
    for phase in PHASES:
        body = spec["phases"].get(phase) or {}
        stops_build = phase in ("install", "pre_build") or body.get("on-failure") == "ABORT"
        on_failure = "exit 1" if stops_build else "CODEBUILD_BUILD_SUCCEEDING=0"
        lines.append("phase_ok=1")
        for command in body.get("commands", []):
            lines.append(
                f"if [ $phase_ok = 1 ] && ! eval {shlex.quote(command)}; then "
                f"echo 'phase {phase} failed' >&2; phase_ok=0; {on_failure}; fi"
            )
    lines.append('[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]')
    return "\n".join(lines) + "\n"


def run_buildspec(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run every command of buildspec.yml in a fresh source folder; (result, recorded calls)."""
    source, bin_dir, record = tmp_path / "src", tmp_path / "bin", tmp_path / "calls.jsonl"
    source.mkdir()
    bin_dir.mkdir()
    shutil.copy(ROOT / "Dockerfile", source)
    for tool in ("docker", "aws", "make"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    record.touch()
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_RECORD": str(record),
        "AWS_DEFAULT_REGION": REGION,
        "IMAGE_REPO_NAME": REPO,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        **env,
    }
    full_env = {key: value for key, value in full_env.items() if value != "<unset>"}
    script = runner_script(load_buildspec())
    result = subprocess.run(
        ["bash", "-c", script], cwd=source, env=full_env, capture_output=True, text=True, timeout=60
    )
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return result, calls


def find(calls: list[dict[str, Any]], tool: str, *argv: str) -> list[int]:
    """Indexes of the calls to `tool` whose arguments start with argv."""
    return [i for i, c in enumerate(calls) if c["tool"] == tool and c["argv"][: len(argv)] == list(argv)]


def tags_of(argv: list[str]) -> set[str]:
    return {argv[i + 1] for i, arg in enumerate(argv) if arg in ("-t", "--tag")}


def dockerfile_base() -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "Dockerfile has no ARG BASE_IMAGE default"
    return match.group(1)


def test_buildspec_shape() -> None:
    spec = load_buildspec()
    assert str(spec["version"]) == "0.2"
    assert set(spec["phases"]) <= set(PHASES), "an unknown phase name would be ignored by CodeBuild"
    assert spec["env"]["shell"] == "bash"  # what the commands are tested under
    assert ARTIFACT in spec["artifacts"]["files"]
    commands = "\n".join(c for body in spec["phases"].values() for c in body.get("commands", []))
    assert not re.search(r"\b\d{12}\b", commands), "an account id is hard-coded"
    assert not re.search(r"\b[a-z]{2}(-gov)?-[a-z]+-\d\b", commands), "a region is hard-coded"


def test_push_to_an_existing_repository(tmp_path: Path) -> None:
    result, calls = run_buildspec(tmp_path, AWS_ACCOUNT_ID="<unset>")
    assert result.returncode == 0, result.stderr
    assert find(calls, "aws", "sts", "get-caller-identity"), "the account comes from STS when AWS_ACCOUNT_ID is unset"
    assert not find(calls, "aws", "ecr", "create-repository")
    [login] = find(calls, "docker", "login")
    assert calls[login]["argv"][-1] == REGISTRY and calls[login]["stdin"].strip() == TOKEN
    assert "--username" in calls[login]["argv"] and "AWS" in calls[login]["argv"]
    [password] = find(calls, "aws", "ecr", "get-login-password")
    assert calls[password]["argv"][-1] == REGION and password < login
    [pull] = find(calls, "docker", "pull")
    assert calls[pull]["argv"][1] == dockerfile_base() and login < pull
    assert find(calls, "make", "install")[0] < login
    [tests] = find(calls, "make", "test")
    assert "IMAGE_TEST=0" in calls[tests]["argv"]
    [build] = find(calls, "docker", "build")
    assert tests < build and pull < build
    assert tags_of(calls[build]["argv"]) == {f"{URI}:{COMMIT}", f"{URI}:latest"}
    assert f"BASE_IMAGE={dockerfile_base()}" in calls[build]["argv"]
    pushes = find(calls, "docker", "push")
    assert {calls[i]["argv"][1] for i in pushes} == {f"{URI}:{COMMIT}", f"{URI}:latest"}
    assert min(pushes) > build
    assert (tmp_path / "src" / ARTIFACT).read_text() == f"{URI}:{COMMIT}\n"


def test_missing_repository_is_created_before_the_push(tmp_path: Path) -> None:
    result, calls = run_buildspec(tmp_path, FAKE_REPO_EXISTS="0", AWS_ACCOUNT_ID=ACCOUNT)
    assert result.returncode == 0, result.stderr
    assert not find(calls, "aws", "sts"), "a given AWS_ACCOUNT_ID is used as it is"
    [describe] = find(calls, "aws", "ecr", "describe-repositories")
    [create] = find(calls, "aws", "ecr", "create-repository")
    assert calls[create]["argv"][calls[create]["argv"].index("--repository-name") + 1] == REPO
    assert describe < create < min(find(calls, "docker", "push"))


@pytest.mark.parametrize("failing", ["make test", "docker build", "docker push"])
def test_a_failure_stops_before_anything_is_published(tmp_path: Path, failing: str) -> None:
    result, calls = run_buildspec(tmp_path, FAKE_FAIL=failing)
    assert result.returncode != 0
    assert not (tmp_path / "src" / ARTIFACT).exists(), "no image URI for the registration step"
    if failing != "docker push":
        assert not find(calls, "docker", "push")


def test_without_a_repository_name_nothing_runs_against_ecr(tmp_path: Path) -> None:
    result, calls = run_buildspec(tmp_path, IMAGE_REPO_NAME="<unset>")
    assert result.returncode != 0 and "IMAGE_REPO_NAME" in result.stderr
    assert not find(calls, "docker") and not find(calls, "aws", "ecr")
