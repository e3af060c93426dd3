"""Reads an artifact folder: what kind it is, which variants and shapes it serves, their defaults.

Read by the front before any worker starts (JSON files only, no model weights), so bad folders
fail fast with one line and requests can be validated without a worker. Two layouts:

- one model folder (diffusers or compiled): served as the single variant `default`;
- a variants root: a `manifest.json` listing variants, each a model folder of its own in the
  sub-folder of its name (`sdxl-inf2 compile` with several shapes, `package`, `tiny-model
  --variants`). The root's checksums cover every file below it, so one check proves them all.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .errors import SdxlError
from .guidance import CompiledBatch, names_an_lcm
from .manifest import (
    MANIFEST_NAME,
    AnyManifest,
    Defaults,
    Manifest,
    ManifestError,
    Shape,
    VariantEntry,
    VariantsManifest,
    read_any_manifest,
    read_manifest,
    verify_files,
)

log = logging.getLogger(__name__)

ModelKind = Literal["neuron", "diffusers"]
Verify = Literal["full", "size", "off"]
FALLBACK_DEFAULTS = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="default")
MODEL_INDEX = "model_index.json"
DEFAULT_VARIANT = "default"  # the name a single model folder is served under


class ModelDirError(SdxlError):
    """The model folder is missing or unusable; the message is one line naming the path."""


@dataclass(frozen=True)
class ModelInfo:
    """What a folder serves. A variants root describes the whole (every shape, the largest image
    count, the default variant's defaults, the root manifest) and lists its `variants`."""

    path: Path
    kind: ModelKind
    shapes: tuple[Shape, ...]
    max_images: int
    defaults: Defaults
    manifest: AnyManifest | None
    compiled_batch: CompiledBatch | None = None  # compiled folders: which guidance scales can run
    variants: tuple[Variant, ...] = ()  # a variants root's, the default one first

    @property
    def default_shape(self) -> Shape:
        return self.shapes[0]

    def describe_shapes(self) -> str:
        return ", ".join(str(s) for s in self.shapes)

    @property
    def served(self) -> tuple[Variant, ...]:
        """The variants requests are routed to: a single model folder is the one variant `default`."""
        return self.variants or (Variant(DEFAULT_VARIANT, self),)

    @property
    def has_variants(self) -> bool:
        return bool(self.variants)

    def guidance_refusal(self, guidance_scale: float) -> str | None:
        return self.compiled_batch.refusal(guidance_scale) if self.compiled_batch else None

    def with_batches(self, batches: dict[str, CompiledBatch | None]) -> ModelInfo:
        """This folder with each served variant's compiled batch replaced (as its workers run it)."""
        if not self.variants:
            return replace(self, compiled_batch=batches[DEFAULT_VARIANT])
        served = (replace(v, model=replace(v.model, compiled_batch=batches[v.name])) for v in self.variants)
        return replace(self, variants=tuple(served))


@dataclass(frozen=True)
class Variant:
    """One routing target: a model folder, its name, and its share of the workers by default."""

    name: str
    model: ModelInfo
    share: float = 1.0


@dataclass(frozen=True)
class CompiledLayout:
    """What optimum-neuron 0.4.5 recorded in the `neuron` blocks of a compiled folder."""

    shape: Shape
    batch_size: int
    images_per_prompt: int
    unet_neuron: dict[str, Any]
    batch: CompiledBatch


def inspect_model_dir(path: Path, verify: Verify = "full") -> ModelInfo:
    """Validate `path` and describe it; raise ModelDirError with one line on any problem."""
    if path.is_dir() and _lists_variants(path):
        return _variants_info(path, verify)
    root = resolve_model_root(path)
    return _default_guidance_runs(_model_info(root, verify), root / MANIFEST_NAME)


def _model_info(path: Path, verify: Verify) -> ModelInfo:
    """One model folder: a compiled Neuron one or a plain diffusers one (its defaults not yet checked)."""
    index = _read_json(path / MODEL_INDEX, what="an SDXL model folder")
    class_name = str(index.get("_class_name", ""))
    if "StableDiffusionXL" not in class_name:
        raise ModelDirError(f"{path / MODEL_INDEX}: _class_name {class_name!r} is not an SDXL pipeline")
    manifest = _checked_manifest(path, verify)
    if is_compiled(path):
        layout = read_compiled_layout(path)
        defaults = manifest.defaults if manifest else FALLBACK_DEFAULTS
        return ModelInfo(path, "neuron", (layout.shape,), layout.images_per_prompt, defaults, manifest, layout.batch)
    return _diffusers_info(path, manifest)


def _lists_variants(path: Path) -> bool:
    try:
        data = json.loads((path / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError):
        return False  # no manifest, or one the single-folder reader reports
    return isinstance(data, dict) and "variants" in data


def _variants_info(root: Path, verify: Verify) -> ModelInfo:
    """A variants root: one full check of every file against the root manifest, then each
    variant's own manifest by size (its bytes were just checked through the root's checksums)."""
    manifest = _checked_any_manifest(root, verify)
    assert isinstance(manifest, VariantsManifest)  # _lists_variants said so
    entries = sorted(manifest.variants, key=lambda v: v.name != manifest.default_variant)
    variants = tuple(_variant(root, entry, "off" if verify == "off" else "size") for entry in entries)
    kinds = sorted({v.model.kind for v in variants})
    if len(kinds) > 1:
        raise ModelDirError(
            f"{root / MANIFEST_NAME}: variants of several kinds ({', '.join(kinds)}); one backend serves them all"
        )
    shapes = tuple(dict.fromkeys(v.model.default_shape for v in variants))
    default = variants[0].model
    max_images = max(v.model.max_images for v in variants)
    return ModelInfo(root, default.kind, shapes, max_images, default.defaults, manifest, variants=variants)


def _variant(root: Path, entry: VariantEntry, verify: Verify) -> Variant:
    folder = root / entry.name
    if not (folder / MODEL_INDEX).is_file():
        raise ModelDirError(f"{folder / MODEL_INDEX}: missing (variant {entry.name!r} of {root / MANIFEST_NAME})")
    info = _model_info(folder, verify)
    if entry.shape not in info.shapes:
        raise ModelDirError(
            f"{root / MANIFEST_NAME}: variant {entry.name!r} is listed at {entry.shape}, but {folder} serves "
            f"{info.describe_shapes()}"
        )
    served = replace(info, shapes=(entry.shape,), defaults=entry.defaults)  # the root's entry decides
    return Variant(entry.name, _default_guidance_runs(served, root / MANIFEST_NAME), entry.share)


def _default_guidance_runs(info: ModelInfo, manifest_path: Path) -> ModelInfo:
    """Plan the NeuronCores of a compiled folder's workers from its default guidance (one core when
    guidance-free), and refuse to start on defaults it cannot run (every default request would fail)."""
    if info.compiled_batch is not None:
        info = replace(info, compiled_batch=info.compiled_batch.planned(info.defaults.guidance_scale))
    reason = info.guidance_refusal(info.defaults.guidance_scale)
    if reason:
        raise ModelDirError(f"{manifest_path}: default {reason}")
    return info


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
            f"{path} holds {len(variants)} shape folders ({names}) but no {MANIFEST_NAME} listing them: "
            f"`sdxl-inf2 package {path}` writes one (and serves them all), or set SM_MODEL_DIR to "
            f"{path / variants[0].name}"
        )
    raise ModelDirError(f"{path / MODEL_INDEX}: missing (expected an SDXL model folder)")


def is_compiled(path: Path) -> bool:
    return "neuron" in _read_json(path / "unet" / "config.json", what="a UNet config")


def read_compiled_layout(path: Path) -> CompiledLayout:
    """Compiled size = unet static_height/width (latent) x vae_scale_factor; images per prompt =
    unet static_batch_size / text_encoder_2 static_batch_size."""
    unet_config = path / "unet" / "config.json"
    unet = _read_json(unet_config, what="a UNet config")
    neuron = unet["neuron"]
    scale = vae_scale_factor(path / "vae_decoder" / "config.json")
    text = _read_json(path / "text_encoder_2" / "config.json", what="a text encoder config")
    try:
        shape = Shape(height=neuron["static_height"] * scale, width=neuron["static_width"] * scale)
        batch = int(text["neuron"]["static_batch_size"])
        unet_batch = int(neuron["static_batch_size"])
        images = max(1, unet_batch // batch)
        facts = CompiledBatch(
            unet_batch=unet_batch,
            images_per_call=images,
            dynamic=bool(neuron.get("dynamic_batch_size", False)),
            guidance_embedding=unet.get("time_cond_proj_dim") is not None,
            lcm=names_an_lcm(str(unet.get("_name_or_path") or "")),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelDirError(f"{unet_config}: neuron block incomplete ({type(exc).__name__}: {exc})") from None
    return CompiledLayout(shape, batch, images, neuron, facts)


def _checked_manifest(path: Path, verify: str) -> Manifest | None:
    manifest = _checked_any_manifest(path, verify)
    assert not isinstance(manifest, VariantsManifest)  # _lists_variants sends those elsewhere
    return manifest


def _checked_any_manifest(path: Path, verify: str) -> AnyManifest | None:
    if not (path / MANIFEST_NAME).is_file():
        log.warning("%s: no %s; serving without file checks", path, MANIFEST_NAME)
        return None
    try:
        manifest = read_any_manifest(path) if _lists_variants(path) else read_manifest(path)
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
