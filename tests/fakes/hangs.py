"""Never returns when the prompt is "hang"."""

import time
from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        while params.prompt == "hang":
            time.sleep(3600)
        return super().generate(params)
