"""Cache keys: the fully resolved request plus everything else that decides the image bytes.

A key is the sha256 of the request's GenerationParams (defaults filled, so the flat and Hugging Face
shapes, aliases and explicit defaults of the same request share a key; the artifact variant it runs
on included, so two variants never share an entry, even at one size) and of the model fingerprint:
the artifact's manifest digest (its files' checksums, a variants root's covering every variant, so a
new model never serves old images), the backend and device that render it, and the encoder settings
that turn pixels into bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any, Protocol

from ..manifest import AnyManifest
from ..schema import GenerationParams

KEY_VERSION = 2  # bump when the key's inputs or the entry format change (2: the variant)


class EncoderSettings(Protocol):
    """What of the server's settings turns pixels into bytes (its `Settings` has both)."""

    @property
    def png_compress_level(self) -> int: ...
    @property
    def default_quality(self) -> int: ...


def manifest_digest(manifest: AnyManifest) -> str:
    return _sha256(manifest.model_dump(mode="json"))


def model_fingerprint(manifest: AnyManifest, backend: str, device: str, settings: EncoderSettings) -> str:
    return _sha256(
        {
            "version": KEY_VERSION,
            "manifest": manifest_digest(manifest),
            "backend": backend,
            "device": device,
            "png_compress_level": settings.png_compress_level,
            "default_quality": settings.default_quality,
        }
    )


def request_key(params: GenerationParams, fingerprint: str) -> str:
    return _sha256({"model": fingerprint, "params": asdict(params)})  # params.variant: the model folder


def cacheable_key(params: GenerationParams, seeded: bool, fingerprint: str) -> str | None:
    """The request's key, or None when it must not be cached: without a seed the image is random by
    contract. The container's cache and the gateway (gateway/submit.py) both key through this."""
    return request_key(params, fingerprint) if seeded else None


def _sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
