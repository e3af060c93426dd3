"""The result cache: seeded requests answered from earlier results (README "Metrics, cache and cost")."""

from .service import Lookup, ResultCache, build_cache

__all__ = ["Lookup", "ResultCache", "build_cache"]
