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
import types
from typing import Any, ClassVar

STUBBED = ("torch_neuronx", "neuronx_distributed", "neuronxcc", "libneuronxla", "torch_xla")


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
