"""The result cache: seeded requests answered from earlier results (docs/metrics-and-cache.md)."""

from .service import Lookup, ResultCache, build_cache

__all__ = ["Lookup", "ResultCache", "build_cache"]
