"""The worker plan (core/workers.py), shared by serve, deploy and cost: NeuronCores per worker from a
variant's compiled batch and default guidance, SDXL_CORES_PER_WORKER, and the split of the visible
cores among variants of different widths, placed so that no two-core worker spans two chips."""

from __future__ import annotations

import pytest

from sdxl_inf2.container.devices import neuron_lanes, parse_core_list
from sdxl_inf2.core.guidance import CompiledBatch
from sdxl_inf2.core.settings import ConfigError
from sdxl_inf2.core.variants import VariantPlanError
from sdxl_inf2.core.workers import INF2_CHIPS, VariantNeeds, WorkerSettings, instance_cores, neuron_plan

SDXL = CompiledBatch(1, 1, dynamic=False, guidance_embedding=False, lcm=False)
LCM = CompiledBatch(1, 1, dynamic=False, guidance_embedding=True, lcm=True)


def cfg(name: str = "base", share: float = 1.0) -> VariantNeeds:
    return VariantNeeds(name, share, 5.0, SDXL)


def lightning(name: str = "lightning", share: float = 1.0) -> VariantNeeds:
    return VariantNeeds(name, share, 0.0, SDXL)


def pins(variants: list[VariantNeeds], visible: str, **settings: object) -> dict[str, list[str]]:
    cores = parse_core_list(visible)
    plan = neuron_plan(variants, len(cores), WorkerSettings(**settings))  # type: ignore[arg-type]
    lanes = neuron_lanes(cores, plan.counts, plan.cores)
    return {name: [slot.env["NEURON_RT_VISIBLE_CORES"] for slot in slots] for name, slots in lanes.items()}


@pytest.mark.parametrize(
    ("variant", "cores"),
    [
        (lightning(), 1),  # guidance 0: the UNet gets 1 latent a step
        (VariantNeeds("one", 1.0, 1.0, SDXL), 1),  # guidance 1 is no CFG either
        (cfg(), 2),  # CFG: 2 latents, one per core of the chip
        (VariantNeeds("lcm", 1.0, 8.0, LCM), 1),  # guidance is an input of an LCM UNet: never CFG
        (VariantNeeds("dynamic", 1.0, 5.0, CompiledBatch(1, 1, True, False, False)), 2),  # CFG by default
        (VariantNeeds("two-images", 1.0, 0.0, CompiledBatch(2, 2, False, False, False)), 1),  # 2 latents = batch 2
        (VariantNeeds("diffusers", 1.0, 0.0, None), 2),  # nothing compiled to read: one chip
    ],
    ids=lambda v: v.name if isinstance(v, VariantNeeds) else str(v),
)
def test_cores_per_worker_from_the_artifact(variant: VariantNeeds, cores: int) -> None:
    plan = neuron_plan([variant], 24, WorkerSettings())
    assert plan.cores == {variant.name: cores} and plan.workers == 24 // cores


def test_every_inf2_type() -> None:
    for instance_type, chips in INF2_CHIPS.items():
        cores = instance_cores(instance_type)
        assert cores == 2 * chips
        assert neuron_plan([lightning()], cores, WorkerSettings()).workers == 2 * chips
        assert neuron_plan([cfg()], cores, WorkerSettings()).workers == chips
    assert instance_cores("ml.g5.2xlarge") is None


def test_a_cfg_and_a_guidance_free_variant_side_by_side() -> None:
    """Two-core workers first, each on one chip's pair; one-core workers on the cores left."""
    placed = pins([lightning(share=1), cfg(share=1)], "0-23")
    assert placed["base"] == [f"{2 * k}-{2 * k + 1}" for k in range(6)]  # 12 cores: half the capacity
    assert placed["lightning"] == [str(core) for core in range(12, 24)]  # 12 workers on the other 12
    assert pins([cfg("a"), lightning("b"), cfg("c")], "0-5") == {"a": ["0-1"], "b": ["4", "5"], "c": ["2-3"]}


def test_cores_per_worker_overrides() -> None:
    assert pins([lightning()], "0-3", SDXL_CORES_PER_WORKER=2) == {"lightning": ["0-1", "2-3"]}  # as before
    with pytest.raises(ConfigError) as refused:
        neuron_plan([cfg()], 24, WorkerSettings(SDXL_CORES_PER_WORKER=1))
    assert refused.value.field == "SDXL_CORES_PER_WORKER"
    message = str(refused.value)
    assert message.startswith("SDXL_CORES_PER_WORKER=1: variant 'base': default guidance_scale 5:")
    assert "compiled at batch 1" in message and "SDXL_CORES_PER_WORKER=2" in message


@pytest.mark.parametrize(
    ("variants", "visible", "settings", "words"),
    [
        (
            [cfg(), lightning()],
            "0-1",
            {},
            "2 NeuronCore(s) for 2 variants (base: 2, lightning: 1 NeuronCore(s) a worker)",
        ),
        ([cfg()], "0", {}, "no NeuronCores for a worker: 1 visible, a worker needs 2"),
        ([cfg()], "0-3", {"SDXL_WORKERS": 3}, "SDXL_WORKERS=3 needs 6 NeuronCores; 4 visible"),
        ([cfg(), lightning()], "0-3", {"SDXL_VARIANT_WORKERS": "base:1,lightning:3"}, "(5 NeuronCores); 4 visible"),
    ],
)
def test_plans_that_do_not_fit(variants: list[VariantNeeds], visible: str, settings: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(VariantPlanError) as refused:
        pins(variants, visible, **settings)
    assert words in str(refused.value)


def test_workers_and_explicit_counts_with_mixed_widths() -> None:
    capped = pins([cfg(), lightning()], "0-23", SDXL_WORKERS=3)  # the cap's workers by share, first on a tie
    assert capped == {"base": ["0-1", "2-3"], "lightning": ["4"]}
    explicit = pins([cfg(), lightning()], "0-23", SDXL_VARIANT_WORKERS="base:10,lightning:4")
    assert len(explicit["base"]) == 10 and explicit["lightning"] == ["20", "21", "22", "23"]


def test_a_worker_cap_is_shared_as_before() -> None:
    """SDXL_WORKERS=5 with shares 0.6/0.4 on 12 chips: 3 and 2 workers, the shares of the five."""
    placed = pins([cfg("a", 0.6), cfg("b", 0.4)], "0-23", SDXL_WORKERS=5)
    assert (len(placed["a"]), len(placed["b"])) == (3, 2)
