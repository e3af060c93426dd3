"""The model card: what a gateway needs to read and key requests exactly as this container does.

Each instance publishes it at start (service.py) to every shared cache tier
(`<SDXL_CACHE_S3_URI>model-card.json`, beside the entries, which are named by 64 hex digits). It
carries the model description that `schema.resolve` reads (what ModelInfo says: kind, shapes, image
limit, defaults, the compiled batch, and every variant of a variants root, each described the same
way), the cache-key fingerprint with its KEY_VERSION, the scheduler names and the body limit. The gateway
(gateway/card.py) rebuilds a ModelInfo from it and keys with core/cache/key.py, so its key is
the container's own; a card whose KEY_VERSION or scheduler list differs from the gateway's code is
refused there rather than producing keys that never match.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SdxlError
from ..guidance import CompiledBatch
from ..manifest import Defaults, Shape
from ..modeldir import ModelInfo, ModelKind, Variant
from ..schedulers import SCHEDULERS
from ..validation import first_problem
from .key import KEY_VERSION

CARD_NAME = "model-card.json"


class CardError(SdxlError):
    """The stored card is not one this code can read; the message is one line."""


class CardModel(BaseModel):
    """What `schema.resolve` reads of a ModelInfo: kind, sizes, image limit, defaults, the compiled
    batch (which guidance scales run), and a variants root's variants, each a CardModel itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ModelKind
    shapes: tuple[Shape, ...] = Field(min_length=1)
    max_images: int = Field(ge=1)
    defaults: Defaults
    compiled_batch: CompiledBatch | None = None
    variants: tuple[CardVariant, ...] = ()

    @classmethod
    def of(cls, model: ModelInfo) -> CardModel:
        # ModelInfo's and Variant's attributes carry these names; the rest (paths) stays behind.
        return cls.model_validate(model, from_attributes=True)

    def model_info(self) -> ModelInfo:
        """The ModelInfo that resolves requests as the publishing container does (no local files)."""
        variants = tuple(Variant(v.name, v.model.model_info(), v.share) for v in self.variants)
        path = Path(CARD_NAME)
        return ModelInfo(
            path, self.kind, self.shapes, self.max_images, self.defaults, None, self.compiled_batch, variants
        )


class CardVariant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    share: float
    model: CardModel


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    card_version: Literal[1] = 1
    key_version: int
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    model: CardModel
    schedulers: tuple[str, ...]
    max_body_bytes: int = Field(ge=1)
    published_at: float  # epoch seconds, for people reading it

    def model_info(self) -> ModelInfo:
        return self.model.model_info()

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode()


def model_card(model: ModelInfo, fingerprint: str, max_body_bytes: int) -> ModelCard:
    return ModelCard(
        key_version=KEY_VERSION,
        fingerprint=fingerprint,
        model=CardModel.of(model),
        schedulers=tuple(SCHEDULERS),
        max_body_bytes=max_body_bytes,
        published_at=round(time.time(), 3),
    )


def read_card(blob: bytes, where: str) -> ModelCard:
    try:
        return ModelCard.model_validate_json(blob)
    except ValidationError as exc:
        raise CardError(f"{where}: not a model card this version can read: {first_problem(exc, '(card)')}") from None
