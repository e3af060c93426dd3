"""Request validation and negotiation, without a server (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdxl_inf2.core.accept import Accept, parse_accept
from sdxl_inf2.core.errors import BadRequest, NotAcceptable
from sdxl_inf2.core.manifest import Defaults, Shape
from sdxl_inf2.core.modeldir import ModelInfo
from sdxl_inf2.core.negotiation import check_image_count, negotiate
from sdxl_inf2.core.schema import GenerationParams, parse_request, resolve

MODEL = ModelInfo(
    Path("/m"),
    "neuron",
    (Shape(height=1024, width=1024), Shape(height=768, width=1344)),
    2,
    Defaults(num_inference_steps=30, guidance_scale=5.0, scheduler="euler"),
    None,
)


def accept(header: str) -> Accept:
    return parse_accept(header)


def test_defaults_come_from_the_model() -> None:
    prompt, fields = parse_request({"prompt": "a cat"})
    params = resolve(prompt, fields, MODEL, "png")
    assert (params.height, params.width, params.num_inference_steps, params.guidance_scale) == (1024, 1024, 30, 5.0)
    assert params.scheduler == "euler" and params.num_images == 1 and 0 <= params.seed < 2**32


def test_partial_size_picks_the_matching_compiled_shape() -> None:
    prompt, fields = parse_request({"prompt": "a cat", "width": 1344})
    assert resolve(prompt, fields, MODEL, "png").height == 768


def test_huggingface_shape_and_diffusers_alias() -> None:
    prompt, fields = parse_request({"inputs": "a cat", "parameters": {"num_images_per_prompt": 2, "seed": 3}})
    params = resolve(prompt, fields, MODEL, "png")
    assert (params.prompt, params.num_images, params.seed) == ("a cat", 2, 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "x", "guidance_scale": True}, "guidance_scale"),
        ({"prompt": "x", "num_images": True}, "num_images"),
        ({"prompt": "x", "guidance_scale": float("nan")}, "guidance_scale"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"inputs": "x", "parameters": []}, "parameters"),
        ("a cat", "(body)"),
    ],
)
def test_type_errors_name_the_field(body: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request(body)
    assert caught.value.field == field


def test_integers_are_accepted_for_floats() -> None:
    prompt, fields = parse_request({"prompt": "x", "guidance_scale": 7})
    assert resolve(prompt, fields, MODEL, "png").guidance_scale == 7.0


@pytest.mark.parametrize(
    ("header", "fmt", "as_json", "expected"),
    [
        ("", None, False, "png"),
        ("*/*", None, False, "png"),
        ("image/*", None, False, "png"),
        ("image/webp", None, False, "webp"),
        ("application/json", None, True, "png"),
        ("application/json", "jpeg", True, "jpeg"),
        ("*/*", "jpeg", False, "jpeg"),
        ("image/jpeg;q=0.2, image/webp", None, False, "webp"),
    ],
)
def test_negotiation(header: str, fmt: str | None, as_json: bool, expected: str) -> None:
    plan = negotiate(accept(header), fmt)
    assert (plan.as_json, plan.output_format) == (as_json, expected)


def test_negotiation_refusals() -> None:
    with pytest.raises(NotAcceptable):
        negotiate(accept("text/plain"), None)
    with pytest.raises(NotAcceptable):
        negotiate(accept("image/png"), "webp")
    with pytest.raises(NotAcceptable, match="application/json"):
        check_image_count(negotiate(accept("image/png"), None), 2)
    check_image_count(negotiate(accept("application/json"), None), 2)


def test_the_echo_is_every_field_as_a_plain_value() -> None:
    """echo() copies the fields shallowly (it runs per request); any field that is not a plain value
    would differ from asdict's deep copy here."""
    from dataclasses import asdict

    params = GenerationParams("a cat", None, "blurry", None, 2, 5.0, 42, 64, 64, 1, "euler", "png", None, "64x64")
    assert params.echo() == asdict(params)
    assert list(params.echo()) == list(asdict(params))  # same order as the fields
    assert params.echo(include_prompts=False) == {k: v for k, v in asdict(params).items() if "prompt" not in k}
    params.echo()["seed"] = 0
    assert params.seed == 42
