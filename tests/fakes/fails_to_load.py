from sdxl_inf2.core.modeldir import ModelInfo
from tests.fakes.base import FakeBackend


class Backend(FakeBackend):
    def load(self, model: ModelInfo) -> None:
        raise RuntimeError("cannot load: device unavailable (fake)")
