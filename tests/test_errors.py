"""One error root: every error a user can see is an SdxlError, one line; the CLI catches that class alone.

No server starts here: the modules are imported, and the CLI runs in this process.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sdxl_inf2 import cli
from sdxl_inf2.core.errors import MAX_LINE, BadRequest, SdxlError, ServingError, exception_line, one_line
from sdxl_inf2.core.variants import VariantPlanError
from sdxl_inf2.deploy.metric_math import MetricMathError
from tests.aws import assert_one_line_error, point_boto3_at, write_config
from tests.aws import cli as run_cli

Capsys = pytest.CaptureFixture[str]
ROOT = Path(__file__).resolve().parent.parent
# Exceptions that steer control flow inside one part and never reach a user, so they are no SdxlError.
INTERNAL = {
    "sdxl_inf2.local_endpoint.attempt.InstanceLost",  # an instance's connection broke: answered as a 503
    "sdxl_inf2.local_endpoint.cli.Stopped",  # SIGINT or SIGTERM: local-endpoint stops everything it started
}


def package_modules() -> list[str]:
    """Every module of sdxl_inf2, through the links to container/ and compile/."""
    names = []
    for folder, _, files in os.walk(ROOT / "sdxl_inf2", followlinks=True):
        for file in files:
            if file.endswith(".py"):
                parts = (Path(folder) / file).relative_to(ROOT).with_suffix("").parts
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def defined_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for name in package_modules():
        for value in vars(importlib.import_module(name)).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_exception_of_the_package_is_an_sdxl_error_but_the_internal_ones() -> None:
    found = defined_exceptions()
    assert "sdxl_inf2.container.backends.BackendError" in found  # the walk reaches the linked parts
    assert set(found) >= INTERNAL, "an allowlisted exception is gone: drop it from INTERNAL"
    outside = {name for name, exc in found.items() if not issubclass(exc, SdxlError)}
    assert outside == INTERNAL


def test_the_message_is_made_one_line_once() -> None:
    error = SdxlError("bad\n  value\tfor\r\nkey ", field="key", file=Path("/tmp/x.yaml"))
    assert str(error) == error.message == "bad value for key"
    assert error.to_dict() == {
        "type": "SdxlError",
        "message": "bad value for key",
        "field": "key",
        "file": "/tmp/x.yaml",
    }
    long = SdxlError("x" * 1000)
    assert len(str(long)) == MAX_LINE and str(long).endswith("...")
    assert one_line(" a \n b ", limit=None) == "a b"
    assert exception_line(RuntimeError("")) == "RuntimeError: (no message)"
    assert exception_line(OSError("disk\nfull")) == "OSError: disk full"


def test_serving_errors_keep_their_json_shape() -> None:
    error = BadRequest("steps:\n  too many", field="steps")
    assert isinstance(error, SdxlError)
    assert error.to_dict() == {"error": {"type": "validation_error", "message": "steps: too many", "field": "steps"}}
    assert ServingError("boom", inference_id="i-1").to_dict() == {
        "error": {"type": "internal_error", "message": "boom", "inference_id": "i-1"}
    }


def test_a_variant_plan_error_is_still_a_value_error_for_pydantic() -> None:
    assert issubclass(VariantPlanError, ValueError)


def raising(error: BaseException) -> cli.Register:
    """An area whose one command, `fail`, raises `error`."""

    def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
        def run(args: argparse.Namespace) -> int:
            raise error

        commands.add_parser("fail").set_defaults(run=run)

    return register


def test_the_cli_prints_any_sdxl_error_as_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    monkeypatch.setattr(cli, "AREAS", (raising(MetricMathError("m1 +\n unknown id\n")),))
    assert_one_line_error(run_cli(capsys, "fail"), "sdxl-inf2: error: m1 + unknown id")


def test_the_cli_catches_nothing_but_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "AREAS", (raising(ValueError("a bug")),))
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["fail"])


def test_a_botocore_client_error_from_a_deploy_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capsys
) -> None:
    point_boto3_at(monkeypatch, "http://127.0.0.1:9", tmp_path)  # never reached: status_lines is replaced

    def refused(*_: object) -> list[str]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not\nallowed"}}, "DescribeEndpoint")

    monkeypatch.setattr("sdxl_inf2.deploy.status.status_lines", refused)
    run = run_cli(capsys, "status", str(write_config(tmp_path)))
    assert_one_line_error(
        run, "An error occurred (AccessDenied) when calling the DescribeEndpoint operation: not allowed"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["register"],
        ["deploy"],
        ["autoscale"],
        ["invoke", "--prompt", "a cat"],
        ["status"],
        ["teardown"],
        ["plan"],
        ["iam-policy"],
        ["gateway", "serve"],
    ],
)
def test_every_command_that_talks_to_aws_turns_botocore_errors_into_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capsys, command: list[str]
) -> None:
    point_boto3_at(monkeypatch, "http://127.0.0.1:9", tmp_path)
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # plan and iam-policy then ask the (missing) profile for one
    config = write_config(tmp_path, region=None)
    run = run_cli(capsys, *command, str(config), "--profile", "no-such-profile")
    assert_one_line_error(run, "The config profile (no-such-profile) could not be found")
