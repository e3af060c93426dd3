"""Start-up (entry points, model dir, one-line errors) and shutdown (SIGTERM drains in-flight work)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.neuron_layout import make_neuron_artifact
from tests.server import BIN, FAKE, ROOT, pid_alive

OK = {"SDXL_BACKEND": FAKE.format("ok")}


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "serve"), "--model-dir", "{model}"],
        [str(BIN / "serve"), "serve", "--model-dir", "{model}"],  # as `docker run IMAGE serve` runs it
        [sys.executable, "serve.py", "--model-dir", "{model}"],
        [str(BIN / "sdxl-inf2"), "serve", "--model-dir", "{model}"],
    ],
    ids=["serve", "serve-serve", "python-serve.py", "sdxl-inf2-serve"],
)
def test_every_entry_point_serves(servers: ServerFactory, tiny_model: Path, command: list[str]) -> None:
    server = servers(None, env=OK, command=[c.format(model=tiny_model) for c in command])
    server.wait_ping(200)
    assert server.invoke({"prompt": "x"}).status_code == 200


def test_model_dir_from_sm_model_dir(servers: ServerFactory, tiny_model: Path) -> None:
    server = servers(None, env={**OK, "SM_MODEL_DIR": str(tiny_model)})
    assert server.wait_ping(200)["shapes"][0] == {"height": 64, "width": 64}


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "SAGEMAKER_BIND_TO_PORT": "1", **(env or {})}
    return subprocess.run([str(BIN / "serve"), *args], env=full_env, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("serve: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_missing_model_dir(tmp_path: Path) -> None:
    assert_one_line_error(run_serve("--model-dir", str(tmp_path / "nope")), str(tmp_path / "nope"), "does not exist")


def test_default_model_dir_is_opt_ml_model() -> None:
    if Path("/opt/ml/model").exists():
        pytest.skip("/opt/ml/model exists on this machine")
    assert_one_line_error(run_serve(env={"SM_MODEL_DIR": ""}), "/opt/ml/model")


def test_folder_without_model_index(tmp_path: Path) -> None:
    assert_one_line_error(run_serve("--model-dir", str(tmp_path)), "model_index.json")


def test_tampered_file_is_named(tmp_path: Path, tiny_model: Path) -> None:
    model = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    with (model / "unet" / "config.json").open("a") as handle:
        handle.write(" ")
    assert_one_line_error(run_serve("--model-dir", str(model)), "unet/config.json", "size")
    (model / "unet" / "config.json").write_text((tiny_model / "unet" / "config.json").read_text())
    weights = model / "vae" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert_one_line_error(run_serve("--model-dir", str(model)), "vae/diffusion_pytorch_model.safetensors", "sha256")


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SDXL_WORKERS": "two"}, ["SDXL_WORKERS", "integer"]),
        ({"SDXL_MAX_QUEUE": "-1"}, ["SDXL_MAX_QUEUE"]),
        ({"SDXL_LOG_PROMPTS": "maybe"}, ["SDXL_LOG_PROMPTS"]),
        ({"SDXL_BACKEND": "tensorflow"}, ["SDXL_BACKEND"]),
        ({"SDXL_BACKEND": "neuron"}, ["not compiled for Neuron"]),
        (
            {"SDXL_DEVICE": "neuron", "NEURON_RT_VISIBLE_CORES": "0-1", "SDXL_WORKERS": "2"},
            ["SDXL_WORKERS=2", "2 visible"],
        ),
        ({"SDXL_DEVICE": "neuron", "NEURON_RT_VISIBLE_CORES": "3-1"}, ["NEURON_RT_VISIBLE_CORES"]),
    ],
)
def test_bad_settings_are_one_line(tiny_model: Path, env: dict[str, str], words: list[str]) -> None:
    assert_one_line_error(run_serve("--model-dir", str(tiny_model), env=env), *words)


def test_compiled_neuron_folder_without_neuron_runtime(tmp_path: Path, tiny_model: Path) -> None:
    compiled = make_neuron_artifact(tiny_model, tmp_path / "compiled")
    assert_one_line_error(run_serve("--model-dir", str(compiled)), "compiled Neuron artifacts", "torch_neuronx")


def test_sigterm_finishes_in_flight_and_queued_requests(servers: ServerFactory, tiny_model: Path) -> None:
    env = {**OK, "SDXL_WORKERS": "2", "FAKE_GENERATE_S": "1.5"}
    server = servers(tiny_model, env=env)
    server.wait_ping(200)
    workers = server.worker_pids()
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(server.invoke, {"prompt": f"p{i}", "seed": i}) for i in range(4)]
        time.sleep(0.5)  # two running, two queued
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=30)
        elapsed = time.monotonic() - started
        responses = [f.result() for f in futures]
    assert code == 0
    assert [r.status_code for r in responses] == [200] * 4
    assert 2.0 < elapsed < 25
    assert not any(pid_alive(p) for p in workers)
    assert "Traceback" not in server.log_text()


def test_sigterm_past_the_grace_time_still_exits_0(servers: ServerFactory, tiny_model: Path) -> None:
    env = {**OK, "FAKE_GENERATE_S": "30", "SDXL_GRACEFUL_TIMEOUT_S": "2"}
    server = servers(tiny_model, env=env)
    server.wait_ping(200)
    [worker] = server.worker_pids()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(server.invoke, {"prompt": "long"})
        time.sleep(0.5)
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=30)
        elapsed = time.monotonic() - started
        try:
            status = future.result().status_code
        except Exception:  # the connection is closed when the grace time is over
            status = None
    assert code == 0 and elapsed < 10, elapsed
    assert status != 200
    deadline = time.monotonic() + 5
    while pid_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(worker)


def test_ping_is_503_until_warm(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    env = {"SDXL_BACKEND": FAKE.format("slow_load"), "FAKE_LOAD_S": "2"}
    server = servers(tiny_model, env=env)
    body = server.wait_ping(503, state="loading")
    assert body["workers"] == {"ready": 0, "total": 1}
    refused = server.invoke({"prompt": "x"})
    assert refused.status_code == 503 and refused.json()["error"]["type"] == "not_ready"
    assert server.wait_ping(200)["workers"] == {"ready": 1, "total": 1}
    warmups = [json.loads(line) for line in server.log_text().splitlines() if '"warm-up"' in line]
    assert warmups and warmups[0]["prompt"] == "warm-up"
