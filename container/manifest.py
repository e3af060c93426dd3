"""`manifest.json`: what an artifact folder holds, and the checksums that prove it.

Every artifact folder (compiled Neuron, or plain diffusers for the torch backend, the tiny model
included) carries one. The server reads shapes and generation defaults from it and refuses to start
on a folder whose files do not match it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .validation import first_problem

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
_CHUNK = 4 * 1024 * 1024


class ManifestError(Exception):
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


def read_manifest(folder: Path) -> Manifest:
    """Parse `folder/manifest.json`; every problem is one line naming the file and the key."""
    path = folder / MANIFEST_NAME
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (build the folder with sdxl-inf2)") from None
    except ValidationError as exc:
        raise ManifestError(f"{path}: {first_problem(exc, '(root)')}") from None


def artifact_files(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder` except the manifest itself, sorted by relative path."""
    paths = (p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
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
    fields = {"format_version": FORMAT_VERSION, **manifest_fields, "files": checksum_files(folder)}
    manifest = Manifest.model_validate(fields)
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST_NAME).write_text(text)
    return manifest


def verify_files(folder: Path, manifest: Manifest, *, full: bool = True) -> None:
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
