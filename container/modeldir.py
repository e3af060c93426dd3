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
MODEL_INDEX = "model_index.json"


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


@dataclass(frozen=True)
class CompiledLayout:
    """What optimum-neuron 0.4.5 recorded in the `neuron` blocks of a compiled folder."""

    shape: Shape
    batch_size: int
    images_per_prompt: int
    unet_neuron: dict[str, Any]


def inspect_model_dir(path: Path, verify: Literal["full", "size", "off"] = "full") -> ModelInfo:
    """Validate `path` and describe it; raise ModelDirError with one line on any problem."""
    path = resolve_model_root(path)
    index = _read_json(path / MODEL_INDEX, what="an SDXL model folder")
    class_name = str(index.get("_class_name", ""))
    if "StableDiffusionXL" not in class_name:
        raise ModelDirError(f"{path / MODEL_INDEX}: _class_name {class_name!r} is not an SDXL pipeline")
    manifest = _checked_manifest(path, verify)
    if is_compiled(path):
        layout = read_compiled_layout(path)
        defaults = manifest.defaults if manifest else FALLBACK_DEFAULTS
        return ModelInfo(path, "neuron", (layout.shape,), layout.images_per_prompt, defaults, manifest)
    return _diffusers_info(path, manifest)


def resolve_model_root(path: Path) -> Path:
    """`path`, or its only shape sub-folder (`sdxl-inf2 compile` writes one folder per shape)."""
    if not path.is_dir():
        raise ModelDirError(f"model dir {path} does not exist or is not a folder")
    if (path / MODEL_INDEX).is_file():
        return path
    variants = sorted(p for p in path.iterdir() if (p / MODEL_INDEX).is_file())
    if len(variants) == 1:
        log.info("%s: serving its only shape folder %s", path, variants[0].name)
        return variants[0]
    if variants:
        names = ", ".join(p.name for p in variants)
        raise ModelDirError(
            f"{path} holds {len(variants)} shape folders ({names}); serving several shapes from one artifact is "
            f"not supported yet: package one of them, or set SM_MODEL_DIR to {path / variants[0].name}"
        )
    raise ModelDirError(f"{path / MODEL_INDEX}: missing (expected an SDXL model folder)")


def is_compiled(path: Path) -> bool:
    return "neuron" in _read_json(path / "unet" / "config.json", what="a UNet config")


def read_compiled_layout(path: Path) -> CompiledLayout:
    """Compiled size = unet static_height/width (latent) x vae_scale_factor; images per prompt =
    unet static_batch_size / text_encoder_2 static_batch_size."""
    unet_config = path / "unet" / "config.json"
    neuron = _read_json(unet_config, what="a UNet config")["neuron"]
    scale = vae_scale_factor(path / "vae_decoder" / "config.json")
    text = _read_json(path / "text_encoder_2" / "config.json", what="a text encoder config")
    try:
        shape = Shape(height=neuron["static_height"] * scale, width=neuron["static_width"] * scale)
        batch = int(text["neuron"]["static_batch_size"])
        images = int(neuron["static_batch_size"]) // batch
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelDirError(f"{unet_config}: neuron block incomplete ({type(exc).__name__}: {exc})") from None
    return CompiledLayout(shape, batch, max(1, images), neuron)


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


def _diffusers_info(path: Path, manifest: Manifest | None) -> ModelInfo:
    if manifest is not None:
        return ModelInfo(path, "diffusers", manifest.shapes, manifest.images_per_prompt, manifest.defaults, manifest)
    return ModelInfo(path, "diffusers", (default_diffusers_shape(path),), 4, FALLBACK_DEFAULTS, None)


def default_diffusers_shape(path: Path) -> Shape:
    """The size a diffusers SDXL generates by default: unet sample_size x vae_scale_factor."""
    unet = _read_json(path / "unet" / "config.json", what="a UNet config")
    side = int(unet.get("sample_size", 128)) * vae_scale_factor(path / "vae" / "config.json")
    return Shape(height=side, width=side)


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
