"""The live status line and the polling loop (moto endpoints are InService at once, so the waiting
and Failed paths are driven here by plain poll functions and describe-shaped answers)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest

from sdxl_inf2.deploy.endpoint import endpoint_summary, raise_if_failed
from sdxl_inf2.deploy.errors import EndpointFailed, WaitTimeout
from sdxl_inf2.deploy.progress import StatusLine, wait_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def answers(*statuses: str) -> Any:
    remaining = list(statuses)
    return lambda: (remaining[0], remaining.pop(0) == "InService")


def test_log_output_prints_each_status_once() -> None:
    stream = io.StringIO()
    poll = answers("Creating", "Creating", "Creating", "InService")
    assert wait_for(poll, "endpoint e", poll_s=0.001, timeout_s=5, line=StatusLine(stream)) == "InService"
    lines = stream.getvalue().splitlines()
    assert [line.split(" (")[0].split(" after")[0] for line in lines] == [
        "endpoint e: Creating",
        "endpoint e: InService",
    ]


def test_terminal_output_redraws_one_line() -> None:
    stream = Terminal()
    wait_for(
        answers("Creating", "Updating", "InService"), "endpoint e", poll_s=0.001, timeout_s=5, line=StatusLine(stream)
    )
    assert stream.getvalue().count("\n") == 1 and stream.getvalue().count("\r\033[K") == 3


def test_timeout_is_one_line() -> None:
    with pytest.raises(WaitTimeout) as caught:
        wait_for(lambda: ("Creating", False), "endpoint e", poll_s=0.01, timeout_s=0.05, line=StatusLine(io.StringIO()))
    assert "endpoint e: still Creating after" in str(caught.value) and "\n" not in str(caught.value)


def describe(status: str, **extra: Any) -> Any:
    variant = {"VariantName": "AllTraffic", "CurrentInstanceCount": 0, "DesiredInstanceCount": 1}
    base = {
        "EndpointName": "e",
        "EndpointStatus": status,
        "CreationTime": datetime.now(),
        "ProductionVariants": [variant],
    }
    return {**base, **extra}


def test_summary_shows_instance_counts() -> None:
    assert endpoint_summary(describe("Creating")) == "Creating, 0/1 instances"


def test_failed_endpoint_carries_the_failure_reason() -> None:
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    with pytest.raises(EndpointFailed, match=r"endpoint e Failed: The primary container .* ping health check"):
        raise_if_failed(describe("Failed", FailureReason=reason))
    raise_if_failed(describe("InService"))  # no error
