"""The Lambda zip: reproducible from the installed package, and complete: extracted alone, it runs the
handler in an interpreter that sees no site-packages at all (`python -I -S`), against the moto server."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.aws import Aws
from tests.emf import emf_documents_in
from tests.gateway_support import gateway_settings, publish_card
from tests.server import BIN, ROOT

RUN_HANDLER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sdxl_inf2.gateway.lambda_handler import handler
event = {"rawPath": "/invocations", "requestContext": {"http": {"method": "POST"}},
         "headers": {"content-type": "application/json"}, "body": json.dumps({"prompt": "a cat", "seed": 3})}
print(json.dumps(handler(event, None)))
import boto3, pydantic
print(json.dumps({"modules": [m.__file__ for m in (boto3, pydantic)]}))
"""


def package(out: Path) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "sdxl-inf2"), "gateway", "package", "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, check=True)


def test_the_zip_is_reproducible_and_holds_no_more_than_it_needs(tmp_path: Path) -> None:
    builds = [package(tmp_path / f"{n}.zip") for n in (1, 2)]  # two processes: nothing cached between them
    first, second = ((tmp_path / f"{n}.zip").read_bytes() for n in (1, 2))
    assert first == second
    assert builds[0].stdout.strip() == str(tmp_path / "1.zip") and "python3." in builds[0].stderr
    with zipfile.ZipFile(tmp_path / "1.zip") as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    assert names == sorted(names) and {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {entry.external_attr >> 16 for entry in entries} == {0o100644}
    for needed in ("sdxl_inf2/gateway/lambda_handler.py", "sdxl_inf2/core/cache/key.py", "boto3/__init__.py"):
        assert needed in names
    assert "pydantic/main.py" in names and "aws_embedded_metrics/__init__.py" in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n or n.endswith("/RECORD")]
    ours = {"/".join(n.split("/")[:2]) for n in names if n.startswith("sdxl_inf2/")}
    assert ours == {"sdxl_inf2/__init__.py", "sdxl_inf2/core", "sdxl_inf2/gateway"}  # no server module
    tops = {n.split("/")[0].lower() for n in names}
    refused = ("werkzeug", "flask", "gunicorn", "torch", "diffusers", "yaml", "moto", "container", "deploy")
    assert not [top for top in tops if top.startswith(refused)]
    print(f"gateway zip: {len(first):,} bytes, {len(names):,} files")


def test_the_zip_alone_runs_the_handler(aws: Aws, tiny_model: Path, tmp_path: Path) -> None:
    publish_card(aws, tiny_model)
    package(tmp_path / "gateway.zip")
    with zipfile.ZipFile(tmp_path / "gateway.zip") as archive:
        archive.extractall(tmp_path / "function")
    env = {
        **gateway_settings().environment(),
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "sdxl-inf2-prod-gateway",
    }
    command = [sys.executable, "-I", "-S", "-c", RUN_HANDLER, str(tmp_path / "function")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    *_, answer, where = (json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"'))
    assert answer["statusCode"] == 202 and json.loads(answer["body"])["status"] == "queued"
    assert all(path.startswith(str(tmp_path / "function")) for path in where["modules"])
    assert aws.async_invocations() == 1
    (document,) = emf_documents_in(result.stdout)
    assert (document["NumberOfInferenceRequests"], document["CacheMisses"]) == (1, 1)
