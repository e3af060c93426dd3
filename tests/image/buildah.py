"""buildah (chroot isolation, vfs storage) driven from the tests: no Docker engine, no daemon.

The image store lives under build/image-test/ (git-ignored; SDXL_IMAGE_STORE moves it). The
stand-in base is cached there under a tag derived from its recipe and the torch wheel, so reruns
reuse it; a clean checkout (CI) builds it from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STANDIN_SCRIPT = Path(__file__).with_name("standin-base.sh")
STANDIN_REPO = "localhost/sdxl-inf2-standin"
TORCH = "torch==2.13.0"
TIMINGS: list[str] = []  # measured times, printed in the terminal summary (tests/conftest.py)


class ToolsMissing(Exception):
    """buildah or debootstrap cannot be used here; the message says why."""


def store_dir() -> Path:
    return Path(os.environ.get("SDXL_IMAGE_STORE") or ROOT / "build" / "image-test")


def check_tools() -> None:
    """Raise ToolsMissing unless this machine can build and run images with buildah."""
    if os.geteuid() != 0:
        raise ToolsMissing("needs root (buildah with chroot isolation, debootstrap)")
    missing = [tool for tool in ("buildah", "debootstrap", "chroot") if shutil.which(tool) is None]
    if missing:
        raise ToolsMissing(f"{', '.join(missing)} not installed (make image-tools installs them)")


class Buildah:
    def __init__(self, store: Path) -> None:
        self.store = store
        self.env = {**os.environ, "BUILDAH_ROOT": str(store / "storage"), "BUILDAH_RUNROOT": str(store / "run")}

    def cmd(self, *args: str) -> list[str]:
        return ["buildah", "--root", self.env["BUILDAH_ROOT"], "--runroot", self.env["BUILDAH_RUNROOT"],
                "--storage-driver", "vfs", *args]  # fmt: skip

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def probe(self) -> None:
        """Raise ToolsMissing unless buildah can create and mount a container here (not in every sandbox)."""
        try:
            container = self.run("from", "scratch", timeout=60).stdout.strip()
            self.run("mount", container, timeout=60)
            self.run("rm", container, timeout=60)
        except (AssertionError, OSError, subprocess.TimeoutExpired) as exc:
            raise ToolsMissing(f"buildah cannot create and mount a container here: {exc}") from None

    def image_ids(self, reference: str) -> list[str]:
        result = self.run("images", "--quiet", "--noheading", reference, check=False)
        return result.stdout.split() if result.returncode == 0 else []

    def config(self, image: str) -> dict[str, Any]:
        """The image's Docker config (Entrypoint, Cmd, Env, Healthcheck, ExposedPorts, Labels)."""
        inspected = json.loads(self.run("inspect", "--type", "image", image).stdout)
        return dict(inspected["Docker"]["config"])

    def container(self, image: str) -> str:
        return self.run("from", "--quiet", "--pull-never", image, timeout=300).stdout.strip()

    def exec(self, container: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run argv inside the container (chroot isolation, the host's network), as `docker exec` would."""
        options = [f"--env={k}={v}" for k, v in (env or {}).items()]
        return self.run("run", "--isolation", "chroot", *options, container, "--", *argv, timeout=300, check=False)


def standin_tag(wheel: Path) -> str:
    """Tag for the stand-in base: changes whenever its recipe or the torch wheel changes."""
    digest = hashlib.sha256(STANDIN_SCRIPT.read_bytes() + wheel.name.encode()).hexdigest()[:16]
    return f"{STANDIN_REPO}:{digest}"


def torch_wheel(dest: Path) -> Path:
    """The torch 2.13.0 CPU wheel: SDXL_TORCH_WHEEL, else `pip download` (served from the local wheel cache)."""
    if os.environ.get("SDXL_TORCH_WHEEL"):
        return Path(os.environ["SDXL_TORCH_WHEEL"])
    existing = sorted(dest.glob("torch-2.13.0*.whl"))
    if existing:
        return existing[-1]
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", str(dest), TORCH]  # fmt: skip
    subprocess.run(download, check=True, capture_output=True, timeout=1800)
    return sorted(dest.glob("torch-2.13.0*.whl"))[-1]


def ensure_standin_base(buildah: Buildah) -> tuple[str, bool]:
    """(tag, built now?): the cached stand-in base, or a fresh one; older stand-ins are removed."""
    wheel = torch_wheel(buildah.store / "wheels")
    tag = standin_tag(wheel)
    if buildah.image_ids(tag):
        return tag, False
    for stale in buildah.image_ids(STANDIN_REPO):
        buildah.run("rmi", "--force", stale, check=False)
    script = [str(STANDIN_SCRIPT), tag, str(wheel)]
    result = subprocess.run(script, env=buildah.env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise AssertionError(f"stand-in base failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return tag, True


def build_image(buildah: Buildah, base: str, tag: str) -> str:
    """`docker build --build-arg BASE_IMAGE=<base> -t <tag> .` on the real Dockerfile; returns the log."""
    result = buildah.run(
        "build", "--isolation", "chroot", "--format", "docker", "--pull-never",
        "--build-arg", f"BASE_IMAGE={base}", "--tag", tag, "--file", str(ROOT / "Dockerfile"), str(ROOT),
        timeout=1800,
    )  # fmt: skip
    return result.stdout + result.stderr
