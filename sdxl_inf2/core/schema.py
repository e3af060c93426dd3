"""What a client may send to /invocations, validated with pydantic; pure, no I/O.

Two request shapes are accepted:

- flat:  {"prompt": "...", "num_inference_steps": 30, ...}
- Hugging Face DLC: {"inputs": "...", "parameters": {"num_inference_steps": 30, ...}}

Both resolve to one `GenerationParams` with every value concrete (the variant the request runs
on, picked by `variant` or by its size; defaults from that variant's manifest entry; a random seed
when none was given), which is what the workers receive and what the response echoes. Unknown
fields are errors.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import BadRequest
from .modeldir import DEFAULT_VARIANT, ModelInfo
from .schedulers import SCHEDULERS
from .validation import first_problem
from .variants import pick_variant

MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**63 - 1
MAX_FIELD_NAME = 100  # characters of a field name echoed in an error (an unknown key can be as long as the body)
REQUEST_WORDS = {"extra_forbidden": "unknown field", "missing": "field required"}
OutputFormat = Literal["png", "jpeg", "webp"]


def _unicode_text(value: str) -> str:
    """JSON may escape lone surrogates (\\ud800) that no tokenizer, log or encoder can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate escape such as \\ud800)") from None
    return value


Text = Annotated[str, AfterValidator(_unicode_text)]


class GenerationFields(BaseModel):
    """Everything but the prompt; the `parameters` object of the Hugging Face shape."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    prompt_2: Text | None = Field(None, max_length=MAX_PROMPT_CHARS)
    negative_prompt: Text | None = Field(None, max_length=MAX_PROMPT_CHARS)
    negative_prompt_2: Text | None = Field(None, max_length=MAX_PROMPT_CHARS)
    num_inference_steps: int | None = Field(None, ge=1, le=200)
    guidance_scale: float | None = Field(None, ge=0.0, le=30.0, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    height: int | None = Field(None, ge=8, le=4096)
    width: int | None = Field(None, ge=8, le=4096)
    num_images: int | None = Field(
        None, ge=1, le=16, validation_alias=AliasChoices("num_images", "num_images_per_prompt")
    )
    scheduler: str | None = None
    output_format: OutputFormat | None = None
    quality: int | None = Field(None, ge=1, le=100)
    variant: str | None = Field(None, min_length=1, max_length=64)  # checked against the served names

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, name: str | None) -> str | None:
        if name is not None and name not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {name!r}; one of {', '.join(SCHEDULERS)}")
        return name


class FlatRequest(GenerationFields):
    prompt: Text = Field(min_length=1, max_length=MAX_PROMPT_CHARS)


class HuggingFaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    inputs: Text = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    parameters: GenerationFields = GenerationFields()


@dataclass(frozen=True)
class GenerationParams:
    """A fully resolved request: what a worker runs and what the response echoes."""

    prompt: str
    prompt_2: str | None
    negative_prompt: str | None
    negative_prompt_2: str | None
    num_inference_steps: int
    guidance_scale: float
    seed: int
    height: int
    width: int
    num_images: int
    scheduler: str
    output_format: str
    quality: int | None
    variant: str = DEFAULT_VARIANT  # the artifact variant (model folder) it runs on

    def echo(self, include_prompts: bool = True) -> dict[str, Any]:
        echoed = dict(self.__dict__)  # every field is a plain value: asdict's deep copy costs 0.1 ms per request
        if not include_prompts:
            for key in ("prompt", "prompt_2", "negative_prompt", "negative_prompt_2"):
                echoed.pop(key)
        return echoed


def parse_request(body: object) -> tuple[str, GenerationFields]:
    """(prompt, fields) from either request shape; BadRequest naming the field otherwise."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", field="(body)")
    shape: type[BaseModel] = HuggingFaceRequest if "inputs" in body else FlatRequest
    try:
        parsed = shape.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(exc) from None
    if isinstance(parsed, HuggingFaceRequest):
        return parsed.inputs, parsed.parameters
    assert isinstance(parsed, FlatRequest)
    return parsed.prompt, parsed


def _bad_request(exc: ValidationError) -> BadRequest:
    problem = first_problem(exc, "(body)", words=REQUEST_WORDS, max_where=MAX_FIELD_NAME)
    return BadRequest(str(problem), field=problem.where)


def resolve(prompt: str, fields: GenerationFields, artifact: ModelInfo, output_format: str) -> GenerationParams:
    """Pick the variant, fill its defaults, and check the request against what it was compiled for."""
    variant, shape = pick_variant(artifact, fields.variant, fields.height, fields.width)
    model = variant.model
    num_images = fields.num_images or 1
    if num_images > model.max_images:
        raise BadRequest(
            f"num_images: at most {model.max_images} per request for this model (compiled images per prompt)",
            field="num_images",
        )
    if fields.quality is not None and output_format == "png":
        raise BadRequest("quality: applies to jpeg and webp only", field="quality")
    guidance_scale = model.defaults.guidance_scale if fields.guidance_scale is None else float(fields.guidance_scale)
    if reason := model.guidance_refusal(guidance_scale):
        raise BadRequest(reason, field="guidance_scale")
    return GenerationParams(
        prompt=prompt,
        prompt_2=fields.prompt_2,
        negative_prompt=fields.negative_prompt,
        negative_prompt_2=fields.negative_prompt_2,
        num_inference_steps=fields.num_inference_steps or model.defaults.num_inference_steps,
        guidance_scale=guidance_scale,
        seed=secrets.randbelow(2**32) if fields.seed is None else fields.seed,
        height=shape.height,
        width=shape.width,
        num_images=num_images,
        scheduler=fields.scheduler or _default_scheduler(model),
        output_format=output_format,
        quality=fields.quality,
        variant=variant.name,
    )


def _default_scheduler(model: ModelInfo) -> str:
    return model.defaults.scheduler if model.defaults.scheduler in SCHEDULERS else "default"
