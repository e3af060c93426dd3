"""Manifest fields for an artifact folder: a compiled Neuron one, a plain diffusers one, or a
variants root (one model folder per variant below it)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from sdxl_inf2.core.manifest import (
    MANIFEST_NAME,
    Defaults,
    LoraEntry,
    Manifest,
    ManifestError,
    Shape,
    VariantsManifest,
    read_any_manifest,
    read_manifest,
    write_manifest,
    write_variants_manifest,
)
from sdxl_inf2.core.modeldir import ModelDirError, default_diffusers_shape, is_compiled, read_compiled_layout

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


def variant_folders(root: Path) -> list[Path]:
    """The model folders (with model_index.json and manifest.json) directly below a variants root."""
    found = (p for p in root.iterdir() if (p / "model_index.json").is_file() and (p / MANIFEST_NAME).is_file())
    return sorted(found, key=lambda p: p.name)


def write_variants_root(
    root: Path,
    names: list[str] | None = None,
    shares: dict[str, float] | None = None,
    default: str | None = None,
) -> VariantsManifest:
    """Write the root manifest of a folder of variants: each sub-folder's size and defaults as its own
    manifest says, its share (else the current root manifest's, else 1), and which is the default
    (else the current one, else the first). `names` orders them (default: sorted folder names)."""
    names = names or [p.name for p in variant_folders(root)]
    if not names:
        raise ManifestError(f"{root}: no variant sub-folders (model folders with {MANIFEST_NAME})")
    for name in [*(shares or {}), *([default] if default else [])]:
        if name not in names:
            raise ManifestError(f"{root}: no variant {name!r}; the variants are {', '.join(names)}")
    current = _current_root(root)
    kept = {v.name: v.share for v in current.variants} if current else {}
    shares = {**kept, **(shares or {})}
    if default is None:
        default = current.default_variant if current and current.default_variant in names else names[0]
    entries = [_entry(root / name, shares.get(name, 1.0)) for name in names]
    return write_variants_manifest(root, {"variants": entries, "default_variant": default})


def _current_root(root: Path) -> VariantsManifest | None:
    if not (root / MANIFEST_NAME).is_file():
        return None
    current = read_any_manifest(root)
    return current if isinstance(current, VariantsManifest) else None


def _entry(folder: Path, share: float) -> dict[str, object]:
    manifest = read_manifest(folder)
    return {
        "name": folder.name,
        "shape": manifest.shapes[0].model_dump(),  # a variant serves one size: its manifest's first
        "defaults": manifest.defaults.model_dump(),
        "share": share,
    }
