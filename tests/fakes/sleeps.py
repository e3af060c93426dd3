"""Takes as long as the prompt says: "sleep 1.5" holds the worker 1.5 s (other prompts: FAKE_GENERATE_S)."""

import time
from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        if params.prompt.startswith("sleep "):
            time.sleep(float(params.prompt.split()[1]))
        return super().generate(params)
