"""The interface every backend implements, and what all SDXL backends pass to the pipeline."""

from __future__ import annotations

from typing import Any, Protocol

from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.schema import GenerationParams


class Backend(Protocol):
    """Constructed in the model worker as `Backend(device, workers_on_device)`; one call at a time."""

    def load(self, model: ModelInfo) -> None:
        """Load the pipeline; called once, in the worker's main thread, after pinning."""

    def generate(self, params: GenerationParams) -> list[Any]:
        """Return `params.num_images` PIL images; called only from the worker's main thread."""


def pipeline_kwargs(params: GenerationParams, generator: Any, num_images: int) -> dict[str, Any]:
    """Keyword arguments for StableDiffusionXLPipeline.__call__ (checked against the real signature
    by tests/test_neuron_contract.py). Size is not passed: the torch backend adds it, the Neuron
    pipeline fixes it at compile time."""
    return {
        "prompt": params.prompt,
        "prompt_2": params.prompt_2,
        "negative_prompt": params.negative_prompt,
        "negative_prompt_2": params.negative_prompt_2,
        "num_inference_steps": params.num_inference_steps,
        "guidance_scale": params.guidance_scale,
        "num_images_per_prompt": num_images,
        "generator": generator,
        "output_type": "pil",
    }


def warmup_params(model: ModelInfo) -> GenerationParams:
    """One small generation at the default shape: loads every compiled graph before /ping says ready."""
    shape = model.default_shape
    return GenerationParams(
        prompt="warm-up",
        prompt_2=None,
        negative_prompt=None,
        negative_prompt_2=None,
        num_inference_steps=min(2, model.defaults.num_inference_steps),
        guidance_scale=model.defaults.guidance_scale,
        seed=0,
        height=shape.height,
        width=shape.width,
        num_images=1,
        scheduler="default",
        output_format="png",
        quality=None,
    )
