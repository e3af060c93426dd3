"""`sdxl-inf2 package`: deterministic, root-level, world-readable archives, verified against the
manifest, uploaded with multipart to an S3 emulator; and the round trip back into `serve`."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest
from PIL import Image

from sdxl_inf2.compile.describe import write_folder_manifest
from sdxl_inf2.compile.package import PackageError, package
from sdxl_inf2.core.manifest import Defaults, read_manifest, verify_files
from sdxl_inf2.core.modeldir import ModelDirError, inspect_model_dir
from tests.aws import Aws
from tests.conftest import ServerFactory
from tests.neuron_layout import make_neuron_artifact
from tests.server import BIN, ROOT

DEFAULTS = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler")


def compiled_artifact(tiny_model: Path, folder: Path, height: int = 1024, width: int = 1024) -> Path:
    made = make_neuron_artifact(tiny_model, folder, height=height, width=width, images_per_prompt=2)
    write_folder_manifest(made, {"model_id": "stabilityai/stable-diffusion-xl-base-1.0", "revision": None}, DEFAULTS)
    return made


def extract(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def run_package(*args: str) -> subprocess.CompletedProcess[str]:
    """`sdxl-inf2 package ARGS` in a child process, with this test's environment (moto, if set)."""
    return subprocess.run(
        [str(BIN / "sdxl-inf2"), "package", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=300,
    )


def test_same_folder_same_sha256(tiny_model: Path, tmp_path: Path) -> None:
    first = package(tiny_model, tmp_path / "a.tar.gz", progress=False)
    copy = Path(shutil.copytree(tiny_model, tmp_path / "copy"))
    for path in copy.rglob("*"):  # other times and modes must not change the bytes
        os.utime(path, (1_000_000, 1_000_000))
        if path.is_file():
            path.chmod(0o600)
    second = package(copy, tmp_path / "b.tar.gz", progress=False)
    assert first.sha256 == second.sha256 == hashlib.sha256((tmp_path / "b.tar.gz").read_bytes()).hexdigest()
    assert (
        first.size == (tmp_path / "a.tar.gz").stat().st_size and first.files == len(read_manifest(tiny_model).files) + 1
    )


def test_archive_layout_is_what_sagemaker_expects(tiny_model: Path, tmp_path: Path) -> None:
    archive = package(tiny_model, tmp_path / "model.tar.gz", progress=False).path
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {"model_index.json", "manifest.json", "unet/diffusion_pytorch_model.safetensors"} <= set(names)
    assert not any(n.startswith(("/", "./", "tiny")) for n in names)
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname) == (0, 0, 0, "root")
        assert member.mode == (0o755 if member.isdir() else 0o644)  # readable by a non-root user
    raw = archive.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip, no timestamp


def test_manifest_must_match_before_packaging(tiny_model: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")
    with pytest.raises(PackageError, match=r"scheduler/scheduler_config\.json: size"):
        package(folder, tmp_path / "x.tar.gz", progress=False)
    (folder / "manifest.json").unlink()
    with pytest.raises(PackageError, match="sdxl-inf2 manifest"):
        package(folder, tmp_path / "x.tar.gz", progress=False)
    with pytest.raises(PackageError, match="does not exist"):
        package(tmp_path / "nope", tmp_path / "x.tar.gz", progress=False)
    assert not (tmp_path / "x.tar.gz").exists()


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = run_package(str(tmp_path / "missing"), "--out", str(tmp_path / "m.tar.gz"))
    assert result.returncode == 2
    assert result.stderr == f"sdxl-inf2: error: model folder {tmp_path / 'missing'} does not exist or is not a folder\n"


def test_round_trip_tiny_model_into_serve(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    archive = package(tiny_model, tmp_path / "model.tar.gz", progress=False).path
    model_dir = extract(archive, tmp_path / "opt_ml_model")
    verify_files(model_dir, read_manifest(model_dir))
    server = servers(None, env={"SM_MODEL_DIR": str(model_dir)})
    server.wait_ping(200)
    response = server.invoke({"prompt": "a photo of a cat", "seed": 5})
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (64, 64)


def test_round_trip_compiled_neuron_layout(tiny_model: Path, tmp_path: Path) -> None:
    compiled = compiled_artifact(tiny_model, tmp_path / "compiled", height=768, width=1344)
    assert read_manifest(compiled).backend == "neuron"
    model_dir = extract(package(compiled, tmp_path / "model.tar.gz", progress=False).path, tmp_path / "x")
    info = inspect_model_dir(model_dir)  # full sha256 check of the extracted files
    assert (info.kind, info.describe_shapes(), info.max_images) == ("neuron", "1344x768", 2)
    assert (model_dir / "unet" / "model.neuron").stat().st_mode & 0o777 == 0o644


def test_several_shape_folders_package_as_variants(tiny_model: Path, tmp_path: Path) -> None:
    root = tmp_path / "sdxl"
    compiled_artifact(tiny_model, root / "1024x1024")
    compiled_artifact(tiny_model, root / "1344x768", height=768, width=1344)
    (root / "1024x1024.log").write_text("compile log\n")
    model_dir = extract(package(root, tmp_path / "model.tar.gz", progress=False).path, tmp_path / "x")
    info = inspect_model_dir(model_dir)  # package wrote the root manifest listing both
    assert [v.name for v in info.variants] == ["1024x1024", "1344x768"]
    assert info.describe_shapes() == "1024x1024, 1344x768" and info.kind == "neuron"
    (model_dir / "manifest.json").unlink()  # a folder of shape folders made by hand: one line, what to do
    with pytest.raises(
        ModelDirError, match=r"holds 2 shape folders \(1024x1024, 1344x768\) but no manifest.*package.*SM_MODEL_DIR"
    ):
        inspect_model_dir(model_dir)
    shutil.rmtree(model_dir / "1344x768")
    assert inspect_model_dir(model_dir).describe_shapes() == "1024x1024"  # a single shape folder is used as is


def test_upload_uses_multipart_and_records_the_sha256(aws: Aws, tiny_model: Path, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    out = tmp_path / "model.tar.gz"
    result = run_package(
        str(tiny_model),
        "--out",
        str(out),
        "--compress-level",
        "0",
        "--upload",
        "s3://artifacts/models/tiny/",
        "--part-size-mb",
        "5",
    )
    assert result.returncode == 0, result.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"uploaded: s3://artifacts/models/tiny/model.tar.gz (sha256 {digest})" in result.stdout
    head = s3.head_object(Bucket="artifacts", Key="models/tiny/model.tar.gz")
    assert head["ETag"].strip('"').endswith("-2")  # two 5 MB parts: a multipart upload
    assert head["Metadata"]["sha256"] == digest and head["ContentLength"] == out.stat().st_size
    body = s3.get_object(Bucket="artifacts", Key="models/tiny/model.tar.gz")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == digest


def test_upload_errors_are_one_line(aws: Aws, tiny_model: Path, tmp_path: Path) -> None:
    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return run_package(str(tiny_model), "--out", str(tmp_path / "m.tar.gz"), "--no-progress", *extra)

    assert "expected s3://bucket/prefix/" in run("--upload", "artifacts/models/").stderr
    missing = run("--upload", "s3://no-such-bucket/models/")
    assert missing.returncode == 2 and missing.stderr.startswith("sdxl-inf2: error: ")
    assert "no-such-bucket" in missing.stderr and "Traceback" not in missing.stderr


def test_packaging_streams_large_files(tiny_model: Path, tmp_path: Path) -> None:
    """A 400 MB weight file must not be held in memory (SDXL's UNet NEFF is ~3.9 GiB)."""
    folder = Path(shutil.copytree(tiny_model, tmp_path / "big"))
    with (folder / "unet" / "big.bin").open("wb") as handle:
        handle.truncate(400 * 2**20)
    write_folder_manifest(folder, {"model_id": "big", "revision": None}, DEFAULTS)
    # VmHWM (peak RSS) of the packaging process itself, read by that process at its end
    probe = (
        "import sys; from sdxl_inf2.cli import main; code = main(sys.argv[1:]); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr); "
        "sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "package", str(folder), "--out", str(tmp_path / "big.tgz"), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    peak_mib = int(result.stderr.split()[-2]) / 1024
    print(f"peak RSS packaging a 400 MiB file: {peak_mib:.0f} MiB")
    assert peak_mib < 200
