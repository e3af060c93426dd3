"""Variants seen by a request: which variant and size it runs at, and the `name:number` lists that
size the variants' share of the workers (SDXL_VARIANT_WORKERS, compile's shares). Pure.

Routing: an explicit `variant` field, else the first variant (default first) serving the asked
width/height; a size no variant serves is a 400 that lists the served sizes.
"""

from __future__ import annotations

import math

from .errors import BadRequest, SdxlError
from .manifest import Shape
from .modeldir import ModelInfo, Variant


class VariantPlanError(SdxlError, ValueError):
    """The worker plan cannot be met; one line (the caller names the setting). A ValueError too, so
    that a pydantic validator raising it reports it as the variable's problem."""


def parse_weights(spec: str) -> dict[str, float]:
    """`name:number,name:number` -> {name: number}; one-line ValueError on anything else."""
    weights: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        name, sep, value = item.rpartition(":")
        if not sep or not name:
            raise VariantPlanError(f"{item!r}: expected name:number, e.g. 1024x1024:8")
        if name in weights:
            raise VariantPlanError(f"{name!r} is listed twice")
        try:
            weights[name] = float(value)
        except ValueError:
            raise VariantPlanError(f"{item!r}: {value!r} is not a number") from None
        if not math.isfinite(weights[name]) or weights[name] < 0:
            raise VariantPlanError(f"{item!r}: expected a number >= 0")
    return weights


def parse_worker_plan(spec: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, value in parse_weights(spec).items():
        if value != int(value):
            raise VariantPlanError(f"{name}:{value:g}: a worker count is a whole number")
        counts[name] = int(value)
    return counts


def pick_variant(model: ModelInfo, name: str | None, height: int | None, width: int | None) -> tuple[Variant, Shape]:
    """The variant and size a request runs at; BadRequest naming the field otherwise."""
    candidates = model.served
    if name is not None:
        candidates = tuple(v for v in candidates if v.name == name)
        if not candidates:
            served = ", ".join(f"{v.name} ({v.model.describe_shapes()})" for v in model.served)
            raise BadRequest(f"variant: unknown variant {name!r}; served variants: {served}", field="variant")
    for variant in candidates:
        for shape in variant.model.shapes:
            if height in (None, shape.height) and width in (None, shape.width):
                return variant, shape
    shapes = [s for v in candidates for s in v.model.shapes]
    raise _size_error(shapes, height, width, f"variant {name!r}" if name else "this model")


def _size_error(shapes: list[Shape], height: int | None, width: int | None, where: str) -> BadRequest:
    field = "height" if height is not None and width is None else "width"
    if height is not None and width is not None:
        field = "height" if all(s.height != height for s in shapes) else "width"
    asked = f"{width or '*'}x{height or '*'}"
    sizes = ", ".join(str(s) for s in dict.fromkeys(shapes))
    return BadRequest(
        f"{field}: size {asked} (WxH) is not compiled into {where}; compiled sizes: {sizes}",
        field=field,
    )
