"""A fake pipeline: a solid image whose colour is a function of the seed and the image index."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from PIL import Image

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams


def fake_image(params: GenerationParams, index: int) -> Image.Image:
    digest = hashlib.sha256(f"{params.seed}/{index}/{params.prompt}".encode()).digest()
    return Image.new("RGB", (params.width, params.height), tuple(digest[:3]))


class FakeBackend:
    """Instant; `FAKE_GENERATE_S` seconds of sleep per generation when set."""

    def __init__(self, device: str, workers_on_device: int = 1) -> None:
        self.device = device
        self.delay_s = float(os.environ.get("FAKE_GENERATE_S", "0"))

    def load(self, model: ModelInfo) -> None:
        self.model = model

    def generate(self, params: GenerationParams) -> list[Any]:
        if self.delay_s and params.prompt != "warm-up":
            time.sleep(self.delay_s)
        return [fake_image(params, i) for i in range(params.num_images)]
