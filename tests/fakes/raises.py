"""Raises in generate when the prompt says so; the worker must survive it."""

from typing import Any

from sdxl_inf2.core.schema import GenerationParams
from tests.fakes.base import FakeBackend

SECRET = "/secret/internal/path.py"


class Backend(FakeBackend):
    def generate(self, params: GenerationParams) -> list[Any]:
        if params.prompt == "raise":
            raise ValueError(f"boom in {SECRET}")
        return super().generate(params)
