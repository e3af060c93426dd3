"""optimum-neuron 0.4.5's NeuronStableDiffusionXLPipeline on a compiled folder (inf2 only).

NOT EXECUTED ON INF2 BY THE TEST SUITE: no Neuron device is available in CI. The arguments this
adapter passes are checked against optimum-neuron 0.4.5's real source by
tests/test_neuron_contract.py. Facts it relies on (shared/reference/neuron-sdxl.md):
- the worker process sees exactly its chip's two cores (NEURON_RT_VISIBLE_CORES, set by the front
  before this module is imported); optimum-neuron puts the UNet on both (data_parallel_mode "unet");
- height/width are fixed at compile time (the front rejects other sizes);
- the UNet runs at the compiled batch, so the pipeline always makes the compiled number of images
  per prompt and the first `num_images` are returned.
"""

from __future__ import annotations

from typing import Any

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams

from ..devices import DeviceKind
from ..schedulers import SchedulerCache
from .base import pipeline_kwargs


class NeuronBackend:
    def __init__(self, device: DeviceKind, workers_on_device: int = 1) -> None:
        self.pipe: Any = None
        self.images_per_prompt = 1
        self.schedulers: SchedulerCache | None = None

    def load(self, model: ModelInfo) -> None:
        from optimum.neuron import NeuronStableDiffusionXLPipeline

        self.pipe = NeuronStableDiffusionXLPipeline.from_pretrained(str(model.path), local_files_only=True)
        self.images_per_prompt = model.max_images
        self.schedulers = SchedulerCache(self.pipe.scheduler)

    def generate(self, params: GenerationParams) -> list[Any]:
        import torch

        assert self.schedulers is not None, "load() first"
        self.pipe.scheduler = self.schedulers.get(params.scheduler)
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        result = self.pipe(**pipeline_kwargs(params, generator, self.images_per_prompt))
        return list(result.images[: params.num_images])
