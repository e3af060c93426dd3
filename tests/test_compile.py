"""`sdxl-inf2 compile`: command construction checked by optimum-neuron's real parser, pre-flight
refusals, and the whole flow (streamed log, one folder per shape, manifests) with a stand-in SDK."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.compile.neuron_export import CompileError, check_free_memory
from sdxl_inf2.compile.package import package
from sdxl_inf2.core.manifest import VariantsManifest, read_any_manifest, read_manifest
from sdxl_inf2.core.modeldir import inspect_model_dir
from tests.server import BIN, ROOT

FAKE_SDK = ROOT / "tests" / "fake_neuron_sdk"
MULTI = """
model: {model}
shapes: [{{height: 1024, width: 1024}}, {{height: 768, width: 1344}}]
images_per_prompt: 2
lora:
  - {{id: org/style-lora, weight_name: style.safetensors, adapter_name: style, scale: 0.8}}
  - {{id: /loras/brand, weight_name: brand.safetensors, adapter_name: brand, scale: 0.5}}
defaults: {{num_inference_steps: 25, guidance_scale: 6.0, scheduler: dpmpp_2m}}
"""


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(BIN / "sdxl-inf2"), *args], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=300
    )


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compile.yaml"
    path.write_text(text)
    return path


def dry_run(*args: str) -> list[list[str]]:
    result = cli("compile", "--dry-run", *args)
    assert result.returncode == 0, result.stderr
    assert "30-45 minutes" in result.stderr and "100 GB" in result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


def parsed(parser: argparse.ArgumentParser, command: list[str]) -> Any:
    assert command[0].endswith("optimum-cli") and command[1:3] == ["export", "neuron"]
    return parser.parse_args(command[3:])


def test_checked_in_config_builds_the_documented_command(
    neuron_parser: argparse.ArgumentParser, tmp_path: Path
) -> None:
    [command] = dry_run("--config", "compile/sdxl-base-1024.yaml", "--out", str(tmp_path / "sdxl"))
    args = parsed(neuron_parser, command)
    assert args.model == "stabilityai/stable-diffusion-xl-base-1.0" and args.task == "stable-diffusion-xl"
    assert (args.batch_size, args.height, args.width, args.num_images_per_prompt) == (1, 1024, 1024, 1)
    assert (args.auto_cast, args.auto_cast_type, args.torch_dtype) == ("matmul", "bf16", "float32")
    assert args.instance_type == "inf2" and args.O2 and args.inline_weights_neff
    assert args.output == tmp_path / "sdxl" / "1024x1024"
    assert not args.disable_neuron_cache and args.lora_model_ids is None


def test_several_shapes_and_fused_loras(
    neuron_parser: argparse.ArgumentParser, tiny_model: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, MULTI.format(model=tiny_model))
    commands = dry_run("--config", str(config), "--out", str(tmp_path / "out"))
    runs = [parsed(neuron_parser, c) for c in commands]
    assert [(a.width, a.height, a.output.name) for a in runs] == [(1024, 1024, "1024x1024"), (1344, 768, "1344x768")]
    for args in runs:
        assert args.model == str(tiny_model) and args.num_images_per_prompt == 2
        assert args.lora_model_ids == ["org/style-lora", "/loras/brand"]
        assert args.lora_weight_names == ["style.safetensors", "brand.safetensors"]
        assert args.lora_adapter_names == ["style", "brand"] and args.lora_scales == [0.8, 0.5]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("model: org/m\nshapes: [{height: 1020, width: 1024}]\n", "shapes.0.height: Input should be a multiple of 8"),
        ("model: org/m\nshapes: []\n", "shapes: Tuple should have at least 1 item"),
        ("model: org/m\nshapes: [{height: 64, width: 64}, {height: 64, width: 64}]\n", "listed twice"),
        ("model: org/m\nshapes: [{height: 64, width: 64}]\nrefiner: true\n", "refiner"),
        ("model: org/m\nshapes: [{height: 64, width: 64}]\nbatch: 2\n", "batch: Extra inputs are not permitted"),
        ("model: org/m\nshapes: [{height: 64, width: 64}]\nauto_cast: some\n", "auto_cast"),
        ("model: [unclosed\n", "not valid YAML"),
        (
            "model: ./no/such/folder\nshapes: [{height: 64, width: 64}]\n",
            "model folder ./no/such/folder does not exist",
        ),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, text: str, words: str) -> None:
    result = cli("compile", "--config", str(write_config(tmp_path, text)), "--out", str(tmp_path), "--dry-run")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sdxl-inf2: error: ")
    assert words in result.stderr and "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = cli("compile", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path))
    assert result.returncode == 2 and "no such compile config" in result.stderr


def test_refuses_without_the_neuron_compiler(tmp_path: Path) -> None:
    result = cli("compile", "--config", "compile/sdxl-base-1024.yaml", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "the Neuron compiler is not installed here" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_refuses_with_too_little_memory() -> None:
    with pytest.raises(CompileError, match="only 10 GB of memory free; compiling SDXL needs at least 60 GB"):
        check_free_memory(60, available_bytes=10 * 2**30)
    check_free_memory(60, available_bytes=61 * 2**30)


def fake_sdk_env(tiny_model: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{FAKE_SDK / 'bin'}:{os.environ['PATH']}",
        "SDXL_REPO": str(ROOT),
        "SDXL_PYTHON": sys.executable,
        "PYTHONPATH": f"{FAKE_SDK / 'site'}:{ROOT}",
        "FAKE_TINY_MODEL": str(tiny_model),
        **extra,
    }


def compile_with_stand_in(tiny_model: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path, MULTI.format(model=tiny_model))
    out = str(tmp_path / "out")
    return cli(
        "compile", "--config", str(config), "--out", out, "--min-free-gb", "0", env=fake_sdk_env(tiny_model, **env)
    )


def test_compile_flow_with_a_stand_in_sdk(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = compile_with_stand_in(tiny_model, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "30-45 minutes" in result.stderr and "shape 2/2: 1344x768" in result.stderr
    streamed = re.search(r"^\[\d\d:\d\d\] Compiling .* \(test stand-in\)$", result.stderr, re.MULTILINE)
    assert streamed, result.stderr  # streamed with the elapsed time (whatever it is on a loaded machine)
    assert "Compiling" in (out / "1024x1024.log").read_text()
    for name, (height, width) in {"1024x1024": (1024, 1024), "1344x768": (768, 1344)}.items():
        folder = out / name
        manifest = read_manifest(folder)
        assert manifest.backend == "neuron" and [(s.height, s.width) for s in manifest.shapes] == [(height, width)]
        assert manifest.images_per_prompt == 2 and manifest.batch_size == 1
        assert (manifest.auto_cast, manifest.auto_cast_type) == ("matmul", "bf16")
        assert manifest.versions["neuronx-cc"] == "2.21.33363.0" and manifest.versions["optimum-neuron"] == "0.4.5"
        assert manifest.defaults.scheduler == "dpmpp_2m" and [a.adapter_name for a in manifest.lora] == [
            "style",
            "brand",
        ]
        assert "unet/model.neuron" in manifest.files
        assert inspect_model_dir(folder).kind == "neuron"
    root = read_any_manifest(out)  # the output folder is what `package` takes: a variants root
    assert isinstance(root, VariantsManifest) and root.default_variant == "1024x1024"
    assert [(v.name, v.defaults.scheduler) for v in root.variants] == [
        ("1024x1024", "dpmpp_2m"),
        ("1344x768", "dpmpp_2m"),
    ]
    assert "1024x1024.log" in root.files and "1344x768/manifest.json" in root.files
    packaged = package(out, tmp_path / "model.tar.gz", progress=False)
    assert packaged.files == len(root.files) + 1
    assert [v.name for v in inspect_model_dir(out).variants] == ["1024x1024", "1344x768"]


def test_a_failed_compile_names_its_log(tiny_model: Path, tmp_path: Path) -> None:
    result = compile_with_stand_in(tiny_model, tmp_path, FAKE_COMPILE_FAIL="1")
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert "optimum-cli failed for 1024x1024 (exit 70)" in error and "1024x1024.log" in error
    assert "out of memory" in (tmp_path / "out" / "1024x1024.log").read_text()


def test_existing_output_needs_force(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "1024x1024").mkdir(parents=True)
    (tmp_path / "out" / "1024x1024" / "old").write_text("x")
    result = compile_with_stand_in(tiny_model, tmp_path)
    assert result.returncode == 2 and "--force" in result.stderr


def test_manifest_command_for_a_plain_diffusers_folder(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = Path(shutil.copytree(tiny_model, tmp_path / "mine"))
    (folder / "manifest.json").unlink()
    result = cli("manifest", str(folder), "--source", "my-org/sdxl-finetune", "--size", "64x64", "--steps", "20")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["backend"] == "torch" and manifest["source"]["model_id"] == "my-org/sdxl-finetune"
    assert manifest["defaults"]["num_inference_steps"] == 20 and manifest["shapes"] == [{"height": 64, "width": 64}]
