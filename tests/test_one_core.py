"""One worker per NeuronCore for guidance-free variants: the load path against optimum-neuron 0.4.5's
real source (Neuron SDK stubbed), `serve --plan` on compiled-layout artifacts (importing no device
runtime), side-by-side widths, SDXL_CORES_PER_WORKER, and the real server refusing guidance > 1 on a
one-core variant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.compile.describe import write_folder_manifest, write_variants_root
from sdxl_inf2.core.manifest import Defaults
from tests.conftest import ServerFactory
from tests.neuron_layout import make_neuron_artifact
from tests.server import BIN, FAKE, ROOT
from tests.test_server_lifecycle import assert_one_line_error, run_serve

LIGHTNING = Defaults(num_inference_steps=4, guidance_scale=0.0, scheduler="euler_trailing")
BASE = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler")
LCM = Defaults(num_inference_steps=4, guidance_scale=8.0, scheduler="lcm")
SOURCE = {"model_id": "stabilityai/stable-diffusion-xl-base-1.0", "revision": None}
PARTS = ["unet", "text_encoder", "text_encoder_2", "vae_encoder", "vae_decoder"]  # load_model's order


def compiled(tiny_model: Path, out: Path, defaults: Defaults, height: int = 1024, **unet: object) -> Path:
    folder = make_neuron_artifact(tiny_model, out, height=height)
    config = folder / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **unet}))
    write_folder_manifest(folder, SOURCE, defaults)
    return folder


@pytest.fixture(scope="module")
def artifacts(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("one-core")
    lcm = {"_name_or_path": "latent-consistency/lcm-sdxl", "time_cond_proj_dim": 256}
    mixed = root / "mixed"
    compiled(tiny_model, mixed / "base", BASE)
    compiled(tiny_model, mixed / "lightning", LIGHTNING, height=768)
    write_variants_root(mixed, names=["base", "lightning"])
    return {
        "lightning": compiled(tiny_model, root / "lightning", LIGHTNING),
        "base": compiled(tiny_model, root / "base", BASE),
        "lcm": compiled(tiny_model, root / "lcm", LCM, **lcm),
        "mixed": mixed,
    }


@pytest.fixture(scope="module")
def loaded(artifacts: dict[str, Path]) -> dict[str, Any]:
    """What optimum-neuron 0.4.5's real from_pretrained built, through the real NeuronBackend."""
    folders = [f"{name}={artifacts[name]}" for name in ("lightning", "base", "lcm")]
    folders.append(f"lightning_on_a_chip={artifacts['lightning']}:2")  # as SDXL_CORES_PER_WORKER=2 serves it
    probe = [sys.executable, "-m", "tests.one_core_contract_probe", *folders]
    result = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_a_guidance_free_variant_loads_every_part_on_its_one_core(loaded: dict[str, Any]) -> None:
    one = loaded["folders"]["lightning"]
    assert one["planned_cores"] == 1
    assert one["is_the_sdxl_pipeline"] and one["class"] == "NeuronStableDiffusionXLPipeline"  # from_pretrained's own
    assert one["data_parallel"] == {}  # no torch_neuronx.DataParallel built: it needs two visible cores
    assert one["cores"] == {part: [0, 1] for part in PARTS}  # set_neuron_cores(start_nc=0, nc_count=1): its core
    assert one["data_parallel_mode"] == "none"
    assert one["cfg_at_guidance_5"] is False  # why the front refuses guidance_scale > 1 for it (below)


def test_a_cfg_variant_still_loads_its_unet_on_both_cores(loaded: dict[str, Any]) -> None:
    for name in ("base", "lightning_on_a_chip"):
        two = loaded["folders"][name]
        assert two["planned_cores"] == 2 and two["data_parallel_mode"] == "unet"
        assert two["data_parallel"] == {"unet": [0, 1]}  # optimum-neuron's own choice, untouched
        assert two["cfg_at_guidance_5"] is True


def test_an_lcm_loads_on_one_core_and_keeps_its_scheduler(loaded: dict[str, Any]) -> None:
    lcm = loaded["folders"]["lcm"]
    assert lcm["planned_cores"] == 1 and lcm["data_parallel"] == {} and lcm["data_parallel_mode"] == "none"
    assert lcm["is_lcm"]  # optimum-neuron still switches to LCMScheduler
    assert loaded["restored_mode"] == ["unet", 1]  # set_parallel_mode is optimum-neuron's own again after loading


def plan(folder: Path, entry: str = "serve", **env: str) -> list[dict[str, Any]]:
    command = [str(BIN / "serve")] if entry == "serve" else [str(BIN / "sdxl-inf2"), "serve"]
    result = subprocess.run(
        [*command, "--plan", "--model-dir", str(folder)],
        env={"PATH": str(BIN), "PYTHONPATH": str(ROOT), "SDXL_VERIFY_MODEL": "size", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    workers: list[dict[str, Any]] = json.loads(result.stdout)["workers"]
    return workers


@pytest.mark.parametrize("entry", ["serve", "sdxl-inf2"])
def test_serve_plan_on_an_inf2_48xlarge(artifacts: dict[str, Path], entry: str) -> None:
    one = plan(artifacts["lightning"], entry, NEURON_RT_VISIBLE_CORES="0-23")
    assert [w["env"] for w in one] == [{"NEURON_RT_VISIBLE_CORES": str(core)} for core in range(24)]
    assert {(w["variant"], w["cores"]) for w in one} == {("default", 1)} and [w["index"] for w in one] == list(
        range(24)
    )
    two = plan(artifacts["base"], entry, NEURON_RT_VISIBLE_CORES="0-23")
    assert [w["env"]["NEURON_RT_VISIBLE_CORES"] for w in two] == [f"{2 * k}-{2 * k + 1}" for k in range(12)]
    assert {w["cores"] for w in two} == {2}


def test_serve_plan_for_an_instance_type_and_mixed_widths(artifacts: dict[str, Path]) -> None:
    assert {w["cores"] for w in plan(artifacts["lcm"], NEURON_RT_VISIBLE_CORES="0-3")} == {1}  # never CFG
    result = run_serve("--plan", "--instance-type", "ml.inf2.24xlarge", "--model-dir", str(artifacts["mixed"]))
    assert result.returncode == 0, result.stderr
    workers = json.loads(result.stdout)["workers"]
    base = [w["env"]["NEURON_RT_VISIBLE_CORES"] for w in workers if w["variant"] == "base"]
    lightning = [w["env"]["NEURON_RT_VISIBLE_CORES"] for w in workers if w["variant"] == "lightning"]
    assert base == ["0-1", "2-3", "4-5"] and lightning == [str(core) for core in range(6, 12)]  # equal shares of 12
    assert [w["cores"] for w in workers] == [2, 2, 2, 1, 1, 1, 1, 1, 1]
    bad = run_serve("--plan", "--instance-type", "ml.g5.2xlarge", "--model-dir", str(artifacts["lightning"]))
    assert_one_line_error(bad, "--instance-type 'ml.g5.2xlarge'", "not an inf2 instance type")


def test_a_cfg_variant_on_one_core_stops_serve_in_one_line(artifacts: dict[str, Path]) -> None:
    env = {"SDXL_CORES_PER_WORKER": "1", "NEURON_RT_VISIBLE_CORES": "0-23", "SDXL_VERIFY_MODEL": "size"}
    result = run_serve("--plan", "--model-dir", str(artifacts["base"]), env=env)
    assert_one_line_error(
        result, "SDXL_CORES_PER_WORKER=1: variant 'default': default guidance_scale 5", "compiled at batch 1"
    )
    mixed = run_serve("--plan", "--model-dir", str(artifacts["mixed"]), env=env)
    assert_one_line_error(mixed, "SDXL_CORES_PER_WORKER=1: variant 'base'")
    assert len(plan(artifacts["lightning"], NEURON_RT_VISIBLE_CORES="0-23", SDXL_CORES_PER_WORKER="2")) == 12


BLOCKED = ("torch", "torch_neuronx", "optimum", "diffusers", "transformers", "neuronx_distributed", "libneuronxla")
NO_DEVICE_RUNTIME = f"""
import importlib.abc, json, sys
attempted = []
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            attempted.append(name)
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from sdxl_inf2.cli import main
code = main(["serve", "--plan", "--model-dir", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
print(json.dumps({{"code": code, "attempted": attempted, "loaded": loaded}}))
"""


def test_serve_plan_imports_no_device_runtime(artifacts: dict[str, Path]) -> None:
    env = {"PYTHONPATH": str(ROOT), "NEURON_RT_VISIBLE_CORES": "0-23", "SDXL_VERIFY_MODEL": "size"}
    args = [sys.executable, "-c", NO_DEVICE_RUNTIME, str(artifacts["lightning"])]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *printed, seen = result.stdout.strip().splitlines()
    assert json.loads(seen) == {"code": 0, "attempted": [], "loaded": []}
    assert len(json.loads("\n".join(printed))["workers"]) == 24


def test_the_server_refuses_guidance_above_1_on_a_one_core_variant(
    servers: ServerFactory, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """Real server, real spawned workers (a fake pipeline): the front plans one core a worker, each
    worker is handed the one-core ("none") batch, and a CFG request is a 400 naming guidance_scale."""
    env = {
        "SDXL_BACKEND": FAKE.format("pinning"),
        "FAKE_REPORT_DIR": str(tmp_path),
        "SDXL_DEVICE": "neuron",
        "NEURON_RT_VISIBLE_CORES": "0-1",
        "SDXL_VERIFY_MODEL": "size",
    }
    server = servers(artifacts["lightning"], env=env)
    body = server.wait_ping(200)
    assert [s["NEURON_RT_VISIBLE_CORES"] for s in body["slots"]] == ["0", "1"]
    reports = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("worker-*.json"))]
    assert sorted(r["NEURON_RT_VISIBLE_CORES"] for r in reports) == ["0", "1"]
    assert {r["data_parallel_mode"] for r in reports} == {"none"}
    refused = server.invoke({"prompt": "a cat", "guidance_scale": 5})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["field"] == "guidance_scale" and "SDXL_CORES_PER_WORKER=2" in error["message"]
    assert server.invoke({"prompt": "a cat", "guidance_scale": 0, "num_inference_steps": 1}).status_code == 200
