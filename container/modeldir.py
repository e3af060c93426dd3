"""Reads an artifact folder: what kind it is, which shapes it serves, its generation defaults.

Read by the front before any worker starts (JSON files only, no model weights), so bad folders
fail fast with one line and requests can be validated without a worker.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .manifest import MANIFEST_NAME, Defaults, Manifest, ManifestError, Shape, read_manifest, verify_files

log = logging.getLogger(__name__)

ModelKind = Literal["neuron", "diffusers"]
FALLBACK_DEFAULTS = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="default")


class ModelDirError(Exception):
    """The model folder is missing or unusable; the message is one line naming the path."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    kind: ModelKind
    shapes: tuple[Shape, ...]
    max_images: int
    defaults: Defaults
    manifest: Manifest | None

    @property
    def default_shape(self) -> Shape:
        return self.shapes[0]

    def describe_shapes(self) -> str:
        return ", ".join(str(s) for s in self.shapes)


def inspect_model_dir(path: Path, verify: Literal["full", "size", "off"] = "full") -> ModelInfo:
    """Validate `path` and describe it; raise ModelDirError with one line on any problem."""
    if not path.is_dir():
        raise ModelDirError(f"model dir {path} does not exist or is not a folder")
    index = _read_json(path / "model_index.json", what="an SDXL model folder")
    class_name = str(index.get("_class_name", ""))
    if "StableDiffusionXL" not in class_name:
        raise ModelDirError(f"{path / 'model_index.json'}: _class_name {class_name!r} is not an SDXL pipeline")
    manifest = _checked_manifest(path, verify)
    unet = _read_json(path / "unet" / "config.json", what="a UNet config")
    if "neuron" in unet:
        return _neuron_info(path, unet, manifest)
    return _diffusers_info(path, unet, manifest)


def _checked_manifest(path: Path, verify: str) -> Manifest | None:
    if not (path / MANIFEST_NAME).is_file():
        log.warning("%s: no %s; serving without file checks", path, MANIFEST_NAME)
        return None
    try:
        manifest = read_manifest(path)
        if verify != "off":
            verify_files(path, manifest, full=verify == "full")
    except ManifestError as exc:
        raise ModelDirError(str(exc)) from None
    return manifest


def _neuron_info(path: Path, unet: dict[str, Any], manifest: Manifest | None) -> ModelInfo:
    neuron = unet["neuron"]
    scale = vae_scale_factor(path / "vae_decoder" / "config.json")
    try:
        shape = Shape(height=neuron["static_height"] * scale, width=neuron["static_width"] * scale)
        unet_batch = int(neuron["static_batch_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{path / 'unet' / 'config.json'}: neuron block lacks {exc}") from None
    text = _read_json(path / "text_encoder_2" / "config.json", what="a text encoder config")
    prompt_batch = int(text.get("neuron", {}).get("static_batch_size", 1))
    defaults = manifest.defaults if manifest else FALLBACK_DEFAULTS
    return ModelInfo(path, "neuron", (shape,), max(1, unet_batch // prompt_batch), defaults, manifest)


def _diffusers_info(path: Path, unet: dict[str, Any], manifest: Manifest | None) -> ModelInfo:
    if manifest is not None:
        return ModelInfo(path, "diffusers", manifest.shapes, manifest.images_per_prompt, manifest.defaults, manifest)
    side = int(unet.get("sample_size", 128)) * vae_scale_factor(path / "vae" / "config.json")
    return ModelInfo(path, "diffusers", (Shape(height=side, width=side),), 4, FALLBACK_DEFAULTS, None)


def vae_scale_factor(vae_config: Path) -> int:
    """As diffusers and optimum-neuron compute it: 2 ** (number of VAE blocks - 1)."""
    blocks = _read_json(vae_config, what="a VAE config").get("block_out_channels", [0] * 4)
    return int(2 ** (len(blocks) - 1))


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelDirError(f"{path}: missing (expected {what})") from None
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelDirError(f"{path}: expected a JSON object")
    return data
