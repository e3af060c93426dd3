"""Takes FAKE_LOAD_S to load and logs its warm-up generation, so readiness gating can be observed."""

import json
import os
import sys
import time
from typing import Any

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def load(self, model: ModelInfo) -> None:
        time.sleep(float(os.environ.get("FAKE_LOAD_S", "1")))
        super().load(model)

    def generate(self, params: GenerationParams) -> list[Any]:
        if params.prompt == "warm-up":
            print(json.dumps({"fake": "warm-up", "prompt": params.prompt}), file=sys.stdout, flush=True)
        return super().generate(params)
