"""The tiny offline SDXL, its manifest, and the model-dir reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdxl_inf2.container.config import ConfigError, load_settings
from sdxl_inf2.core.manifest import MANIFEST_NAME, ManifestError, read_manifest, verify_files
from sdxl_inf2.core.modeldir import ModelDirError, inspect_model_dir


def test_tiny_model_layout_and_manifest(tiny_model: Path) -> None:
    for path in [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "text_encoder_2/model.safetensors",
        "tokenizer/vocab.json",
        "tokenizer_2/merges.txt",
    ]:
        assert (tiny_model / path).is_file(), path
    manifest = read_manifest(tiny_model)
    assert manifest.backend == "torch" and manifest.format_version == 1
    assert [str(s) for s in manifest.shapes] == ["64x64", "96x64"]
    assert "unet/diffusion_pytorch_model.safetensors" in manifest.files
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in tiny_model.rglob("*") if p.is_file())
    verify_files(tiny_model, manifest)


def test_tiny_model_runs_offline_with_real_tokenizers(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from diffusers import StableDiffusionXLPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_model, local_files_only=True)
    assert len(pipe.tokenizer("a photo of a cat").input_ids) == 7
    assert pipe.tokenizer("a photo of a cat").input_ids == pipe.tokenizer_2("a photo of a cat").input_ids
    assert pipe.vae_scale_factor == 8
    assert 1.2e6 < sum(p.numel() for p in pipe.unet.parameters()) < 1.6e6
    image = pipe(
        "a photo of a cat", num_inference_steps=2, height=64, width=64, generator=torch.Generator().manual_seed(0)
    ).images[0]
    assert image.size == (64, 64)


def test_same_seed_same_weights(tiny_model: Path, tmp_path: Path) -> None:
    from sdxl_inf2.compile.tiny_model import build_tiny_model

    again = build_tiny_model(tmp_path / "again", shapes=((64, 64), (64, 96)))
    assert read_manifest(again).files == read_manifest(tiny_model).files


def test_model_info_for_the_tiny_model(tiny_model: Path) -> None:
    info = inspect_model_dir(tiny_model)
    assert info.kind == "diffusers" and info.max_images == 4
    assert info.defaults.num_inference_steps == 4 and info.describe_shapes() == "64x64, 96x64"


def test_manifest_problems_are_one_line(tiny_model: Path, tmp_path: Path) -> None:
    model = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    (model / "extra.txt").write_text("not listed")
    with pytest.raises(ManifestError, match=r"extra\.txt: file not listed"):
        verify_files(model, read_manifest(model))
    (model / "extra.txt").unlink()
    (model / "tokenizer" / "vocab.json").unlink()
    with pytest.raises(ModelDirError, match=r"tokenizer/vocab\.json: listed in manifest\.json but missing"):
        inspect_model_dir(model)
    data = json.loads((model / MANIFEST_NAME).read_text())
    data["shapes"] = [{"height": 60, "width": 64}]
    (model / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(ModelDirError, match=r"shapes\.0\.height: Input should be a multiple of 8"):
        inspect_model_dir(model)
    (model / MANIFEST_NAME).write_text("{")
    with pytest.raises(ModelDirError, match=r"manifest\.json"):
        inspect_model_dir(model)


def test_plain_diffusers_folder_without_manifest(tiny_model: Path, tmp_path: Path) -> None:
    model = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    (model / MANIFEST_NAME).unlink()
    info = inspect_model_dir(model)
    assert info.manifest is None and info.describe_shapes() == "1024x1024"  # unet sample_size x vae factor


def test_not_sdxl(tiny_model: Path, tmp_path: Path) -> None:
    model = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    (model / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelDirError, match="not an SDXL pipeline"):
        inspect_model_dir(model, verify="off")


def test_settings_cast_strictly() -> None:
    settings = load_settings(
        {
            "SDXL_WORKERS": "3",
            "SDXL_LOG_PROMPTS": "1",
            "SAGEMAKER_BIND_TO_PORT": "9000",
            "SDXL_REQUEST_TIMEOUT_S": "2.5",
        }
    )
    assert (settings.workers, settings.log_prompts, settings.port, settings.request_timeout_s) == (3, True, 9000, 2.5)
    defaults = load_settings({})
    assert (defaults.model_dir, defaults.port, defaults.host) == (Path("/opt/ml/model"), 8080, "0.0.0.0")
    # cores_per_worker unset: each variant's compiled batch decides (core/workers.py)
    assert (defaults.graceful_timeout_s, defaults.max_body_bytes, defaults.cores_per_worker) == (25, 1 << 20, None)
    assert load_settings({"SM_MODEL_DIR": "/a"}, model_dir=Path("/b")).model_dir == Path("/b")
    with pytest.raises(ConfigError, match="SAGEMAKER_BIND_TO_PORT='0'"):
        load_settings({"SAGEMAKER_BIND_TO_PORT": "0"})
    with pytest.raises(ConfigError, match="SDXL_VERIFY_MODEL"):
        load_settings({"SDXL_VERIFY_MODEL": "sometimes"})
