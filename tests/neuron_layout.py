"""A folder with the exact on-disk layout `optimum-cli export neuron` (optimum-neuron 0.4.5) writes
for SDXL, with placeholder `model.neuron` files: nothing here can run, but every reader of the layout
(shape reader, manifest, packaging) can be tested on it.

The `neuron` block of each config.json is written by optimum-neuron's own `store_compilation_config`
with the arguments its exporter passes (exporters/neuron/convert.py), so the layout is the real one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

COMPILER_VERSION = "2.21.33363.0"
COMPONENTS = {  # folder: (source config in the diffusers layout, MODEL_TYPE, task, mandatory axes)
    "text_encoder": ("text_encoder", "clip-text-model", "feature-extraction", ("batch_size", "sequence_length")),
    "text_encoder_2": (
        "text_encoder_2",
        "clip-text-with-projection",
        "feature-extraction",
        ("batch_size", "sequence_length"),
    ),
    "unet": (
        "unet",
        "unet",
        "semantic-segmentation",
        ("batch_size", "sequence_length", "num_channels", "width", "height", "vae_scale_factor"),
    ),
    "vae_encoder": ("vae", "vae-encoder", "semantic-segmentation", ("batch_size", "num_channels", "width", "height")),
    "vae_decoder": ("vae", "vae-decoder", "semantic-segmentation", ("batch_size", "num_channels", "width", "height")),
}


def make_neuron_artifact(
    diffusers_dir: Path,
    out: Path,
    height: int = 1024,
    width: int = 1024,
    batch_size: int = 1,
    images_per_prompt: int = 1,
) -> Path:
    """Write a compiled-SDXL-shaped folder to `out` from a diffusers folder's configs."""
    saved = dict(os.environ)  # importing optimum.neuron sets NEURON_PLATFORM_TARGET_OVERRIDE
    try:
        from optimum.neuron.utils.argument_utils import store_compilation_config
    finally:
        os.environ.clear()
        os.environ.update(saved)

    out.mkdir(parents=True)
    for name in ("model_index.json",):
        shutil.copy(diffusers_dir / name, out / name)
    for name in ("scheduler", "tokenizer", "tokenizer_2"):
        shutil.copytree(diffusers_dir / name, out / name)
    shapes = _shapes(height, width, batch_size, images_per_prompt)
    for folder, (source, model_type, task, axes) in COMPONENTS.items():
        config: dict[str, Any] = json.loads((diffusers_dir / source / "config.json").read_text())
        store_compilation_config(
            config=config,
            input_shapes={k: v for k, v in shapes[folder].items() if k in axes},
            compiler_kwargs={"auto_cast": "matmul", "auto_cast_type": "bf16"},
            int_dtype="int64",
            float_dtype="fp32",
            dynamic_batch_size=False,
            tensor_parallel_size=1,
            compiler_type="neuronx-cc",
            compiler_version=COMPILER_VERSION,
            inline_weights_to_neff=True,
            optlevel="2",
            model_type=model_type,
            task=task,
        )
        (out / folder).mkdir()
        (out / folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        (out / folder / "model.neuron").write_bytes(f"placeholder NEFF for {folder}\n".encode())
    return out


def _shapes(height: int, width: int, batch: int, images: int) -> dict[str, dict[str, int]]:
    latent = {"height": height // 8, "width": width // 8}
    text = {"batch_size": batch, "sequence_length": 77}
    vae = {"batch_size": batch * images, "num_channels": 4, **latent}
    unet = {"batch_size": batch * images, "sequence_length": 77, "num_channels": 4, "vae_scale_factor": 8, **latent}
    return {
        "text_encoder": text,
        "text_encoder_2": text,
        "unet": unet,
        "vae_encoder": {**vae, "num_channels": 3},
        "vae_decoder": vae,
    }
