"""Random pixels on every call, whatever the seed: two renders of one request never match, so a
byte-identical answer can only have come from the result cache. `FAKE_GENERATE_S` slows it."""

from __future__ import annotations

import os
from typing import Any

from PIL import Image

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        super().generate(params)  # the optional delay
        size = params.width * params.height * 3
        return [
            Image.frombytes("RGB", (params.width, params.height), os.urandom(size)) for _ in range(params.num_images)
        ]
