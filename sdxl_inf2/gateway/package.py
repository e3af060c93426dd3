"""The Lambda zip: the gateway and what it imports, built reproducibly from the installed packages.

Contents: `sdxl_inf2/__init__.py`, the core (`sdxl_inf2.core`: the request and cache rules the
container follows too) and the gateway (`sdxl_inf2.gateway`, less its local HTTP front end serve.py),
and the installed files of the distributions they import at run time, with their dependencies: boto3
(pinned here, not the Lambda runtime's own copy, which lags and may lack S3's conditional writes),
pydantic (the request schema), aws-embedded-metrics (EMF). No server module, no web framework, no
bytecode, no console scripts. Reproducible: entries sorted, every timestamp
1980-01-01, modes 0644, one compression level, so the same installation gives the same sha256 (and
Lambda's CodeSha256 tells deploy whether the function's code must change).

Compiled extensions (pydantic-core, aiohttp's) must match the Lambda runtime: the zip is built for
the interpreter that builds it (python3.10/3.11, x86_64 or arm64 Linux) and refused anywhere else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import io
import platform
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tqdm import tqdm

from sdxl_inf2.core.errors import SdxlError

HANDLER = "sdxl_inf2.gateway.lambda_handler.handler"
PROJECT_ROOT = "sdxl_inf2"
PROJECT_PACKAGES = ("core", "gateway")  # below PROJECT_ROOT
LOCAL_ONLY = ("gateway/serve.py",)  # the local HTTP front end (werkzeug); Lambda runs lambda_handler.py
ROOT_DISTRIBUTIONS = ("boto3", "pydantic", "aws-embedded-metrics")
ZIPPED_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded with the API (CreateFunction ZipFile)
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's limit for the unpacked function
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64"}  # platform.machine() -> Lambda's name
SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}  # install-specific


class GatewayPackageError(SdxlError):
    """The zip cannot be built here; one line saying why."""


@dataclass(frozen=True)
class LambdaZip:
    data: bytes
    runtime: str  # python3.11
    architecture: str  # x86_64 | arm64
    files: int
    unpacked_bytes: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def code_sha256(self) -> str:
        """As Lambda reports it (CodeSha256): the base64 of the digest."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


@functools.cache
def build_zip() -> LambdaZip:
    """The zip of this installation (built once per process)."""
    runtime, architecture = lambda_platform()
    files = dict(project_files())
    for distribution in dependency_closure(ROOT_DISTRIBUTIONS):
        check_platform(distribution, architecture)
        files.update(distribution_files(distribution))
    unpacked = sum(path.stat().st_size for path in files.values())
    if unpacked > UNZIPPED_LIMIT:
        raise GatewayPackageError(f"the gateway unpacks to {unpacked >> 20} MiB, over Lambda's 250 MiB")
    data = _zip(files)
    if len(data) > ZIPPED_LIMIT:
        raise GatewayPackageError(f"the gateway zip is {len(data) >> 20} MiB, over Lambda's 50 MiB for a direct upload")
    return LambdaZip(data, runtime, architecture, len(files), unpacked)


def lambda_platform() -> tuple[str, str]:
    """(runtime, architecture) of this interpreter, when Lambda has them."""
    machine = platform.machine()
    if sys.platform != "linux" or machine not in ARCHITECTURES:
        raise GatewayPackageError(
            f"the gateway zip carries compiled modules, so it must be built on Linux x86_64 or aarch64 "
            f"(this is {sys.platform} {machine}); build it there, e.g. in CodeBuild"
        )
    return f"python{sys.version_info.major}.{sys.version_info.minor}", ARCHITECTURES[machine]


def project_files() -> Iterator[tuple[str, Path]]:
    """The package root's `__init__.py`, the core and the gateway: no other part of sdxl_inf2."""
    top = importlib.util.find_spec(PROJECT_ROOT)
    if top is None or top.origin is None:
        raise GatewayPackageError(f"package {PROJECT_ROOT} is not installed")
    yield f"{PROJECT_ROOT}/__init__.py", Path(top.origin)
    for package in PROJECT_PACKAGES:
        spec = importlib.util.find_spec(f"{PROJECT_ROOT}.{package}")
        if spec is None or not spec.submodule_search_locations:
            raise GatewayPackageError(f"package {PROJECT_ROOT}.{package} is not installed")
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            name = f"{package}/{path.relative_to(root).as_posix()}"
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" and name not in LOCAL_ONLY:
                yield f"{PROJECT_ROOT}/{name}", path


def dependency_closure(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions `roots` need at run time (markers evaluated here, no extras)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            found[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise GatewayPackageError(f"{name} is not installed (the gateway needs it)") from None
        for line in found[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [found[name] for name in sorted(found)]


def check_platform(distribution: metadata.Distribution, architecture: str) -> None:
    """A wheel with compiled code must be built for Linux (glibc) on this architecture."""
    lines = (distribution.read_text("WHEEL") or "").splitlines()
    tags = [line.removeprefix("Tag:").strip() for line in lines if line.startswith("Tag:")]
    platforms = {tag.rsplit("-", 1)[-1] for tag in tags}
    machine = "aarch64" if architecture == "arm64" else "x86_64"
    if platforms and not any(p == "any" or ("linux" in p and "musl" not in p and machine in p) for p in platforms):
        name, version = distribution.metadata["Name"], distribution.version
        raise GatewayPackageError(
            f"{name} {version} is installed for {', '.join(sorted(platforms))}, not Lambda's Linux"
        )


def distribution_files(distribution: metadata.Distribution) -> Iterator[tuple[str, Path]]:
    for entry in distribution.files or []:
        name = entry.as_posix()
        if name.startswith("..") or "__pycache__" in entry.parts or name.endswith(".pyc"):
            continue  # console scripts outside site-packages; bytecode
        if entry.parent.name.endswith(".dist-info") and entry.name in SKIPPED_METADATA:
            continue
        path = Path(str(distribution.locate_file(entry)))
        if path.is_file():
            yield name, path


def _zip(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in tqdm(sorted(files), desc="gateway zip", unit="file", disable=None):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # unix, so the mode above is read
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes(), compresslevel=6)
    return buffer.getvalue()
