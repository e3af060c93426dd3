"""Model backends behind one small interface (`base.Backend`).

- `neuron`: optimum-neuron's NeuronStableDiffusionXLPipeline on a compiled folder (inf2);
- `torch`:  diffusers' StableDiffusionXLPipeline (CPU float32, CUDA fp16/bf16);
- `simulated`: a benchmark tool that sleeps like a busy chip (never auto-selected);
- `module:Class`: any class with the same interface (the test suite's fakes, one per failure mode).

Backends are imported only inside the model worker, after its device pinning is set.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.modeldir import ModelInfo

from ..config import Settings
from ..devices import DeviceKind, visible_gpus

BUILTIN = {
    "torch": "sdxl_inf2.container.backends.torch_backend:TorchBackend",
    "neuron": "sdxl_inf2.container.backends.neuron_backend:NeuronBackend",
    "simulated": "sdxl_inf2.container.backends.simulated:SimulatedBackend",  # benchmark tool only
}


class BackendError(SdxlError):
    """The backend cannot serve this model here; one line."""


def import_backend(spec: str) -> Any:
    """The backend class for a built-in name or `module:Class`."""
    module_name, _, class_name = BUILTIN.get(spec, spec).partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def neuron_runtime_importable() -> bool:
    """True if torch_neuronx imports here; checked in a child so the front stays free of it."""
    probe = [sys.executable, "-c", "import torch_neuronx"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_backend(settings: Settings, model: ModelInfo, probe: bool = True) -> tuple[str, DeviceKind]:
    """(backend spec, device kind) for SDXL_BACKEND / SDXL_DEVICE and what the model folder holds.
    `probe=False` (serve --plan) takes `auto` as the Neuron image does for a compiled folder, without
    checking that torch_neuronx imports here."""
    name = settings.backend
    if name == "auto":
        neuron = model.kind == "neuron" and (not probe or neuron_runtime_importable())
        name = "neuron" if neuron else "torch"
    _check_kind(name, model)
    device: DeviceKind
    if settings.device != "auto":
        device = settings.device
    elif name == "neuron":
        device = "neuron"
    elif name == "torch":
        device = "cuda" if visible_gpus(settings.cuda_visible_devices) else "cpu"
    else:  # simulated and custom backends model their device; they run anywhere
        device = "cpu"
    if name == "neuron" and device != "neuron":
        raise BackendError(f"SDXL_BACKEND=neuron needs SDXL_DEVICE=neuron, not {device}")
    return name, device


def _check_kind(name: str, model: ModelInfo) -> None:
    if name == "torch" and model.kind == "neuron":
        raise BackendError(
            f"{model.path} holds compiled Neuron artifacts (model.neuron), which only the neuron backend "
            "can run, but torch_neuronx is not importable here: run it on inf2 with the Neuron image"
        )
    if name == "neuron" and model.kind != "neuron":
        raise BackendError(
            f"SDXL_BACKEND=neuron but {model.path} is not compiled for Neuron "
            "(unet/config.json has no neuron block): compile it with `sdxl-inf2 compile`"
        )
