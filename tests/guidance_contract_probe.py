"""Child-process probe for test_few_step.py: asks optimum-neuron 0.4.5's real code (Neuron SDK
stubbed) which data-parallel mode it picks and whether it runs classifier-free guidance, for every
combination of guidance scale, UNet name, guidance embedding, dynamic batch and worker cores (2: the
mode it picks; 1: its "none" mode); prints JSON.
Usage: python -m tests.guidance_contract_probe"""

from __future__ import annotations

import inspect
import itertools
import json
from types import SimpleNamespace

from tests import neuron_stubs

GUIDANCE = (0.0, 1.0, 1.5, 5.0, 8.0)
NAMES = ("stabilityai/stable-diffusion-xl-base-1.0", "latent-consistency/lcm-sdxl", "/models/my-LCM-unet")
EMBEDDING = (None, 256)


def main() -> None:
    neuron_stubs.install()
    from optimum.neuron.modeling_diffusion import NeuronDiffusionPipelineBase as Base

    cases = []
    product = itertools.product(GUIDANCE, NAMES, EMBEDDING, (False, True), (2, 1))
    for guidance, name, embedding, dynamic, cores in product:
        unet_config = SimpleNamespace(tensor_parallel_size=1, _config=SimpleNamespace(_name_or_path=name))
        # on one core the worker loads in optimum-neuron's own "none" mode (no data parallelism)
        mode = Base.set_parallel_mode({"unet": unet_config})[0] if cores == 2 else "none"
        pipeline = SimpleNamespace(
            _guidance_scale=guidance,
            unet=SimpleNamespace(config=SimpleNamespace(time_cond_proj_dim=embedding)),
            dynamic_batch_size=dynamic,
            data_parallel_mode=mode,
        )
        cfg = Base.do_classifier_free_guidance.fget(pipeline)  # type: ignore[attr-defined]
        case = {"guidance": guidance, "name": name, "embedding": embedding, "dynamic": dynamic, "cores": cores}
        cases.append({**case, "mode": mode, "cfg": cfg})
    print(json.dumps({"cases": cases, "load_model_source": inspect.getsource(Base.load_model)}))


if __name__ == "__main__":
    main()
