"""The same pipeline behind LitServe 0.2.19 (a peer a user might pick instead), for bench/peer
(the tiny SDXL) and bench/overhead (`--null`: the simulated backend at 0 s, the null model).
Usage: python -m bench.litserve_app MODEL_DIR PORT [--null]"""

import sys
from pathlib import Path
from typing import Any

import litserve as ls
from fastapi import Response

from sdxl_inf2.container.backends import import_backend
from sdxl_inf2.container.encoding import encode_image
from sdxl_inf2.core.modeldir import inspect_model_dir
from sdxl_inf2.core.schema import parse_request, resolve

NULL = "--null" in sys.argv[3:]


class SdxlApi(ls.LitAPI):  # type: ignore[misc]
    def setup(self, device: str) -> None:
        self.model = inspect_model_dir(Path(sys.argv[1]), "off")
        self.backend = import_backend("simulated" if NULL else "torch")("cpu", 1)
        self.backend.load(self.model)

    def decode_request(self, request):  # type: ignore[no-untyped-def]  # LitServe reads this annotation: none = JSON body
        prompt, fields = parse_request(request)
        return resolve(prompt, fields, self.model, "png")

    def predict(self, params: Any) -> bytes:
        return encode_image(self.backend.generate(params)[0], "png", None, 1)

    def encode_response(self, output: bytes) -> Response:
        return Response(content=output, media_type="image/png")


if __name__ == "__main__":
    server = ls.LitServer(SdxlApi(api_path="/invocations"), accelerator="cpu", workers_per_device=1, timeout=120)
    server.run(host="127.0.0.1", port=int(sys.argv[2]), generate_client_file=False, log_level="warning")
