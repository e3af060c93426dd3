"""bench/overhead's in-process baseline, in a process of its own set up like a model worker.

It pins itself as a server's one CPU worker does (container.worker.prepare_process, the torch
backend's thread count for one worker on the device), loads the model, warms up once, then waits
on stdin: each line is a number of calls, answered with one JSON line of the seconds each call of
generation + PNG encode took on this process's main thread. The benchmark's own process (the
HTTP client) therefore never imports torch and never shares its threads with the pipeline.

Usage: python -m bench.baseline MODEL_DIR BODY_JSON
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    from sdxl_inf2.container.config import load_settings
    from sdxl_inf2.container.devices import plan_workers
    from sdxl_inf2.container.worker import prepare_process

    model_dir, body = Path(sys.argv[1]), json.loads(sys.argv[2])
    slot = plan_workers("cpu")[0]  # a server on this machine runs one CPU worker
    prepare_process(slot)
    settings = load_settings()

    from sdxl_inf2.container.backends import import_backend
    from sdxl_inf2.container.backends.base import warmup_params
    from sdxl_inf2.container.encoding import encode_image
    from sdxl_inf2.core.modeldir import inspect_model_dir
    from sdxl_inf2.core.schema import parse_request, resolve

    model = inspect_model_dir(model_dir)
    backend = import_backend("torch")(slot.device, 1)
    backend.load(model)
    backend.generate(warmup_params(model))
    prompt, fields = parse_request(body)
    params = resolve(prompt, fields, model, "png")

    def one_call() -> float:
        started = time.perf_counter()
        for image in backend.generate(params):
            encode_image(image, "png", None, settings.png_compress_level)
        return time.perf_counter() - started

    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps([one_call() for _ in range(int(line))]), flush=True)


if __name__ == "__main__":
    main()
