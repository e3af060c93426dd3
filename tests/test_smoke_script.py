"""scripts/smoke-test.sh, run for real against the project's server behind a `docker` stand-in.

No Docker engine runs here, so tests/docker_standin.py plays Docker: `docker run IMAGE serve`
starts this venv's `serve` with the mounted model folder. What is tested is the script itself:
its docker arguments, waiting for /ping, the PNG check, the SIGTERM stop and its exit status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "smoke-test.sh"
STANDIN = Path(__file__).with_name("docker_standin.py")
IMAGE = "sdxl-inf2:smoke"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the smoke test script needs curl")


def run_smoke(tmp_path: Path, model: Path, port: int) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir, record = tmp_path / "bin", tmp_path / "docker-calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n')
    (bin_dir / "docker").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_RECORD": str(record),
        "FAKE_DOCKER_STATE": str(tmp_path / "state"),
        "SMOKE_PORT": str(port),
        "SMOKE_TIMEOUT_S": "120",
    }
    result = subprocess.run([str(SCRIPT), IMAGE, str(model)], env=env, capture_output=True, text=True, timeout=300)
    calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return result, calls


def calls_to(calls: list[list[str]], command: str) -> list[list[str]]:
    return [call for call in calls if call[0] == command]


def test_smoke_script_passes_against_the_server(tiny_model: Path, tmp_path: Path) -> None:
    port = free_port()
    result, calls = run_smoke(tmp_path, tiny_model, port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "invocation: 200, PNG" in result.stdout
    [run] = calls_to(calls, "run")
    assert run[-2:] == [IMAGE, "serve"], "SageMaker's `docker run IMAGE serve`"
    assert f"{tiny_model}:/opt/ml/model:ro" in run and "SDXL_BACKEND=torch" in run
    assert f"127.0.0.1:{port}:8080" in run
    [stop] = calls_to(calls, "stop")
    assert "30" in stop, "SageMaker's SIGTERM-to-SIGKILL grace"
    assert calls_to(calls, "rm"), "the container is removed afterwards"


def test_smoke_script_fails_and_shows_the_log_when_serve_exits(tmp_path: Path) -> None:
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "manifest.json").write_text("{}")
    result, calls = run_smoke(tmp_path, model, free_port())
    assert result.returncode == 1
    assert "FAIL: the container exited" in result.stderr
    assert "serve: error" in result.stderr, "the container's log is shown"
    assert calls_to(calls, "rm")
    assert not calls_to(calls, "stop")
