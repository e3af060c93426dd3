"""A multi-variant artifact: `tiny-model --variants`, the root manifest, `package` (verified as the
server verifies it: tampering in either variant refused, naming the file) and the reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdxl_inf2.compile.describe import write_variants_root
from sdxl_inf2.compile.package import PackageError, package
from sdxl_inf2.core.manifest import MANIFEST_NAME, ManifestError, VariantsManifest, read_any_manifest
from sdxl_inf2.core.modeldir import ModelDirError, inspect_model_dir
from tests.test_compile import cli
from tests.test_package import compiled_artifact, extract, run_package

WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sdxl-inf2 tiny-model DIR --variants 64x64,96x64`, through the real command line."""
    out = tmp_path_factory.mktemp("variants") / "tiny"
    result = cli("tiny-model", str(out), "--variants", "64x64,96x64")
    assert result.returncode == 0, result.stderr
    return out


def copy(folder: Path, into: Path) -> Path:
    return Path(shutil.copytree(folder, into))


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the sha256 can tell
    path.write_bytes(bytes(data))


def test_tiny_model_variants_writes_one_model_per_size_and_the_root_manifest(variants: Path) -> None:
    root = read_any_manifest(variants)
    assert isinstance(root, VariantsManifest)
    assert [(v.name, v.shape.width, v.shape.height) for v in root.variants] == [("64x64", 64, 64), ("96x64", 96, 64)]
    assert root.default_variant == "64x64" and all(v.share == 1 for v in root.variants)
    assert {"64x64/manifest.json", f"64x64/{WEIGHTS}", f"96x64/{WEIGHTS}"} <= set(root.files)  # the whole tree
    first, second = (variants / name / WEIGHTS for name in ("64x64", "96x64"))
    assert first.read_bytes() != second.read_bytes()  # two models, not one copied
    info = inspect_model_dir(variants)
    assert [(v.name, str(v.model.path), v.model.describe_shapes()) for v in info.served] == [
        ("64x64", str(variants / "64x64"), "64x64"),
        ("96x64", str(variants / "96x64"), "96x64"),
    ]
    assert info.describe_shapes() == "64x64, 96x64" and info.kind == "diffusers"


def test_a_single_model_folder_is_the_one_variant_default(tiny_model: Path) -> None:
    info = inspect_model_dir(tiny_model)
    assert not info.has_variants
    [only] = info.served
    assert (only.name, only.model) == ("default", info)
    assert only.model.describe_shapes() == "64x64, 96x64"  # served exactly as before


def test_packaged_variants_round_trip(variants: Path, tmp_path: Path) -> None:
    result = package(variants, tmp_path / "model.tar.gz", progress=False)
    model_dir = extract(result.path, tmp_path / "opt_ml_model")
    info = inspect_model_dir(model_dir)  # every sha256 against the root manifest
    assert [v.name for v in info.variants] == ["64x64", "96x64"]
    assert package(variants, tmp_path / "again.tar.gz", progress=False).sha256 == result.sha256


@pytest.mark.parametrize("variant", ["64x64", "96x64"])
def test_tampering_in_either_variant_is_refused_naming_the_file(variants: Path, tmp_path: Path, variant: str) -> None:
    folder = copy(variants, tmp_path / "v")
    flip_one_byte(folder / variant / WEIGHTS)
    named = rf"{folder / variant / WEIGHTS}: sha256 does not match manifest\.json"
    with pytest.raises(PackageError, match=named):
        package(folder, tmp_path / "m.tar.gz", progress=False)
    with pytest.raises(ModelDirError, match=named):  # and the server refuses to start on it
        inspect_model_dir(folder)
    assert inspect_model_dir(folder, verify="size").served  # sizes alone cannot tell
    assert not (tmp_path / "m.tar.gz").exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f: (f / "96x64" / "extra.bin").write_bytes(b"x"), "96x64/extra.bin: file not listed in manifest.json"),
        (lambda f: (f / "64x64" / WEIGHTS).unlink(), f"64x64/{WEIGHTS}: listed in manifest.json but missing"),
        (lambda f: (f / "96x64" / MANIFEST_NAME).write_text("{}"), "96x64/manifest.json: size"),
    ],
    ids=["extra file", "missing file", "variant manifest edited"],
)
def test_the_root_manifest_covers_every_file_below_it(
    variants: Path, tmp_path: Path, change: object, words: str
) -> None:
    folder = copy(variants, tmp_path / "v")
    change(folder)  # type: ignore[operator]
    with pytest.raises(PackageError, match=words):
        package(folder, tmp_path / "m.tar.gz", progress=False)


def edit_root(folder: Path, **changes: object) -> None:
    data = json.loads((folder / MANIFEST_NAME).read_text())
    data.update(changes)
    (folder / MANIFEST_NAME).write_text(json.dumps(data))


def test_bad_root_manifests_are_one_line(variants: Path, tmp_path: Path) -> None:
    folder = copy(variants, tmp_path / "v")
    edit_root(folder, default_variant="nope")
    with pytest.raises(
        ModelDirError, match=r"manifest\.json: \(root\): default_variant 'nope' is not one of 64x64, 96x64"
    ):
        inspect_model_dir(folder, verify="off")
    data = json.loads((variants / MANIFEST_NAME).read_text())
    data["variants"][1]["shape"] = {"height": 64, "width": 64}
    edit_root(folder, default_variant="64x64", variants=data["variants"])
    with pytest.raises(ModelDirError, match=r"variant '96x64' is listed at 64x64, but .*96x64 serves 96x64"):
        inspect_model_dir(folder, verify="off")
    edit_root(folder, variants=[{**data["variants"][0], "name": "../up"}])
    with pytest.raises(ModelDirError, match=r"variants\.0\.name: String should match pattern"):
        inspect_model_dir(folder, verify="off")


def test_variants_of_two_kinds_are_refused(variants: Path, tiny_model: Path, tmp_path: Path) -> None:
    folder = copy(variants, tmp_path / "v")
    shutil.rmtree(folder / "96x64")
    compiled_artifact(tiny_model, folder / "1024x1024")
    write_variants_root(folder)
    with pytest.raises(ModelDirError, match="variants of several kinds \\(diffusers, neuron\\)"):
        inspect_model_dir(folder)


def test_package_shares_and_default_variant(variants: Path, tmp_path: Path) -> None:
    folder = copy(variants, tmp_path / "v")
    out = tmp_path / "m.tar.gz"
    result = run_package(str(folder), "--out", str(out), "--shares", "96x64:3", "--default-variant", "96x64")
    assert result.returncode == 0, result.stderr
    root = read_any_manifest(folder)
    assert isinstance(root, VariantsManifest) and root.default_variant == "96x64"
    assert {v.name: v.share for v in root.variants} == {"64x64": 1.0, "96x64": 3.0}
    assert [v.name for v in inspect_model_dir(folder).served] == ["96x64", "64x64"]  # the default first
    unknown = run_package(str(folder), "--out", str(out), "--default-variant", "128x128")
    assert unknown.returncode == 2 and "no variant '128x128'; the variants are 64x64, 96x64" in unknown.stderr
    bad = run_package(str(folder), "--out", str(out), "--shares", "96x64")
    assert bad.returncode == 2 and "expected name:number" in bad.stderr and "Traceback" not in bad.stderr


def test_shares_apply_to_variants_only(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="--shares and --default-variant apply to a folder of variant sub-folders"):
        package(tiny_model, tmp_path / "m.tar.gz", progress=False, shares={"64x64": 2})


def test_no_variant_folders(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no variant sub-folders"):
        write_variants_root(tmp_path)
