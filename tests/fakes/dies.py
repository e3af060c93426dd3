"""The worker process exits abruptly (as a Neuron runtime crash would) when the prompt is "die"."""

import os
from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        if params.prompt == "die":
            os._exit(7)
        return super().generate(params)
