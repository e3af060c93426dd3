"""The neuron backend cannot run here (no Inferentia2 device, no Neuron SDK). These tests check it
against optimum-neuron 0.4.5's real installed source instead: every argument the adapter passes must
be a named parameter of what it calls (optimum-neuron swallows unknown ones in **kwargs silently),
and the compiled-shape reader must parse the exact 0.4.5 on-disk layout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sdxl_inf2.core.modeldir import inspect_model_dir
from tests.neuron_layout import make_neuron_artifact
from tests.server import ROOT


@pytest.fixture(scope="module")
def compiled(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_neuron_artifact(tiny_model, tmp_path_factory.mktemp("neuron") / "sdxl", images_per_prompt=2)


@pytest.fixture(scope="module")
def probe(compiled: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.neuron_contract_probe", str(compiled)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def test_pinned_optimum_neuron(probe: dict[str, Any]) -> None:
    assert probe["optimum_neuron_version"] == "0.4.5"


def test_pipeline_class_is_the_sdxl_one(probe: dict[str, Any]) -> None:
    assert probe["auto_model_class"] == "StableDiffusionXLPipeline"
    assert {"NeuronDiffusionPipelineBase", "StableDiffusionXLPipeline"} <= set(probe["mro"])


def test_load_passes_only_real_parameters(probe: dict[str, Any], compiled: Path) -> None:
    assert probe["load_args"] == [str(compiled)]
    assert set(probe["load_kwargs"]) <= set(probe["from_pretrained_params"])
    assert probe["load_kwargs"] == {"local_files_only": True}  # never device_ids/height/width: ignored in 0.4.5


def test_generate_passes_only_real_parameters(probe: dict[str, Any]) -> None:
    assert probe["call_args"] == []
    assert set(probe["call_kwargs"]) <= set(probe["call_params"])
    assert not {"height", "width"} & set(probe["call_kwargs"])  # fixed at compile time


def test_generate_runs_the_compiled_batch_and_returns_what_was_asked(probe: dict[str, Any]) -> None:
    assert probe["num_images_per_prompt"] == 2  # the compiled images per prompt
    assert probe["returned_images"] == 1
    assert probe["generator"] == "Generator"
    assert probe["scheduler"] == "DPMSolverMultistepScheduler"  # swapped per request


def test_neuron_call_still_overrides_the_size(probe: dict[str, Any]) -> None:
    """Why the front rejects other sizes: 0.4.5 silently drops them and uses the compiled size."""
    source = probe["neuron_call_source"]
    assert 'kwargs.pop("height", None)' in source and 'kwargs.pop("width", None)' in source
    assert "self.auto_model_class.__call__" in source


def test_shape_reader_parses_the_0_4_5_layout(compiled: Path) -> None:
    info = inspect_model_dir(compiled, verify="off")
    assert info.kind == "neuron"
    assert [(s.height, s.width) for s in info.shapes] == [(1024, 1024)]
    assert info.max_images == 2
    unet = json.loads((compiled / "unet" / "config.json").read_text())["neuron"]
    assert unet["static_height"] == 128 and unet["static_vae_scale_factor"] == 8


def test_shape_reader_non_square(tiny_model: Path, tmp_path: Path) -> None:
    compiled = make_neuron_artifact(tiny_model, tmp_path / "wide", height=768, width=1344)
    info = inspect_model_dir(compiled, verify="off")
    assert [(s.height, s.width) for s in info.shapes] == [(768, 1344)] and info.max_images == 1
