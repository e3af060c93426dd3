"""diffusers' StableDiffusionXLPipeline on CPU (float32) or one CUDA GPU (bf16, else fp16)."""

from __future__ import annotations

import os
from typing import Any

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams

from ..devices import DeviceKind
from ..schedulers import SchedulerCache
from .base import pipeline_kwargs


class TorchBackend:
    def __init__(self, device: DeviceKind, workers_on_device: int = 1) -> None:
        self.device = "cuda" if device == "cuda" else "cpu"
        self.workers_on_device = workers_on_device
        self.pipe: Any = None
        self.schedulers: SchedulerCache | None = None

    def load(self, model: ModelInfo) -> None:
        import torch
        from diffusers import StableDiffusionXLPipeline
        from diffusers.utils.logging import disable_progress_bar

        if self.device == "cpu":  # split the cores between the CPU workers
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.workers_on_device))
        options: dict[str, Any] = {"local_files_only": True, "use_safetensors": True}
        if self.device == "cuda":  # float32 (the default) on CPU
            options["torch_dtype"] = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        disable_progress_bar()
        pipe = StableDiffusionXLPipeline.from_pretrained(str(model.path), **options)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device)
        self.schedulers = SchedulerCache(self.pipe.scheduler)

    def generate(self, params: GenerationParams) -> list[Any]:
        import torch

        assert self.schedulers is not None, "load() first"
        self.pipe.scheduler = self.schedulers.get(params.scheduler)
        generator = torch.Generator(device="cpu").manual_seed(params.seed)  # same noise on any device
        kwargs = pipeline_kwargs(params, generator, params.num_images)
        with torch.inference_mode():
            result = self.pipe(height=params.height, width=params.width, **kwargs)
        return list(result.images)
