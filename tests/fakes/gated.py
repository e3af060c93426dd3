"""Holds a generation whose prompt is "block" for as long as the file $FAKE_GATE exists, so a test
keeps workers busy exactly as long as it needs to, with no sleeps to tune."""

import os
import time
from pathlib import Path
from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        gate = Path(os.environ["FAKE_GATE"])
        while params.prompt == "block" and gate.exists():
            time.sleep(0.02)
        return super().generate(params)
