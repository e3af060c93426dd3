"""Records, at import time, the pinning this worker process sees and which device libraries were
already imported, then writes it to $FAKE_REPORT_DIR/worker-<pid>.json."""

import json
import os
import sys
from pathlib import Path

from sdxl_inf2.core.modeldir import ModelInfo
from tests.fakes.base import FakeBackend

AT_IMPORT = {
    "NEURON_RT_VISIBLE_CORES": os.environ.get("NEURON_RT_VISIBLE_CORES"),
    "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "device_modules_loaded": sorted(m for m in ("torch", "torch_neuronx", "optimum.neuron") if m in sys.modules),
}


class Backend(FakeBackend):
    def load(self, model: ModelInfo) -> None:
        report = {**AT_IMPORT, "pid": os.getpid(), "device": self.device}
        Path(os.environ["FAKE_REPORT_DIR"], f"worker-{os.getpid()}.json").write_text(json.dumps(report))
        super().load(model)
