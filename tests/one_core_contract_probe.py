"""Child-process probe for test_one_core.py: loads compiled-layout folders with the real NeuronBackend
through optimum-neuron 0.4.5's real `from_pretrained` (`_from_pretrained`, `set_parallel_mode`,
`load_model`, `NeuronTracedModel.load_model`), the Neuron SDK stubbed: torch.jit.load returns a stand-in
module per part, torch_neuronx.DataParallel and experimental.set_neuron_cores record their calls.
Prints JSON: for each folder, what was built and where each part went.
Usage: python -m tests.one_core_contract_probe NAME=DIR[:CORES] ..."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests import neuron_stubs


class Part:
    """What torch.jit.load returns here: a stand-in for one compiled part, named by its folder."""

    def __init__(self, path: Path) -> None:
        self.part = path.parent.name


def main(folders: list[str]) -> None:
    neuron_stubs.install()
    neuron_stubs.install_distribution()
    import torch
    import torch_neuronx  # the stand-in

    seen: dict[str, Any] = {}
    torch.jit.load = lambda path, *args, **kwargs: Part(Path(path))  # type: ignore[assignment]

    def set_neuron_cores(model: Part, start_nc: int, nc_count: int) -> None:
        seen["cores"][model.part] = [start_nc, nc_count]

    def data_parallel(model: Part, device_ids: list[int], set_dynamic_batching: bool = False) -> Part:
        seen["data_parallel"][model.part] = device_ids
        return model

    torch_neuronx.experimental = SimpleNamespace(set_neuron_cores=set_neuron_cores)
    torch_neuronx.DataParallel = data_parallel
    from optimum.neuron import NeuronStableDiffusionXLPipeline as Pipeline
    from optimum.neuron.modeling_diffusion import NeuronDiffusionPipelineBase as Base

    from sdxl_inf2.container.backends.neuron_backend import NeuronBackend
    from sdxl_inf2.core.modeldir import inspect_model_dir

    results = {}
    for spec in folders:
        name, _, rest = spec.partition("=")
        folder, _, cores = rest.partition(":")
        seen.update(cores={}, data_parallel={})
        model = inspect_model_dir(Path(folder), verify="off")
        if cores and model.compiled_batch is not None:  # as SDXL_CORES_PER_WORKER would serve it
            model = model.with_batches({"default": model.compiled_batch.with_cores(int(cores))})
        backend = NeuronBackend("neuron")
        backend.load(model)
        pipe = backend.pipe
        pipe._guidance_scale = 5.0  # what the pipeline would do with a request's guidance_scale 5
        results[name] = {
            "planned_cores": model.compiled_batch.cores if model.compiled_batch else None,
            "class": type(pipe).__name__,
            "is_the_sdxl_pipeline": type(pipe) is Pipeline,
            "data_parallel_mode": pipe.data_parallel_mode,
            "wrapped": {part: type(getattr(pipe, part).model).__name__ for part in ("unet", "vae_decoder")},
            "cfg_at_guidance_5": pipe.do_classifier_free_guidance,
            "is_lcm": pipe.is_lcm,
            **{key: dict(value) for key, value in seen.items()},
        }
    unet = SimpleNamespace(tensor_parallel_size=1, _config=SimpleNamespace(_name_or_path="sdxl"))
    restored = Base.set_parallel_mode({"unet": unet})  # the decision is optimum-neuron's own again
    print(json.dumps({"folders": results, "restored_mode": list(restored)}))


if __name__ == "__main__":
    main(sys.argv[1:])
