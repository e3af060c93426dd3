"""`manifest.json`: what an artifact folder holds, and the checksums that prove it.

Every artifact folder (compiled Neuron, or plain diffusers for the torch backend, the tiny model
included) carries one (`Manifest`). A folder of several variants (one model folder each, e.g. one
per compiled shape) carries a root one too (`VariantsManifest`): the variants with their shape,
defaults and share of the workers, and the checksums of every file below it, the variants'
own manifests included. Both are one format: `format_version`, their fields, and `files`. The
server reads shapes and generation defaults from them and refuses to start on a folder whose files
do not match.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import SdxlError
from .validation import first_problem

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_CHUNK = 4 * 1024 * 1024


class ManifestError(SdxlError):
    """The manifest is missing, malformed, or does not match the files."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shape(_Strict):
    height: int = Field(gt=0, multiple_of=8)
    width: int = Field(gt=0, multiple_of=8)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class Defaults(_Strict):
    num_inference_steps: int = Field(ge=1, le=500)
    guidance_scale: float = Field(ge=0, le=50)
    scheduler: str


class Source(_Strict):
    model_id: str
    revision: str | None = None


class LoraEntry(_Strict):
    id: str
    weight_name: str
    adapter_name: str
    scale: float


class FileEntry(_Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Manifest(_Strict):
    format_version: Literal[1]
    backend: Literal["neuron", "torch"]
    source: Source
    shapes: tuple[Shape, ...] = Field(min_length=1)
    batch_size: int = Field(ge=1)
    images_per_prompt: int = Field(ge=1)
    dtype: str
    auto_cast: str | None = None
    auto_cast_type: str | None = None
    versions: dict[str, str | None]
    defaults: Defaults
    lora: tuple[LoraEntry, ...] = ()
    files: dict[str, FileEntry]


VARIANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # also the variant's sub-folder


class VariantEntry(_Strict):
    """One variant of a multi-variant artifact: its sub-folder `name`, what it serves, its share."""

    name: str = Field(pattern=VARIANT_NAME)
    shape: Shape
    defaults: Defaults
    share: float = Field(1.0, gt=0, le=1000)  # default worker split: in proportion to the shares


class VariantsManifest(_Strict):
    format_version: Literal[1]
    variants: tuple[VariantEntry, ...] = Field(min_length=1)
    default_variant: str
    files: dict[str, FileEntry]

    @model_validator(mode="after")
    def _names(self) -> VariantsManifest:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"a variant name is listed twice ({', '.join(names)})")
        if self.default_variant not in names:
            raise ValueError(f"default_variant {self.default_variant!r} is not one of {', '.join(names)}")
        return self

    def entry(self, name: str) -> VariantEntry:
        return next(v for v in self.variants if v.name == name)


AnyManifest = Manifest | VariantsManifest


def read_manifest(folder: Path) -> Manifest:
    """Parse `folder/manifest.json` of one model folder; every problem is one line naming the file and the key."""
    manifest = read_any_manifest(folder)
    if isinstance(manifest, VariantsManifest):
        raise ManifestError(f"{folder / MANIFEST_NAME}: lists variants; expected one model folder's manifest")
    return manifest


def read_any_manifest(folder: Path) -> AnyManifest:
    """A model folder's manifest, or a variants root's (told apart by its `variants` key)."""
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_bytes())
        kind: type[Manifest] | type[VariantsManifest] = (
            VariantsManifest if isinstance(data, dict) and "variants" in data else Manifest
        )
        return kind.model_validate(data)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (build the folder with sdxl-inf2)", file=path) from None
    except ValidationError as exc:
        raise ManifestError(f"{path}: {first_problem(exc, '(root)')}", file=path) from None
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
        raise ManifestError(f"{path}: not valid JSON ({exc})", file=path) from None


def artifact_files(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder` except its own manifest, sorted by relative path (a
    variants root's checksums cover its variants' manifests too)."""
    own = folder / MANIFEST_NAME
    paths = (p for p in folder.rglob("*") if p.is_file() and p != own)
    yield from sorted(paths, key=lambda p: p.relative_to(folder).as_posix())


def file_entry(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return FileEntry(sha256=digest.hexdigest(), size=path.stat().st_size)


def checksum_files(folder: Path) -> dict[str, FileEntry]:
    return {p.relative_to(folder).as_posix(): file_entry(p) for p in artifact_files(folder)}


def write_manifest(folder: Path, manifest_fields: dict[str, object]) -> Manifest:
    """Checksum the folder and write its manifest (fields as in `Manifest`, minus `files`)."""
    manifest = Manifest.model_validate(_with_files(folder, manifest_fields))
    _write(folder, manifest)
    return manifest


def write_variants_manifest(folder: Path, manifest_fields: dict[str, object]) -> VariantsManifest:
    """Checksum everything below a variants root and write its manifest (fields as in `VariantsManifest`)."""
    manifest = VariantsManifest.model_validate(_with_files(folder, manifest_fields))
    _write(folder, manifest)
    return manifest


def _with_files(folder: Path, manifest_fields: dict[str, object]) -> dict[str, object]:
    return {"format_version": FORMAT_VERSION, **manifest_fields, "files": checksum_files(folder)}


def _write(folder: Path, manifest: AnyManifest) -> None:
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST_NAME).write_text(text)


def verify_files(folder: Path, manifest: AnyManifest, *, full: bool = True) -> None:
    """Raise ManifestError naming the first file that is missing, extra, resized or altered."""
    on_disk = {p.relative_to(folder).as_posix() for p in artifact_files(folder)}
    for name in sorted(on_disk - manifest.files.keys()):
        raise ManifestError(f"{folder / name}: file not listed in {MANIFEST_NAME}")
    for name, entry in sorted(manifest.files.items()):
        _verify_one(folder / name, entry, full)


def _verify_one(path: Path, entry: FileEntry, full: bool) -> None:
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise ManifestError(f"{path}: listed in {MANIFEST_NAME} but missing") from None
    if size != entry.size:
        raise ManifestError(f"{path}: size {size} != {entry.size} in {MANIFEST_NAME}")
    if full and file_entry(path).sha256 != entry.sha256:
        raise ManifestError(f"{path}: sha256 does not match {MANIFEST_NAME}")
