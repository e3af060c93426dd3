"""The compile settings file (YAML, checked into compile/): what to compile and at which shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sdxl_inf2.core.errors import SdxlError
from sdxl_inf2.core.guidance import CompiledBatch, names_an_lcm
from sdxl_inf2.core.manifest import Defaults, Shape
from sdxl_inf2.core.schedulers import SCHEDULERS
from sdxl_inf2.core.validation import first_problem


class CompileConfigError(SdxlError):
    """The compile config is missing or invalid; one line naming the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraAdapter(_Strict):
    """A LoRA fused into the weights at compile time (Neuron cannot swap LoRAs at run time)."""

    id: str = Field(min_length=1, description="Hub id or local folder")
    weight_name: str = Field(min_length=1)
    adapter_name: str = Field(min_length=1)
    scale: float = Field(1.0, gt=0, le=10)


class CompileConfig(_Strict):
    model: str = Field(min_length=1, description="Hub id or local fine-tuned diffusers folder")
    revision: str | None = None
    unet: str | None = Field(
        None, min_length=1, description="a UNet (Hub id or diffusers folder) replacing the model's"
    )
    dynamic_batch_size: bool = False
    batch_size: int = Field(1, ge=1, le=8)
    images_per_prompt: int = Field(1, ge=1, le=8)
    shapes: tuple[Shape, ...] = Field(min_length=1)
    auto_cast: Literal["none", "matmul", "all"] = "matmul"
    auto_cast_type: Literal["bf16", "fp16", "tf32"] = "bf16"
    torch_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    optlevel: Literal[1, 2, 3] = 2
    lora: tuple[LoraAdapter, ...] = ()
    refiner: Literal[False] = False
    neuron_cache: bool = True
    defaults: Defaults = Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler")

    @field_validator("shapes")
    @classmethod
    def _distinct(cls, shapes: tuple[Shape, ...]) -> tuple[Shape, ...]:
        if len(set(shapes)) != len(shapes):
            raise ValueError("a shape is listed twice")
        return shapes

    @model_validator(mode="after")
    def _known_scheduler(self) -> CompileConfig:
        if self.defaults.scheduler not in SCHEDULERS:
            raise ValueError(f"defaults.scheduler {self.defaults.scheduler!r}: one of {', '.join(SCHEDULERS)}")
        return self

    @model_validator(mode="after")
    def _default_guidance_runs(self) -> CompileConfig:
        """The rule the server applies to the compiled folder, on the NeuronCores it will plan for its
        workers, checked before 30-45 minutes of compiling (a UNet replacement is taken as an LCM,
        guidance embedding included, when its name says so)."""
        reason = self.served_batch().refusal(self.defaults.guidance_scale)
        if reason:
            raise ValueError(f"defaults.{reason}")
        return self

    def served_batch(self) -> CompiledBatch:
        """The compiled batch on the NeuronCores its workers will get (one when guidance-free)."""
        return self.expected_batch().planned(self.defaults.guidance_scale)

    def expected_batch(self) -> CompiledBatch:
        lcm = names_an_lcm(self.unet or "")
        return CompiledBatch(
            unet_batch=self.batch_size * self.images_per_prompt,
            images_per_call=self.images_per_prompt,
            dynamic=self.dynamic_batch_size,
            guidance_embedding=lcm,
            lcm=lcm,
        )


def load_compile_config(path: Path) -> CompileConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CompileConfigError(f"{path}: no such compile config", file=path) from None
    except yaml.YAMLError as exc:
        raise CompileConfigError(f"{path}: not valid YAML ({exc})", file=path) from None
    try:
        return CompileConfig.model_validate(data)
    except ValidationError as exc:
        raise CompileConfigError(f"{path}: {first_problem(exc, '(top level)')}", file=path) from None
