"""Import optimum-neuron's real Neuron classes on a machine without the Neuron SDK.

The Neuron packages on PyPI are placeholders, so `torch_neuronx`, `neuronx_distributed`, `neuronxcc`,
`libneuronxla` and `torch_xla` are replaced by empty, subclassable stand-ins through a meta-path
finder. optimum-neuron's own modules (signatures, class hierarchy, `__call__`) stay the real ones;
nothing here can run a model. Use only in a child process: the stand-ins stay in sys.modules.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, ClassVar

STUBBED = ("torch_neuronx", "neuronx_distributed", "neuronxcc", "libneuronxla", "torch_xla")
TORCH_NEURONX_VERSION = "2.8.0.2.10.16998"  # optimum-neuron 0.4.5's [neuronx] pin


class _StandIn:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _StandIn()

    def __getattr__(self, name: str) -> Any:
        return _StandIn()


class _StubModule(types.ModuleType):
    __path__: ClassVar[list[str]] = []  # a package: submodules resolve through the finder too
    __version__ = "0.0.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (_StandIn,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    sys.meta_path.insert(0, _StubFinder())


def install_distribution() -> None:
    """Also make `importlib.metadata` report torch-neuronx as installed (a METADATA file on sys.path),
    so that optimum-neuron's `requires_torch_neuronx` and `is_neuronx_available` let its real loading
    code run (`_from_pretrained`, `load_model`, `NeuronTracedModel.load_model`)."""
    folder = Path(tempfile.mkdtemp(prefix="stub-dist-"))
    info = folder / f"torch_neuronx-{TORCH_NEURONX_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch-neuronx\nVersion: {TORCH_NEURONX_VERSION}\n")
    sys.path.insert(0, str(folder))
