"""optimum-neuron 0.4.5's NeuronStableDiffusionXLPipeline on a compiled folder (inf2 only).

NOT EXECUTED ON INF2 BY THE TEST SUITE: no Neuron device is available in CI. The arguments this
adapter passes, and the one-core load path, are checked against optimum-neuron 0.4.5's real source
(Neuron SDK stubbed) by tests/test_neuron_contract.py. Facts it relies on (shared/reference/neuron-sdxl.md):
- the worker process sees exactly its own NeuronCores (NEURON_RT_VISIBLE_CORES, set by the front
  before this module is imported): a chip's two, where optimum-neuron puts the UNet on both (data-
  parallel mode "unet", or "all" for an LCM), or one for a guidance-free variant (below);
- height/width are fixed at compile time (the front rejects other sizes);
- the UNet runs at the compiled batch, so the pipeline always makes the compiled number of images
  per prompt and the first `num_images` are returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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

        one_core = model.compiled_batch is not None and model.compiled_batch.data_parallel_mode == "none"
        with without_data_parallel() if one_core else nullcontext():
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


@contextmanager
def without_data_parallel() -> Iterator[None]:
    """Load on the worker's one NeuronCore: optimum-neuron 0.4.5's `_from_pretrained` ignores a
    `data_parallel_mode` argument and takes it from `NeuronDiffusionPipelineBase.set_parallel_mode`,
    which says "unet" (or "all" for an LCM) for every SDXL UNet; both wrap parts in
    `torch_neuronx.DataParallel(model, [0, 1])`, which needs two visible cores. Its own "none" mode
    (`load_model` -> `_load_models`) loads every part on the process's first visible core, and the
    pipeline it builds keeps "none", so `do_classifier_free_guidance` stays off (the front refuses
    guidance above 1 for such a variant). This swaps that one decision while `from_pretrained` runs,
    in a worker process that loads exactly one pipeline."""
    from optimum.neuron.modeling_diffusion import NeuronDiffusionPipelineBase as Base

    original = Base.__dict__["set_parallel_mode"]  # the staticmethod object itself, restored as it was

    def no_data_parallel(neuron_configs: dict[str, Any]) -> tuple[str, int]:
        mode, tensor_parallel_size = original.__func__(neuron_configs)
        return ("none" if tensor_parallel_size == 1 else mode), tensor_parallel_size

    Base.set_parallel_mode = staticmethod(no_data_parallel)
    try:
        yield
    finally:
        Base.set_parallel_mode = original
