"""Few-step SDXL: the checked-in SDXL-Lightning and LCM compile configs (parsed by optimum-neuron's
own parser), the guidance rule for compiled folders (checked against optimum-neuron's real code),
and the `lcm` / `euler_trailing` schedulers and guidance 0 running on the tiny model, deterministically."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.compile.config import load_compile_config
from sdxl_inf2.core.errors import BadRequest
from sdxl_inf2.core.guidance import CompiledBatch
from sdxl_inf2.core.modeldir import inspect_model_dir
from sdxl_inf2.core.schema import GenerationParams, parse_request, resolve
from tests.conftest import ServerFactory
from tests.neuron_layout import make_neuron_artifact
from tests.server import ROOT
from tests.test_compile import cli, dry_run, parsed, write_config
from tests.test_package import compiled_artifact
from tests.test_server_lifecycle import assert_one_line_error, run_serve

LIGHTNING = "compile/sdxl-lightning-4step-1024.yaml"
LCM = "compile/lcm-sdxl-1024.yaml"


def test_lightning_config_fuses_the_4_step_lora(neuron_parser: argparse.ArgumentParser, tmp_path: Path) -> None:
    [command] = dry_run("--config", LIGHTNING, "--out", str(tmp_path))
    args = parsed(neuron_parser, command)
    assert args.model == "stabilityai/stable-diffusion-xl-base-1.0" and args.unet is None
    assert args.lora_model_ids == ["ByteDance/SDXL-Lightning"]
    assert args.lora_weight_names == ["sdxl_lightning_4step_lora.safetensors"] and args.lora_scales == [1.0]
    assert (args.height, args.width, args.num_images_per_prompt, args.batch_size) == (1024, 1024, 1, 1)
    assert (args.auto_cast, args.auto_cast_type, args.instance_type) == ("matmul", "bf16", "inf2")
    defaults = load_compile_config(Path(LIGHTNING)).defaults
    assert (defaults.num_inference_steps, defaults.guidance_scale, defaults.scheduler) == (4, 0, "euler_trailing")


def test_lcm_config_swaps_the_unet(neuron_parser: argparse.ArgumentParser, tmp_path: Path) -> None:
    [command] = dry_run("--config", LCM, "--out", str(tmp_path))
    args = parsed(neuron_parser, command)
    assert args.unet == "latent-consistency/lcm-sdxl" and args.lora_model_ids is None
    assert (args.height, args.width, args.num_images_per_prompt) == (1024, 1024, 1) and not args.dynamic_batch_size
    config = load_compile_config(Path(LCM))
    assert (config.defaults.num_inference_steps, config.defaults.scheduler) == (4, "lcm")
    assert config.expected_batch().data_parallel_mode == "all"  # the name makes optimum-neuron load it all DP


def test_a_few_step_config_that_cannot_run_is_refused_before_compiling(
    neuron_parser: argparse.ArgumentParser, tmp_path: Path
) -> None:
    """2 images a prompt at guidance 0 feed the UNet 2 latents a step: the data-parallel pair would
    split them 1 per core (refused before one worker per NeuronCore existed); a one-core worker runs
    them at the compiled batch 2. 2 prompts a batch (1 latent each call) run on neither."""
    two_images = Path(LIGHTNING).read_text().replace("images_per_prompt: 1 ", "images_per_prompt: 2 ")
    accepted = cli("compile", "--config", str(write_config(tmp_path, two_images)), "--out", str(tmp_path), "--dry-run")
    assert accepted.returncode == 0, accepted.stderr
    assert "Served with one NeuronCore (guidance-free) a worker." in accepted.stderr
    text = Path(LIGHTNING).read_text().replace("batch_size: 1", "batch_size: 2")
    result = cli("compile", "--config", str(write_config(tmp_path, text)), "--out", str(tmp_path), "--dry-run")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "defaults.guidance_scale 0: guidance_scale <= 1 turns classifier-free guidance off" in result.stderr
    assert "gets 1 latent(s) a step; compiled at batch 2, data-parallel on 2 NeuronCores, it takes 4" in result.stderr
    assert "use guidance_scale > 1, or recompile with images_per_prompt 1 or --dynamic-batch-size" in result.stderr
    dynamic = write_config(tmp_path, text + "dynamic_batch_size: true\n")
    [command] = dry_run("--config", str(dynamic), "--out", str(tmp_path))
    assert parsed(neuron_parser, command).dynamic_batch_size  # accepted with a dynamic batch


@pytest.fixture(scope="module")
def optimum_neuron_guidance() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.guidance_contract_probe"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_guidance_rule_is_optimum_neurons(optimum_neuron_guidance: dict[str, Any]) -> None:
    """Every combination: our data-parallel mode and CFG decision equal what 0.4.5's code decides."""
    for case in optimum_neuron_guidance["cases"]:
        ours = CompiledBatch(
            unet_batch=1,
            images_per_call=1,
            dynamic=case["dynamic"],
            guidance_embedding=case["embedding"] is not None,
            lcm="lcm" in case["name"].lower() or "latent-consistency" in case["name"],
            cores=case["cores"],
        )
        assert (ours.data_parallel_mode, ours.cfg(case["guidance"])) == (case["mode"], case["cfg"]), case
        one_core_drops_cfg = (
            case["cores"] == 1 and case["guidance"] > 1 and case["embedding"] is None and not case["cfg"]
        )
        assert not one_core_drops_cfg or ours.refusal(case["guidance"]) is not None, case  # refused, never served
    source = optimum_neuron_guidance["load_model_source"]  # the premise of the batch rule
    assert "torch_neuronx.DataParallel(" in source and "[0, 1]" in source
    assert "set_dynamic_batching=dynamic_batch_size" in source


@pytest.mark.parametrize(
    ("batch", "guidance", "runs"),
    [
        (CompiledBatch(1, 1, False, False, False), 5.0, True),  # SDXL base: CFG, 2 latents, one per core
        (CompiledBatch(1, 1, False, False, False), 0.0, True),  # Lightning: 1 latent on one core
        (CompiledBatch(2, 2, False, False, False), 5.0, True),  # 2 images with CFG: 4 latents, 2 per core
        (CompiledBatch(2, 2, False, False, False), 1.0, False),  # 2 images without CFG: 2 latents, 1 per core
        (CompiledBatch(2, 2, True, False, False), 0.0, True),  # ... unless compiled with a dynamic batch
        (CompiledBatch(1, 1, False, True, True), 8.0, True),  # LCM: guidance is an input, 1 latent
        (CompiledBatch(2, 2, False, True, True), 8.0, False),  # LCM, 2 images: never CFG, 2 latents
    ],
)
def test_which_guidance_runs_on_a_compiled_batch(batch: CompiledBatch, guidance: float, runs: bool) -> None:
    assert (batch.refusal(guidance) is None) is runs


def neuron_folder(tiny_model: Path, out: Path, images: int = 1, **unet: object) -> Path:
    folder = make_neuron_artifact(tiny_model, out, images_per_prompt=images)
    config = folder / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **unet}))
    return folder


def test_a_request_that_cannot_run_on_the_compiled_unet_is_a_400(tiny_model: Path, tmp_path: Path) -> None:
    model = inspect_model_dir(neuron_folder(tiny_model, tmp_path / "two", images=2), verify="off")
    prompt, fields = parse_request({"prompt": "a cat", "guidance_scale": 0})
    with pytest.raises(BadRequest) as refused:
        resolve(prompt, fields, model, "png")
    assert refused.value.field == "guidance_scale" and "turns classifier-free guidance off" in refused.value.message
    prompt, fields = parse_request({"prompt": "a cat", "guidance_scale": 5})
    assert resolve(prompt, fields, model, "png").guidance_scale == 5.0


def test_lcm_compiled_folder(tiny_model: Path, tmp_path: Path) -> None:
    """An LCM never runs CFG, so it is planned one worker per NeuronCore ("none"); on a chip's two
    cores (SDXL_CORES_PER_WORKER=2) optimum-neuron loads it all data-parallel, as before."""
    lcm = {"_name_or_path": "latent-consistency/lcm-sdxl", "time_cond_proj_dim": 256}
    model = inspect_model_dir(neuron_folder(tiny_model, tmp_path / "one", **lcm), verify="off")
    assert model.compiled_batch and model.compiled_batch.data_parallel_mode == "none"
    assert model.guidance_refusal(8.0) is None and model.guidance_refusal(0.0) is None
    on_a_chip = model.compiled_batch.with_cores(2)
    assert on_a_chip.data_parallel_mode == "all"
    assert on_a_chip.refusal(8.0) is None and on_a_chip.refusal(0.0) is None
    two = inspect_model_dir(neuron_folder(tiny_model, tmp_path / "two", images=2, **lcm), verify="off")
    assert two.compiled_batch and two.compiled_batch.cores == 1  # 2 latents, compiled at batch 2: one core runs it
    refused = two.compiled_batch.with_cores(2).refusal(8.0)  # data-parallel, 1 latent per core: no
    assert refused and re.search(r"takes guidance as an input .* recompile with images_per_prompt 1", refused)


def test_serve_refuses_defaults_the_compiled_folder_cannot_run(tiny_model: Path, tmp_path: Path) -> None:
    """Guidance 0 with 2 images a prompt runs on one NeuronCore (planned so), not on a chip's pair."""
    folder = compiled_artifact(tiny_model, tmp_path / "lightning")  # 2 images per prompt
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["defaults"] = {"num_inference_steps": 4, "guidance_scale": 0, "scheduler": "euler_trailing"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    env = {"SDXL_VERIFY_MODEL": "size", "NEURON_RT_VISIBLE_CORES": "0-3"}
    result = run_serve("--plan", "--model-dir", str(folder), env={**env, "SDXL_CORES_PER_WORKER": "2"})
    assert_one_line_error(
        result, "SDXL_CORES_PER_WORKER=2: variant 'default': default guidance_scale 0", "compiled at batch 2"
    )
    planned = run_serve("--plan", "--model-dir", str(folder), env=env)
    assert planned.returncode == 0, planned.stderr
    assert [w["cores"] for w in json.loads(planned.stdout)["workers"]] == [1, 1, 1, 1]


def png_digest(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_few_step_schedulers_and_guidance_0_on_the_tiny_model(tiny_model: Path) -> None:
    """In-process torch backend: which scheduler ran, with which timesteps, and the same bytes twice."""
    from sdxl_inf2.container.backends.torch_backend import TorchBackend

    backend = TorchBackend("cpu")
    backend.load(inspect_model_dir(tiny_model))
    params = GenerationParams("a photo of a cat", None, None, None, 4, 0.0, 42, 64, 64, 1, "lcm", "png", None)
    seen: dict[str, tuple[str, list[int], str]] = {}
    for scheduler in ("lcm", "euler_trailing", "euler"):
        run = replace(params, scheduler=scheduler)
        first, second = (png_digest(backend.generate(run)[0]) for _ in range(2))
        assert first == second, scheduler  # deterministic
        used = backend.pipe.scheduler
        seen[scheduler] = (type(used).__name__, [int(t) for t in used.timesteps], first)
    assert seen["lcm"][0] == "LCMScheduler"
    assert seen["euler_trailing"][:2] == ("EulerDiscreteScheduler", [999, 749, 499, 249])  # Lightning's 4 steps
    assert seen["euler"][1] == [751, 501, 251, 1]  # the artifact's own "leading" spacing, unchanged
    assert len({digest for _, _, digest in seen.values()}) == 3


def test_few_step_defaults_from_the_manifest_through_the_server(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(tiny_model, tmp_path / "lightning-tiny"))
    args = ("--source", "tiny-lightning", "--size", "64x64", "--steps", "4", "--guidance", "0")
    assert cli("manifest", str(folder), *args, "--scheduler", "euler_trailing").returncode == 0
    server = servers(folder)
    server.wait_ping(200)
    as_json = {"Accept": "application/json"}
    body = server.invoke({"prompt": "a cat", "seed": 3}, headers=as_json).json()
    echoed = body["parameters"]
    assert (echoed["scheduler"], echoed["guidance_scale"], echoed["num_inference_steps"]) == ("euler_trailing", 0.0, 4)
    assert server.invoke({"prompt": "a cat", "seed": 3}, headers=as_json).json()["images"] == body["images"]
    lcm = [server.invoke({"prompt": "a cat", "seed": 3, "scheduler": "lcm"}).content for _ in range(2)]
    assert lcm[0] == lcm[1] and lcm[0] != server.invoke({"prompt": "a cat", "seed": 3}).content
