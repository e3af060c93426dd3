"""A BENCHMARK TOOL, never selected automatically: `SDXL_BACKEND=simulated`.

Holds its worker for `SDXL_SIMULATED_SECONDS` (default 0.2) per generation without using the CPU
(it sleeps, as a worker waiting on a Neuron chip does), so a 2-core machine can model the dispatch
of 12 inf2 chips. Images come at the requested size, so the server path (encoding included) stays
the real one. `SDXL_SIMULATED_IMAGE` chooses what they look like:

- `solid` (default): one colour derived from the seed; encodes in next to no time;
- `noise`: photo-like (smooth regions, edges, fine grain), which costs what a real generated image
  costs to encode. Four such images per size are made once (the first request of a size pays for
  them, the default size at load) and handed out by seed, so generating stays free of CPU.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams

from ..devices import DeviceKind

IMAGES = ("solid", "noise")
NOISE_VARIANTS = 4


class SimulatedBackend:
    def __init__(self, device: DeviceKind, workers_on_device: int = 1) -> None:
        self.seconds = float(os.environ.get("SDXL_SIMULATED_SECONDS", "0.2"))
        if not 0 <= self.seconds <= 3600:
            raise ValueError(f"SDXL_SIMULATED_SECONDS={self.seconds}: expected 0 to 3600")
        self.image = os.environ.get("SDXL_SIMULATED_IMAGE") or "solid"
        if self.image not in IMAGES:
            raise ValueError(f"SDXL_SIMULATED_IMAGE={self.image!r}: expected solid or noise")
        self._noise: dict[tuple[int, int, int], Any] = {}

    def load(self, model: ModelInfo) -> None:
        from PIL import Image  # imported here so the first request does not pay for it

        self._new = Image.new
        if self.image == "noise":
            shape = model.default_shape
            for variant in range(NOISE_VARIANTS):
                self._noisy(shape.width, shape.height, variant)

    def generate(self, params: GenerationParams) -> list[Any]:
        time.sleep(self.seconds)
        size = (params.width, params.height)
        if self.image == "noise":
            return [self._noisy(*size, (params.seed + i) % NOISE_VARIANTS) for i in range(params.num_images)]
        return [self._new("RGB", size, _colour(params.seed, i)) for i in range(params.num_images)]

    def _noisy(self, width: int, height: int, variant: int) -> Any:
        key = (width, height, variant)
        if key not in self._noise:
            self._noise[key] = photo_like(width, height, seed=variant)
        return self._noise[key]


def photo_like(width: int = 1024, height: int = 1024, seed: int = 0) -> Any:
    """Smooth regions, edges and fine grain, like a generated photo (pure noise would flatter no
    codec). Also bench/encode's test image."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (max(1, height // 32), max(1, width // 32), 3), dtype=np.uint8))
    base = coarse.resize((width, height), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(6))
    grain = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(base, dtype=np.float64) + grain, 0, 255).astype(np.uint8))


def _colour(seed: int, index: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{seed}/{index}".encode()).digest()
    return digest[0], digest[1], digest[2]
