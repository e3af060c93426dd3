from tests.fakes.base import FakeBackend as Backend

__all__ = ["Backend"]
