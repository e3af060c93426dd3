"""Manifest fields for an artifact folder: a compiled Neuron one or a plain diffusers one."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from container.manifest import Defaults, LoraEntry, Manifest, Shape, write_manifest
from container.modeldir import ModelDirError, default_diffusers_shape, is_compiled, read_compiled_layout

VERSIONED = ("optimum-neuron", "torch-neuronx", "diffusers", "transformers", "torch")


def installed_versions() -> dict[str, str | None]:
    """Versions on this host (None where not installed), e.g. the compile host's."""
    found: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def compiled_fields(
    folder: Path,
    source: dict[str, str | None],
    defaults: Defaults,
    lora: tuple[LoraEntry, ...] = (),
    dtype: str = "float32",
) -> dict[str, object]:
    """Manifest fields of a folder written by `optimum-cli export neuron`, read from its neuron blocks."""
    layout = read_compiled_layout(folder)
    neuron = layout.unet_neuron
    versions = {**installed_versions(), "neuronx-cc": str(neuron.get("compiler_version"))}
    return {
        "backend": "neuron",
        "source": source,
        "shapes": [layout.shape.model_dump()],
        "batch_size": layout.batch_size,
        "images_per_prompt": layout.images_per_prompt,
        "dtype": dtype,
        "auto_cast": neuron.get("auto_cast"),
        "auto_cast_type": neuron.get("auto_cast_type"),
        "versions": versions,
        "defaults": defaults.model_dump(),
        "lora": [entry.model_dump() for entry in lora],
    }


def diffusers_fields(
    folder: Path,
    source: dict[str, str | None],
    defaults: Defaults,
    shapes: tuple[Shape, ...] = (),
    images_per_prompt: int = 4,
) -> dict[str, object]:
    """Manifest fields of a plain diffusers SDXL folder (torch backend): any listed size is allowed."""
    sizes = shapes or (default_diffusers_shape(folder),)
    return {
        "backend": "torch",
        "source": source,
        "shapes": [s.model_dump() for s in sizes],
        "batch_size": 1,
        "images_per_prompt": images_per_prompt,
        "dtype": "float32",
        "versions": installed_versions(),
        "defaults": defaults.model_dump(),
    }


def write_folder_manifest(
    folder: Path,
    source: dict[str, str | None],
    defaults: Defaults,
    shapes: tuple[Shape, ...] = (),
    images_per_prompt: int = 4,
) -> Manifest:
    """`sdxl-inf2 manifest DIR`: detect the kind of folder and write its manifest."""
    if not (folder / "model_index.json").is_file():
        raise ModelDirError(f"{folder / 'model_index.json'}: missing (expected an SDXL model folder)")
    if is_compiled(folder):
        return write_manifest(folder, compiled_fields(folder, source, defaults))
    return write_manifest(folder, diffusers_fields(folder, source, defaults, shapes, images_per_prompt))
