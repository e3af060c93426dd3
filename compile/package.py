"""`sdxl-inf2 package DIR --out model.tar.gz`: the archive SageMaker unpacks into /opt/ml/model.

- artifact files at the archive root (no leading folder);
- deterministic: sorted entries, fixed mtimes, owners and modes, a gzip header without time or
  name, so the same folder always gives the same sha256;
- streamed: files are copied through in chunks (never a second copy of a multi-GB file in memory);
- readable by any user (files 0644, folders 0755; safetensors writes 0600);
- checked first, as the server checks it at start: every file against the manifest (a folder of
  variants: against the root manifest, which `package` writes when it is missing, then each
  variant's own manifest and size);
- a compiled artifact gets its worker plan file beside the archive (`model.workers.json`,
  core/plan_file.py): what deploy reads to count the workers the container will run.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.manifest import MANIFEST_NAME
from sdxl_inf2.core.modeldir import MODEL_INDEX, ModelDirError, ModelInfo, inspect_model_dir
from sdxl_inf2.core.plan_file import WorkerPlanFile, plan_for, plan_name, render

from .describe import variant_folders, write_variants_root


class PackageError(SdxlError):
    """The folder cannot be packaged; one line naming the file."""


@dataclass(frozen=True)
class PackageResult:
    path: Path
    sha256: str
    size: int
    files: int
    plan: WorkerPlanFile | None = None  # compiled artifacts: written beside the archive
    plan_path: Path | None = None


class _HashingWriter:
    """Write-through file wrapper that hashes what passes (the archive is hashed as it is written)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class _ProgressReader:
    def __init__(self, raw: IO[bytes], bar: tqdm[Any]) -> None:
        self.raw, self.bar = raw, bar

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bar.update(len(data))
        return data


def check_manifests(folder: Path) -> ModelInfo:
    """Check the folder as the server will (every sha256); return what it serves."""
    if not (folder / MANIFEST_NAME).is_file():
        raise PackageError(f"{folder}: no {MANIFEST_NAME} (write one with `sdxl-inf2 manifest {folder}`)")
    try:
        return inspect_model_dir(folder, verify="full")
    except ModelDirError as exc:
        raise PackageError(str(exc)) from None


def prepare_variants_root(folder: Path, shares: dict[str, float] | None = None, default: str | None = None) -> bool:
    """Write the root manifest of a folder of variants (e.g. `sdxl-inf2 compile`'s output) when it has
    none, or when shares or the default variant are given; True if written."""
    is_variants_root = not (folder / MODEL_INDEX).is_file() and bool(variant_folders(folder))
    if (shares or default) and not is_variants_root:
        raise PackageError(f"{folder}: --shares and --default-variant apply to a folder of variant sub-folders")
    if not is_variants_root or ((folder / MANIFEST_NAME).is_file() and not (shares or default)):
        return False
    write_variants_root(folder, shares=shares, default=default)
    return True


def archive_entries(folder: Path, exclude: Path | None = None) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for every folder and file under `folder`, sorted by name."""
    paths = (p for p in folder.rglob("*") if p.is_dir() or p.is_file())
    entries = ((p.relative_to(folder).as_posix(), p) for p in paths if exclude is None or p.resolve() != exclude)
    yield from sorted(entries)


def _tar_info(name: str, path: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size = path.stat().st_size
        info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
    return info


def package(
    folder: Path,
    out: Path,
    compress_level: int = 1,
    progress: bool = True,
    shares: dict[str, float] | None = None,
    default_variant: str | None = None,
) -> PackageResult:
    """Write `out` atomically from `folder` and return its sha256. Compression level 1 by default:
    model weights barely compress, and level 1 is several times faster than 6."""
    if not folder.is_dir():
        raise PackageError(f"model folder {folder} does not exist or is not a folder")
    prepare_variants_root(folder, shares, default_variant)
    model = check_manifests(folder)
    entries = list(archive_entries(folder, exclude=out.resolve()))
    total = sum(p.stat().st_size for _, p in entries if p.is_file())
    partial = out.with_name(out.name + ".partial")
    with (
        partial.open("wb") as raw,
        tqdm(total=total, unit="B", unit_scale=True, desc=f"package {out.name}", disable=not progress) as bar,
    ):
        hashed = _HashingWriter(raw)
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=hashed, mtime=0, compresslevel=compress_level) as zipped,
            tarfile.open(fileobj=zipped, mode="w|", format=tarfile.GNU_FORMAT) as tar,
        ):
            for name, path in entries:
                _add(tar, name, path, bar)
    os.replace(partial, out)
    sha256 = hashed.digest.hexdigest()
    plan = plan_for(model, sha256)
    plan_path = out.with_name(plan_name(out.name)) if plan else None
    if plan and plan_path:
        plan_path.write_text(render(plan))
    files = sum(1 for _, p in entries if p.is_file())
    return PackageResult(out, sha256, hashed.size, files, plan, plan_path)


def _add(tar: tarfile.TarFile, name: str, path: Path, bar: tqdm[Any]) -> None:
    info = _tar_info(name, path)
    if info.isdir():
        tar.addfile(info)
        return
    with path.open("rb") as handle:
        tar.addfile(info, _ProgressReader(handle, bar))
