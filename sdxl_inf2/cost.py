"""Images per instance-hour and cost per image, and what the reference case's published figures imply.

The model (each one an assumption, printed as such by `sdxl-inf2 cost`):

- a worker renders one image per `seconds_per_image`, back to back, so an instance's workers render
  `workers * 3600 / seconds_per_image` images an hour at full load;
- a cache hit costs no worker time, so at a hit rate h the instance serves `1 / (1 - h)` times that;
- the instance is paid by the hour whether busy or not; nothing else is priced (S3, data transfer,
  CloudWatch, the time spent scaling out or idle before scale-in);
- the usage-rate policy counts every request, hits included (as the reference case does), against worker
  capacity, so at its target u an instance serves `u * capacity` requests an hour whatever the hit
  rate, and its workers are busy `u * (1 - h)` of the time; or, with `count_cache_hits: false` (the
  deploy config's default), it counts misses only, so its workers are busy `u` of the time and it
  serves `u * capacity / (1 - h)`.

Prices are never fetched: `--price-per-hour`, else the price the reference case's own figures imply.

Seconds per image is the one input that depends on the model. Presets (`--seconds-per-image
lightning-4step`) estimate it on paper for SDXL base and the few-step models, from one measured
step rate (`StepModel`); none was measured on inf2 by this project. Workers per instance come from
the container's own plan (core/workers.py) for the preset's model on the instance type: one per
NeuronCore for a guidance-free model, one per chip with classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.guidance import CompiledBatch
from sdxl_inf2.core.workers import NeuronPlan, VariantNeeds, WorkerSettings, instance_cores, neuron_plan

SECONDS_PER_HOUR = 3600


class CostError(SdxlError):
    """An input is out of range; one line naming it."""


@dataclass(frozen=True)
class ReferenceCase:
    """The reference case: Monks' SDXL on SageMaker async endpoints with inf2 (AWS Machine Learning Blog post)."""

    images_per_instance_hour: float = 27_796
    cost_per_image: float = 0.000425
    seconds_per_image: float = 9.7  # "image generation in just 9.7 seconds"
    workers: int = 12  # inf2.48xlarge: 12 Inferentia2 chips
    instance_type: str = "ml.inf2.48xlarge"
    target: float = 0.75  # the usage-rate policy's TargetValue
    policy_seconds_per_image: float = 10  # the "/ 10" in its metric math

    @property
    def price_per_hour(self) -> float:
        """What the two published figures imply the instance cost per hour."""
        return self.images_per_instance_hour * self.cost_per_image


REFERENCE_CASE = ReferenceCase()


def price(price_per_hour: float | None, instance_type: str = REFERENCE_CASE.instance_type) -> tuple[float, str]:
    """The instance price to use and where it comes from: the flag, else what the reference case's figures
    imply for its own instance type (no other price is known here)."""
    if price_per_hour is not None:
        return price_per_hour, "--price-per-hour"
    case = REFERENCE_CASE
    if instance_type != case.instance_type:
        raise CostError(
            f"--price-per-hour: required for {instance_type} (the reference case's figures imply a price for "
            f"{case.instance_type} only)"
        )
    implied = f"implied by the reference case: {case.images_per_instance_hour:,.0f} x ${case.cost_per_image}"
    return case.price_per_hour, f"{implied}; not an AWS list price"


@dataclass(frozen=True)
class CostInputs:
    seconds_per_image: float
    workers: int
    price_per_hour: float
    cache_hit_rate: float = 0.0
    target: float = 0.75
    count_cache_hits: bool = True  # the policy's m2 counts hits (the reference case's choice) or misses only

    def check(self) -> CostInputs:
        if self.seconds_per_image <= 0:
            raise CostError(f"--seconds-per-image must be above 0 (got {self.seconds_per_image:g})")
        if self.workers < 1:
            raise CostError(f"--workers must be at least 1 (got {self.workers})")
        if self.price_per_hour < 0:
            raise CostError(f"--price-per-hour must not be negative (got {self.price_per_hour:g})")
        if not 0 <= self.cache_hit_rate < 1:
            raise CostError(f"--cache-hit-rate must be in [0, 1) (got {self.cache_hit_rate:g})")
        if not 0 < self.target <= 1:
            raise CostError(f"--target must be in (0, 1] (got {self.target:g})")
        return self


@dataclass(frozen=True)
class CostFigures:
    worker_images_per_hour: float  # rendered by the workers at full load
    images_per_hour: float  # served at full load, hits included
    cost_per_image: float  # at full load
    images_per_hour_at_target: float  # served while the policy holds its target
    cost_per_image_at_target: float
    worker_busy_at_target: float  # the fraction of time a worker renders, at the target


def figures(inputs: CostInputs) -> CostFigures:
    rendered = inputs.workers * SECONDS_PER_HOUR / inputs.seconds_per_image
    served = rendered / (1 - inputs.cache_hit_rate)
    rendered_share = 1 - inputs.cache_hit_rate if inputs.count_cache_hits else 1.0  # of the target, rendered
    at_target = inputs.target * rendered * rendered_share / (1 - inputs.cache_hit_rate)
    return CostFigures(
        worker_images_per_hour=rendered,
        images_per_hour=served,
        cost_per_image=inputs.price_per_hour / served,
        images_per_hour_at_target=at_target,
        cost_per_image_at_target=inputs.price_per_hour / at_target,
        worker_busy_at_target=inputs.target * rendered_share,
    )


@dataclass(frozen=True)
class ReferenceCaseImplications:
    price_per_hour: float  # images per instance-hour x cost per image
    seconds_per_image_needed: float  # per worker, for the published throughput without a cache
    cache_hit_rate_needed: float  # for the published throughput at the published 9.7 s per image
    usage_rate_at_published_throughput: float  # what the reference case's own policy would read
    requests_per_hour_at_target: float  # what an instance takes while the policy holds its target


def reference_case_implications(case: ReferenceCase = REFERENCE_CASE) -> ReferenceCaseImplications:
    capacity = case.workers * SECONDS_PER_HOUR / case.seconds_per_image
    policy_capacity = case.workers * SECONDS_PER_HOUR / case.policy_seconds_per_image
    return ReferenceCaseImplications(
        price_per_hour=case.price_per_hour,
        seconds_per_image_needed=case.workers * SECONDS_PER_HOUR / case.images_per_instance_hour,
        cache_hit_rate_needed=max(0.0, 1 - capacity / case.images_per_instance_hour),
        usage_rate_at_published_throughput=case.images_per_instance_hour / policy_capacity,
        requests_per_hour_at_target=case.target * policy_capacity,
    )


@dataclass(frozen=True)
class StepModel:
    """Seconds per 1024x1024 image on one inf2 chip, on paper: steps x step time + the rest (text
    encoders, VAE decode, image). From the one public log with both a step rate and a request time
    (Ray Serve's optimum-neuron SDXL tutorial, inf2.8xlarge, 50 steps with CFG: 3.84 it/s, 14.2 s a
    request). A step costs about the same with or without CFG: with it, the data-parallel UNet runs
    its two latents on the chip's two cores at once; without it, one core runs one latent."""

    step_s: float = 1 / 3.84  # 0.26 s
    other_s: float = 14.2 - 50 / 3.84  # 1.18 s

    def seconds_per_image(self, steps: int) -> float:
        return steps * self.step_s + self.other_s


ON_PAPER = StepModel()


@dataclass(frozen=True)
class Preset:
    name: str
    steps: int
    guidance_scale: float  # its default: above 1 runs classifier-free guidance (unless lcm)
    lcm: bool  # an LCM UNet: guidance is an input (time_cond_proj_dim), never classifier-free guidance
    what: str

    @property
    def seconds_per_image(self) -> float:
        return ON_PAPER.seconds_per_image(self.steps)

    @property
    def needs(self) -> VariantNeeds:
        """The preset's model as compile/*.yaml compiles it (batch 1, one image per prompt)."""
        batch = CompiledBatch(1, 1, dynamic=False, guidance_embedding=self.lcm, lcm=self.lcm)
        return VariantNeeds(self.name, 1.0, self.guidance_scale, batch)


PRESETS = {
    p.name: p
    for p in (
        Preset("sdxl-base-30", 30, 5.0, False, "SDXL base, 30 steps, CFG (compile/sdxl-base-1024.yaml)"),
        Preset("lightning-8step", 8, 0.0, False, "SDXL-Lightning 8-step, guidance 0"),
        Preset(
            "lightning-4step",
            4,
            0.0,
            False,
            "SDXL-Lightning 4-step, guidance 0 (compile/sdxl-lightning-4step-1024.yaml)",
        ),
        Preset("lcm-4step", 4, 8.0, True, "LCM-SDXL, 4 steps, guidance as an input (compile/lcm-sdxl-1024.yaml)"),
        Preset("lightning-2step", 2, 0.0, False, "SDXL-Lightning 2-step, guidance 0"),
    )
}
UNKNOWN_MODEL = PRESETS["sdxl-base-30"]  # plain seconds per image: taken to use CFG, one worker per chip


def instance_plan(instance_type: str, preset: Preset | None) -> NeuronPlan:
    """The workers the container plans for the preset's model (else a CFG model) on this instance type."""
    cores = instance_cores(instance_type)
    if cores is None:
        raise CostError(f"--instance-type {instance_type!r}: not an inf2 instance type (ml.inf2.*); give --workers")
    return neuron_plan([(preset or UNKNOWN_MODEL).needs], cores, WorkerSettings())


@dataclass(frozen=True)
class PresetImplications:
    images_per_hour: float  # the preset's workers at full load, no cache
    share_of_published: float  # images_per_hour / the reference case's 27,796


def preset_implications(preset: Preset, workers: int, case: ReferenceCase = REFERENCE_CASE) -> PresetImplications:
    per_hour = workers * SECONDS_PER_HOUR / preset.seconds_per_image
    return PresetImplications(images_per_hour=per_hour, share_of_published=per_hour / case.images_per_instance_hour)
