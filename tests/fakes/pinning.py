"""Records, at import time, the pinning this worker process sees and which device libraries were
already imported, and at load how a compiled folder would be loaded (its data-parallel mode), then
writes it to $FAKE_REPORT_DIR/worker-<pid>.json."""

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
        batch = model.compiled_batch  # a compiled folder: how the neuron backend would load it
        mode = batch.data_parallel_mode if batch else None
        report = {**AT_IMPORT, "pid": os.getpid(), "device": self.device, "data_parallel_mode": mode}
        Path(os.environ["FAKE_REPORT_DIR"], f"worker-{os.getpid()}.json").write_text(json.dumps(report))
        super().load(model)
