"""A BENCHMARK TOOL, never selected automatically: `SDXL_BACKEND=simulated`.

Holds its worker for `SDXL_SIMULATED_SECONDS` (default 0.2) per generation without using the CPU
(it sleeps, as a worker waiting on a Neuron chip does) and returns small valid images, so a 2-core
machine can model the dispatch of 12 inf2 chips. Images are solid colours derived from the seed, at
the requested size, so the server path (encoding included) stays the real one.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from ..devices import DeviceKind
from ..modeldir import ModelInfo
from ..schema import GenerationParams


class SimulatedBackend:
    def __init__(self, device: DeviceKind, workers_on_device: int = 1) -> None:
        self.seconds = float(os.environ.get("SDXL_SIMULATED_SECONDS", "0.2"))
        if not 0 <= self.seconds <= 3600:
            raise ValueError(f"SDXL_SIMULATED_SECONDS={self.seconds}: expected 0 to 3600")

    def load(self, model: ModelInfo) -> None:
        from PIL import Image  # imported here so the first request does not pay for it

        self._image = Image.new

    def generate(self, params: GenerationParams) -> list[Any]:
        time.sleep(self.seconds)
        return [
            self._image("RGB", (params.width, params.height), _colour(params.seed, i)) for i in range(params.num_images)
        ]


def _colour(seed: int, index: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{seed}/{index}".encode()).digest()
    return digest[0], digest[1], digest[2]
