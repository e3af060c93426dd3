"""Child-process probe for test_neuron_contract.py: drives the real NeuronBackend adapter against
optimum-neuron 0.4.5's real NeuronStableDiffusionXLPipeline class (Neuron SDK stubbed), recording
every argument it passes, and prints what it saw as JSON. Usage: python -m tests.neuron_contract_probe DIR"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from tests import neuron_stubs


def explicit_params(func: Any) -> list[str]:
    kinds = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return [n for n, p in inspect.signature(func).parameters.items() if p.kind not in kinds]


def main(model_dir: str) -> None:
    neuron_stubs.install()
    from diffusers import EulerDiscreteScheduler
    from optimum.neuron import NeuronStableDiffusionXLPipeline as Pipeline
    from optimum.neuron.modeling_diffusion import NeuronDiffusionPipelineBase
    from PIL import Image

    from sdxl_inf2.container.backends.neuron_backend import NeuronBackend
    from sdxl_inf2.core.modeldir import inspect_model_dir
    from sdxl_inf2.core.schema import GenerationParams

    seen: dict[str, Any] = {}

    class RecordingPipe:
        scheduler = EulerDiscreteScheduler.from_pretrained(Path(model_dir) / "scheduler")

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            seen["call_args"], seen["call_kwargs"] = list(args), sorted(kwargs)
            seen["num_images_per_prompt"] = kwargs["num_images_per_prompt"]
            seen["generator"] = type(kwargs["generator"]).__name__
            seen["scheduler"] = type(self.scheduler).__name__
            images = [Image.new("RGB", (8, 8))] * kwargs["num_images_per_prompt"]
            return type("Output", (), {"images": images})()

    def recording_from_pretrained(*args: Any, **kwargs: Any) -> RecordingPipe:
        seen["load_args"], seen["load_kwargs"] = [str(a) for a in args], kwargs
        return RecordingPipe()

    Pipeline.from_pretrained = recording_from_pretrained  # type: ignore[method-assign,assignment]
    model = inspect_model_dir(Path(model_dir), verify="off")
    backend = NeuronBackend("neuron")
    backend.load(model)
    params = GenerationParams(
        prompt="a cat",
        prompt_2=None,
        negative_prompt="blurry",
        negative_prompt_2=None,
        num_inference_steps=30,
        guidance_scale=5.0,
        seed=1,
        height=1024,
        width=1024,
        num_images=1,
        scheduler="dpmpp_2m",
        output_format="png",
        quality=None,
    )
    seen["returned_images"] = len(backend.generate(params))
    seen.update(
        optimum_neuron_version=importlib.metadata.version("optimum-neuron"),
        mro=[c.__name__ for c in Pipeline.__mro__],
        auto_model_class=Pipeline.auto_model_class.__name__,
        from_pretrained_params=explicit_params(NeuronDiffusionPipelineBase.from_pretrained)
        + explicit_params(NeuronDiffusionPipelineBase._from_pretrained),
        call_params=explicit_params(Pipeline.auto_model_class.__call__),
        neuron_call_source=inspect.getsource(NeuronDiffusionPipelineBase.__call__),
    )
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
