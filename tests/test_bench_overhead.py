"""`python -m bench.overhead` (and bench/peer) without what `make bench` prepares: one line saying
what to run and exit 2, at once; no traceback, no wait for a LitServe that cannot start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import ROOT

# litserve hidden from the benchmark's process, as if it were not installed (find_spec sees None)
WITHOUT_LITSERVE = (
    "import runpy, sys; sys.modules['litserve'] = None; sys.argv[1:] = {args!r}; "
    "runpy.run_module({bench!r}, run_name='__main__')"
)


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    # a timeout well under the 120 s a missing LitServe used to cost: a wait fails the test
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def assert_says(result: subprocess.CompletedProcess[str], bench: str, *words: str) -> None:
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{bench}: "), result.stderr
    assert all(word in result.stderr for word in words), result.stderr


@pytest.mark.parametrize("bench", ["bench.overhead", "bench.peer"])
def test_without_the_tiny_model_it_says_make_tiny_model(bench: str, tmp_path: Path) -> None:
    result = run(["-m", bench, "--model", str(tmp_path / "tiny-sdxl")])
    assert_says(result, bench.replace(".", "/"), f"no tiny model at {tmp_path / 'tiny-sdxl'}", "make tiny-model")


@pytest.mark.parametrize("bench", ["bench.overhead", "bench.peer"])
def test_without_litserve_it_says_pip_install_bench(bench: str, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")  # a model folder as far as the check goes
    result = run(["-c", WITHOUT_LITSERVE.format(args=["--model", str(tmp_path)], bench=bench)])
    assert_says(result, bench.replace(".", "/"), "LitServe is not installed", "pip install -e '.[bench]'")
