"""Worker pinning: the layout for fake device layouts, and what real worker processes see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdxl_inf2.container.config import load_settings
from sdxl_inf2.container.devices import DeviceLayoutError, format_core_list, parse_core_list, plan_workers
from sdxl_inf2.container.variants import plan_lanes
from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.manifest import Defaults, Shape
from sdxl_inf2.core.modeldir import ModelInfo
from tests.conftest import ServerFactory
from tests.server import FAKE

DIFFUSERS = ModelInfo(
    Path("m"),
    "diffusers",
    (Shape(height=64, width=64),),
    1,
    Defaults(num_inference_steps=2, guidance_scale=5.0, scheduler="euler"),
    None,
)


def pins(slots: list) -> list[str]:  # type: ignore[type-arg]
    return [s.env.get("NEURON_RT_VISIBLE_CORES") or s.env.get("CUDA_VISIBLE_DEVICES") for s in slots]


def neuron_workers(dev_dir: Path = Path("/dev"), **env: object) -> list:  # type: ignore[type-arg]
    """The server's neuron plan for one variant (nothing compiled: one chip a worker unless set)."""
    settings = load_settings({k: str(v) for k, v in env.items()})
    return plan_lanes(settings, DIFFUSERS, "neuron", dev_dir).lanes["default"]


def fake_dev(tmp_path: Path, chips: int) -> Path:
    for index in range(chips):
        (tmp_path / f"neuron{index}").touch()
    (tmp_path / "neuron_extra").touch()  # not a chip
    return tmp_path


def test_inf2_48xlarge_24_cores_12_workers(tmp_path: Path) -> None:
    slots = neuron_workers(fake_dev(tmp_path, 12))
    assert pins(slots) == [f"{2 * k}-{2 * k + 1}" for k in range(12)]
    assert [s.index for s in slots] == list(range(12))


def test_container_level_visible_cores_narrow_the_layout(tmp_path: Path) -> None:
    slots = neuron_workers(fake_dev(tmp_path, 12), NEURON_RT_VISIBLE_CORES="4-7")
    assert pins(slots) == ["4-5", "6-7"]


@pytest.mark.parametrize(
    ("visible", "cores_per_worker", "workers", "expected"),
    [
        ("0-23", 2, None, [f"{2 * k}-{2 * k + 1}" for k in range(12)]),
        ("0-23", 2, 3, ["0-1", "2-3", "4-5"]),
        ("0-11", 4, None, ["0-3", "4-7", "8-11"]),
        ("0,1,4,5", 2, None, ["0-1", "4-5"]),
        ("0,2,4,6", 2, None, ["0,2", "4,6"]),
        ("0-4", 2, None, ["0-1", "2-3"]),  # an odd core left over is not used
        ("7", 1, None, ["7"]),
    ],
)
def test_neuron_layouts(visible: str, cores_per_worker: int, workers: int | None, expected: list[str]) -> None:
    env = {"NEURON_RT_VISIBLE_CORES": visible, "SDXL_CORES_PER_WORKER": cores_per_worker}
    slots = neuron_workers(**env, **({"SDXL_WORKERS": workers} if workers else {}))
    assert pins(slots) == expected


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"NEURON_RT_VISIBLE_CORES": "0-1", "SDXL_WORKERS": 2}, "SDXL_WORKERS=2 needs 4 NeuronCores; 2 visible"),
        ({"NEURON_RT_VISIBLE_CORES": "0"}, "no NeuronCores for a worker"),
        ({"NEURON_RT_VISIBLE_CORES": "a-b"}, "expected N, A-B"),
        ({"NEURON_RT_VISIBLE_CORES": "0,0"}, "listed twice"),
    ],
)
def test_neuron_layout_errors(env: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SdxlError, match=words):
        neuron_workers(**env)


def test_no_neuron_devices(tmp_path: Path) -> None:
    with pytest.raises(SdxlError, match="0 visible"):
        neuron_workers(tmp_path)


def test_cuda_and_cpu_layouts(tmp_path: Path) -> None:
    for index in (0, 1, 3):
        (tmp_path / f"nvidia{index}").touch()
    (tmp_path / "nvidiactl").touch()
    assert pins(plan_workers("cuda", dev_dir=tmp_path)) == ["0", "1", "3"]
    assert pins(plan_workers("cuda", cuda_visible_devices="2,5", dev_dir=tmp_path)) == ["2", "5"]
    assert pins(plan_workers("cuda", cuda_visible_devices="2,5", workers=1)) == ["2"]
    assert pins(plan_workers("cpu")) == [""]
    assert len(plan_workers("cpu", workers=3)) == 3
    with pytest.raises(DeviceLayoutError, match="no GPU"):
        plan_workers("cuda", cuda_visible_devices="")


def test_core_list_round_trip() -> None:
    assert parse_core_list("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11]
    assert format_core_list([4, 5, 6]) == "4-6" and format_core_list([1, 3]) == "1,3"


def reports(folder: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(p.read_text()) for p in sorted(folder.glob("worker-*.json"))]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SDXL_DEVICE": "neuron", "NEURON_RT_VISIBLE_CORES": "4-7"}, ["4-5", "6-7"]),
        ({"SDXL_DEVICE": "neuron", "NEURON_RT_VISIBLE_CORES": "0-23"}, [f"{2 * k}-{2 * k + 1}" for k in range(12)]),
    ],
    ids=["4-7", "24-cores"],
)
def test_real_workers_are_pinned_before_importing_device_code(
    servers: ServerFactory, tiny_model: Path, tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    server = servers(
        tiny_model, env={**env, "SDXL_BACKEND": FAKE.format("pinning"), "FAKE_REPORT_DIR": str(report_dir)}
    )
    body = server.wait_ping(200)
    assert body["workers"] == {"ready": len(expected), "total": len(expected)}
    assert [s["NEURON_RT_VISIBLE_CORES"] for s in body["slots"]] == expected
    seen = reports(report_dir)
    assert sorted(r["NEURON_RT_VISIBLE_CORES"] for r in seen) == sorted(expected)
    assert all(r["device_modules_loaded"] == [] and r["device"] == "neuron" for r in seen)
    assert {r["pid"] for r in seen} == {s["pid"] for s in body["slots"]}


def test_real_workers_one_per_gpu(servers: ServerFactory, tiny_model: Path, tmp_path: Path) -> None:
    env = {
        "SDXL_DEVICE": "cuda",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "SDXL_BACKEND": FAKE.format("pinning"),
        "FAKE_REPORT_DIR": str(tmp_path),
    }
    servers(tiny_model, env=env).wait_ping(200)
    assert sorted(r["CUDA_VISIBLE_DEVICES"] for r in reports(tmp_path)) == ["0", "1"]
