"""One cache entry on disk or in S3: the encoded images of one request, with their checksum.

    magic (8 bytes) | sha256 of the payload (32) | image count (u32) | each image's size (u64 each) | payload

Reading checks the magic, the exact length and the sha256, so a truncated or altered entry is
refused (`CorruptEntry`) and never served.
"""

from __future__ import annotations

import hashlib
import struct

from ..errors import SdxlError

MAGIC = b"SDXLRC1\n"
_HEAD = struct.Struct(">32sI")
_SIZE = struct.Struct(">Q")
MAX_IMAGES = 64


class CorruptEntry(SdxlError):
    """The stored bytes are not a complete, intact entry."""


def pack(images: list[bytes]) -> bytes:
    payload = b"".join(images)
    sizes = b"".join(_SIZE.pack(len(image)) for image in images)
    return MAGIC + _HEAD.pack(hashlib.sha256(payload).digest(), len(images)) + sizes + payload


def unpack(blob: bytes) -> list[bytes]:
    """The images in `blob`; CorruptEntry unless it is exactly what `pack` wrote."""
    view = memoryview(blob)
    start = len(MAGIC) + _HEAD.size
    if len(blob) < start or view[: len(MAGIC)] != MAGIC:
        raise CorruptEntry(f"not a cache entry ({len(blob)} bytes, bad header)")
    digest, count = _HEAD.unpack_from(blob, len(MAGIC))
    payload_at = start + count * _SIZE.size
    if not 1 <= count <= MAX_IMAGES or len(blob) < payload_at:
        raise CorruptEntry(f"truncated or bad image count ({count})")
    sizes = [_SIZE.unpack_from(blob, start + i * _SIZE.size)[0] for i in range(count)]
    if payload_at + sum(sizes) != len(blob):
        raise CorruptEntry(f"{len(blob)} bytes, header says {payload_at + sum(sizes)}")
    payload = view[payload_at:]
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptEntry("checksum mismatch")
    offsets = [payload_at + sum(sizes[:i]) for i in range(count)]
    return [blob[at : at + size] for at, size in zip(offsets, sizes, strict=True)]
