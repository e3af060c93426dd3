"""A tiny random-weight SDXL pipeline built with no network: real diffusers SDXL code, tiny sizes.

It is the model of the test suite and of `make demo`. Sizes follow the recipe in
shared/reference/offline-testing.md §3: both CLIP tokenizers share a small byte-level BPE vocabulary
written here, text encoders of hidden size 32 and 64 (so the UNet's cross-attention is 96 wide),
a 4-level VAE (vae_scale_factor 8, as in real SDXL) and a ~1.4 M-parameter UNet.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sdxl_inf2.core.manifest import write_manifest

# Words whose BPE merges are in the vocabulary; every other word falls back to byte tokens.
_WORDS = ("photo", "cat", "of", "the", "dog")
_START, _END = "<|startoftext|>", "<|endoftext|>"
DEFAULT_SHAPES = ((64, 64),)
DEFAULTS = {"num_inference_steps": 4, "guidance_scale": 5.0, "scheduler": "euler"}
MAX_IMAGES = 4


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins CLIP's byte-level BPE uses for raw bytes (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _merges() -> list[tuple[str, str]]:
    """Left-to-right merges that build each word of `_WORDS` into one end-of-word token."""
    merges: list[tuple[str, str]] = []
    for word in _WORDS:
        left = word[0]
        for index, char in enumerate(word[1:], start=1):
            right = char + ("</w>" if index == len(word) - 1 else "")
            merges.append((left, right))
            left += right
    return merges


def write_tokenizer(folder: Path) -> None:
    """Write vocab.json, merges.txt and tokenizer_config.json for a CLIPTokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = [t for c in _byte_chars() for t in (c, c + "</w>")]
    merges = _merges()
    tokens += ["".join(pair) for pair in merges] + [_START, _END]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    lines = ["#version: 0.2", *(" ".join(pair) for pair in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "bos_token": _START,
        "eos_token": _END,
        "unk_token": _END,
        "pad_token": _END,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def vocab_size() -> int:
    return 512 + len(_merges()) + 2


def _text_encoders() -> tuple[Any, Any]:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    size = vocab_size()
    common = dict(
        vocab_size=size,
        bos_token_id=size - 2,
        eos_token_id=size - 1,
        pad_token_id=size - 1,
        max_position_embeddings=77,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
    )
    encoder = CLIPTextModel(CLIPTextConfig(hidden_size=32, projection_dim=32, **common))
    encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=64, projection_dim=64, **common))
    return encoder, encoder_2


def _unet() -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=128,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        transformer_layers_per_block=(1, 2),
        use_linear_projection=True,
        norm_num_groups=8,
        cross_attention_dim=96,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=112,
    )


def _vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=1024,
        scaling_factor=0.13025,
    )


def _scheduler() -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
        prediction_type="epsilon",
    )


def build_pipeline(seed: int = 0) -> Any:
    """The tiny StableDiffusionXLPipeline, with weights drawn from `seed`."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    encoder, encoder_2 = _text_encoders()
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    return StableDiffusionXLPipeline(
        vae=_vae(),
        text_encoder=encoder,
        text_encoder_2=encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=_unet(),
        scheduler=_scheduler(),
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )


def build_tiny_model(out: Path, shapes: tuple[tuple[int, int], ...] = DEFAULT_SHAPES, seed: int = 0) -> Path:
    """Save the tiny pipeline to `out` in the diffusers layout, plus manifest.json; return `out`."""
    out.mkdir(parents=True, exist_ok=True)
    build_pipeline(seed).save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):  # transformers 5 writes only tokenizer.json here
        write_tokenizer(out / name)
    _make_world_readable(out)  # safetensors writes 0600; the image may run as another user
    write_manifest(out, _manifest_fields(shapes, seed))
    return out


def build_tiny_variants(out: Path, shapes: tuple[tuple[int, int], ...], seed: int = 0) -> Path:
    """A variants root: one tiny model per size (weights from seed, seed + 1, ...) in a sub-folder
    named WxH, and the root manifest listing them; the first size is the default variant."""
    from .describe import write_variants_root

    names = [f"{width}x{height}" for height, width in shapes]
    for index, (name, shape) in enumerate(zip(names, shapes, strict=True)):
        build_tiny_model(out / name, shapes=(shape,), seed=seed + index)
    write_variants_root(out, names=names)
    return out


def _manifest_fields(shapes: tuple[tuple[int, int], ...], seed: int) -> dict[str, object]:
    versions = {name: importlib.metadata.version(name) for name in ("diffusers", "transformers", "torch")}
    return {
        "backend": "torch",
        "source": {"model_id": "sdxl-inf2/tiny-random-sdxl", "revision": f"seed-{seed}"},
        "shapes": [{"height": h, "width": w} for h, w in shapes],
        "batch_size": 1,
        "images_per_prompt": MAX_IMAGES,
        "dtype": "float32",
        "versions": versions,
        "defaults": DEFAULTS,
    }


def _make_world_readable(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            path.chmod(path.stat().st_mode | 0o444)
