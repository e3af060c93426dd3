"""Which model workers to start, and what each one is pinned to.

Pure functions of the visible device layout, so the pinning is testable without devices:

- neuron: each worker gets a run of the visible NeuronCores (two = one inf2 chip, or one for a
  guidance-free variant: core/workers.py plans how many), pinned with `NEURON_RT_VISIBLE_CORES`; a
  container-level NEURON_RT_VISIBLE_CORES narrows what is visible;
- cuda: one worker per visible GPU, pinned with CUDA_VISIBLE_DEVICES;
- cpu: one worker (SDXL_WORKERS may ask for more).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.workers import CORES_PER_CHIP

DeviceKind = Literal["cpu", "cuda", "neuron"]


class DeviceLayoutError(SdxlError):
    """The device layout cannot host the requested workers; one line naming the setting."""


@dataclass(frozen=True)
class WorkerSlot:
    index: int
    device: DeviceKind
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cores(self) -> int | None:
        """The NeuronCores this worker is pinned to; None for a GPU or CPU worker."""
        pinned = self.env.get("NEURON_RT_VISIBLE_CORES")
        return len(parse_core_list(pinned)) if self.device == "neuron" and pinned else None

    def describe(self) -> str:
        pins = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"worker {self.index} ({self.device}{': ' + pins if pins else ''})"


def parse_core_list(spec: str) -> list[int]:
    """NEURON_RT_VISIBLE_CORES syntax: `N`, `A-B` (inclusive), or a comma list of those."""
    cores: list[int] = []
    for part in spec.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match or (match[2] is not None and int(match[2]) < int(match[1])):
            raise DeviceLayoutError(f"NEURON_RT_VISIBLE_CORES={spec!r}: expected N, A-B or a comma list")
        cores.extend(range(int(match[1]), int(match[2] or match[1]) + 1))
    if len(set(cores)) != len(cores):
        raise DeviceLayoutError(f"NEURON_RT_VISIBLE_CORES={spec!r}: a core is listed twice")
    return cores


def format_core_list(cores: list[int]) -> str:
    """`A-B` for a contiguous run (understood by every runtime), else a comma list."""
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}-{cores[-1]}" if len(cores) > 1 else str(cores[0])
    return ",".join(str(c) for c in cores)


def visible_neuron_cores(visible_spec: str | None, dev_dir: Path = Path("/dev")) -> list[int]:
    """The container-level NEURON_RT_VISIBLE_CORES, else 2 cores per /dev/neuronN device."""
    if visible_spec:
        return parse_core_list(visible_spec)
    chips = [p for p in dev_dir.glob("neuron*") if re.fullmatch(r"neuron\d+", p.name)]
    return list(range(len(chips) * CORES_PER_CHIP))


def visible_gpus(visible_spec: str | None, dev_dir: Path = Path("/dev")) -> list[str]:
    """CUDA_VISIBLE_DEVICES if set, else one id per /dev/nvidiaN device."""
    if visible_spec is not None:
        return [d for d in visible_spec.replace(" ", "").split(",") if d and d != "-1"]
    gpus = sorted(int(p.name[6:]) for p in dev_dir.glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name))
    return [str(g) for g in gpus]


def neuron_lanes(
    cores: list[int], counts: Mapping[str, int], cores_per_worker: Mapping[str, int]
) -> dict[str, list[WorkerSlot]]:
    """Each variant's workers on consecutive runs of the visible cores, the widest workers first so
    that two-core workers stay on one chip's pair next to one-core ones; `counts` must fit (the
    plan's split checked it). Worker indices follow the cores; the lanes keep `counts`' order."""
    placed: dict[str, list[WorkerSlot]] = {}
    start = 0
    for name in sorted(counts, key=lambda n: -cores_per_worker[n]):  # stable: variant order within a width
        width = cores_per_worker[name]
        groups = [cores[start + k * width : start + (k + 1) * width] for k in range(counts[name])]
        start += width * counts[name]
        first = sum(len(slots) for slots in placed.values())
        placed[name] = [
            WorkerSlot(first + k, "neuron", {"NEURON_RT_VISIBLE_CORES": format_core_list(g)})
            for k, g in enumerate(groups)
        ]
    return {name: placed[name] for name in counts}


def cuda_slots(gpus: list[str], workers: int | None) -> list[WorkerSlot]:
    if workers is not None and workers > len(gpus):
        raise DeviceLayoutError(f"SDXL_WORKERS={workers} but only {len(gpus)} GPU(s) visible")
    chosen = gpus[: workers or len(gpus)]
    return [WorkerSlot(i, "cuda", {"CUDA_VISIBLE_DEVICES": gpu}) for i, gpu in enumerate(chosen)]


def cpu_slots(workers: int | None) -> list[WorkerSlot]:
    return [WorkerSlot(i, "cpu", {"CUDA_VISIBLE_DEVICES": ""}) for i in range(workers or 1)]


def plan_workers(
    device: Literal["cpu", "cuda"],
    *,
    workers: int | None = None,
    cuda_visible_devices: str | None = None,
    dev_dir: Path = Path("/dev"),
) -> list[WorkerSlot]:
    """One slot per GPU or CPU worker, with the environment that pins it (NeuronCores: neuron_lanes)."""
    if device == "cuda":
        gpus = visible_gpus(cuda_visible_devices, dev_dir)
        if not gpus:
            raise DeviceLayoutError("SDXL_DEVICE=cuda but no GPU is visible")
        return cuda_slots(gpus, workers)
    return cpu_slots(workers)
