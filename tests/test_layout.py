"""The repository's shape: one import package in the wheel, and the design card's paths at the top."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARD_PATHS = ("container", "compile", "model_artifacts", "tests", "serve.py", "Dockerfile", "buildspec.yml")


def test_the_design_cards_paths_are_at_the_top_and_linked_into_the_package() -> None:
    assert [path for path in CARD_PATHS if not (ROOT / path).exists()] == []
    for folder in ("container", "compile"):
        assert (ROOT / folder).is_dir() and not (ROOT / folder).is_symlink()
        link = ROOT / "sdxl_inf2" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve()


def test_the_wheels_only_top_level_package_is_sdxl_inf2(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("sdxl_inf2-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"sdxl_inf2"}
    for module in ("container/server.py", "compile/cli.py", "core/schema.py", "gateway/lambda_handler.py"):
        assert f"sdxl_inf2/{module}" in names  # the links became real files in the wheel
