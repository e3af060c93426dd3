"""Image encoding. Defaults were chosen from measurements (bench/encode): PNG at compress_level 1
costs about a third of the default level 6 for ~10% more bytes."""

from __future__ import annotations

import io
from typing import Any


def encode_image(image: Any, fmt: str, quality: int | None, png_compress_level: int) -> bytes:
    """Encode a PIL image as png, jpeg or webp; the same image and settings give the same bytes."""
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=png_compress_level)
    elif fmt == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality or 90)
    elif fmt == "webp":
        image.save(buffer, format="WEBP", quality=quality or 90)
    else:
        raise ValueError(f"unsupported output format {fmt!r}")
    return buffer.getvalue()
