"""Images whose encode is slow, hangs or kills the worker, to test the worker's encoder thread.

Prompts: "encode sleep 1.5" (the PNG encode takes 1.5 s more), "encode hang" (never finishes),
"encode die" (the process exits 2 s into the encode, as a crash in the encoder would); "sleep 2"
holds the generation itself for 2 s (tests/fakes/sleeps.py). Anything else is the instant fake image.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.sleeps import Backend as Sleeps


class SlowToEncode:
    """Wraps a PIL image; `save` (what container.encoding calls) does the prompt's encode action."""

    def __init__(self, image: Any, action: str) -> None:
        self.image, self.action = image, action

    def save(self, buffer: Any, **options: Any) -> None:
        if self.action == "encode die":
            time.sleep(2)
            os._exit(9)
        while self.action == "encode hang":
            time.sleep(3600)
        time.sleep(float(self.action.removeprefix("encode sleep ")))
        self.image.save(buffer, **options)


class Backend(Sleeps):
    def generate(self, params: GenerationParams) -> list[Any]:
        images = super().generate(params)
        if params.prompt.startswith("encode "):
            return [SlowToEncode(image, params.prompt) for image in images]
        return images
