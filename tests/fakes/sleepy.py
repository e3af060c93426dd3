"""Random pixels (like `noisy`) after sleeping the seconds the prompt names: "sleep 2.5". Lets one
test hold the only worker for a chosen time while other requests queue behind it."""

from __future__ import annotations

import re
import time
from typing import Any

from container.schema import GenerationParams
from tests.fakes.noisy import Backend as Noisy


class Backend(Noisy):
    def generate(self, params: GenerationParams) -> list[Any]:
        found = re.fullmatch(r"sleep (\d+(?:\.\d+)?)", params.prompt)
        if found:
            time.sleep(float(found.group(1)))
        return super().generate(params)
