"""image/pins.py: which base packages the image build protects, and the check after the install."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_pins() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pins", ROOT / "image" / "pins.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = load_pins()


def site(tmp_path: Path, **dists: str) -> list[str]:
    """A fake site-packages holding dist-info metadata for {name: version}."""
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    for name, version in dists.items():
        info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return [str(folder)]


def test_protects_torch_neuron_sdk_and_numpy_only(tmp_path: Path) -> None:
    path = site(
        tmp_path,
        torch="2.8.0",
        **{"torch-neuronx": "2.8.0.2.10.16998", "Neuronx_CC": "2.21.33363.0", "libneuronxla": "2.2.12677.0"},
        numpy="1.26.4",
        **{"optimum-neuron": "0.4.1", "transformers": "4.48.0"},
    )
    assert pins.protected_versions(path) == {
        "libneuronxla": "2.2.12677.0",
        "neuronx-cc": "2.21.33363.0",
        "numpy": "1.26.4",
        "torch": "2.8.0",
        "torch-neuronx": "2.8.0.2.10.16998",
    }


def test_check_names_every_changed_or_missing_package(tmp_path: Path) -> None:
    constraints = tmp_path / "base-constraints.txt"
    constraints.write_text("torch==2.8.0\nnumpy==1.26.4\nneuronx-cc==2.21.33363.0\n")
    path = site(tmp_path, torch="2.9.1", numpy="1.26.4")
    assert pins.check(constraints, path) == [
        "torch: base had 2.8.0, now 2.9.1",
        "neuronx-cc: base had 2.21.33363.0, now missing",
    ]


def test_check_passes_when_nothing_changed(tmp_path: Path) -> None:
    constraints = tmp_path / "base-constraints.txt"
    constraints.write_text("torch==2.13.0+cpu\n")
    assert pins.check(constraints, site(tmp_path, torch="2.13.0+cpu", flask="3.1.3")) == []


def test_requirements_are_the_pyproject_dependencies() -> None:
    requirements = pins.requirements(ROOT / "pyproject.toml")
    assert "optimum-neuron[diffusers]==0.4.5" in requirements
    assert not any(r.startswith("torch") for r in requirements), "torch comes from the base image"


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    constraints = tmp_path / "c.txt"
    constraints.write_text(f"torch==0.0.1\nnumpy=={pins.protected_versions().get('numpy', '0')}\n")
    assert pins.main(["check", str(constraints)]) == 1
    assert "torch: base had 0.0.1" in capsys.readouterr().err
    assert pins.main(["nonsense"]) == 2
    assert pins.main(["constraints"]) == 0
    assert "torch==" in capsys.readouterr().out
