"""bench/encode: encode time and size of a 1024x1024 photo-like image at the settings the server can
use, so the defaults (PNG compress_level 1, JPEG/WebP quality 90) are chosen from numbers."""

from __future__ import annotations

import argparse
import time
from typing import Any

from PIL import Image

from bench.harness import median, save, table
from sdxl_inf2.container.backends.simulated import photo_like
from sdxl_inf2.container.encoding import encode_image

SETTINGS: list[tuple[str, str, int | None, int]] = [  # label, format, quality, png level
    ("PNG compress_level 0", "png", None, 0),
    ("PNG compress_level 1 (default)", "png", None, 1),
    ("PNG compress_level 6 (Pillow default)", "png", None, 6),
    ("PNG compress_level 9", "png", None, 9),
    ("JPEG quality 75", "jpeg", 75, 1),
    ("JPEG quality 90 (default)", "jpeg", 90, 1),
    ("JPEG quality 95", "jpeg", 95, 1),
    ("WebP quality 75", "webp", 75, 1),
    ("WebP quality 90 (default)", "webp", 90, 1),
]


def measure(image: Image.Image, fmt: str, quality: int | None, level: int, runs: int) -> dict[str, Any]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = len(encode_image(image, fmt, quality, level))
        times.append(time.perf_counter() - started)
    return {"ms": median(times) * 1e3, "kib": size / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    image = photo_like()
    results = {label: measure(image, fmt, q, level, args.runs) for label, fmt, q, level in SETTINGS}
    rows = [[label, f"{r['ms']:.1f}", f"{r['kib']:.0f}"] for label, r in results.items()]
    print(f"\nbench/encode (1024x1024 photo-like RGB, median of {args.runs})")
    print(table(["setting", "ms", "KiB"], rows))
    save("encode", {"results": results})


if __name__ == "__main__":
    main()
