"""Scheduler instances in a model worker, built from the names in sdxl_inf2/core/schedulers.py."""

from __future__ import annotations

from typing import Any

from sdxl_inf2.core.schedulers import SCHEDULERS


def build_scheduler(name: str, base_config: Any) -> Any:
    """A scheduler instance for `name`, built from the artifact's scheduler config."""
    import diffusers

    class_name, overrides = SCHEDULERS[name]
    if not class_name:
        class_name = base_config["_class_name"]
    return getattr(diffusers, class_name).from_config(base_config, **overrides)


class SchedulerCache:
    """One scheduler instance per name, built on first use. Safe because a worker runs one
    generation at a time; diffusers schedulers keep per-call state, so never share across threads."""

    def __init__(self, default: Any) -> None:
        self._by_name: dict[str, Any] = {"default": default}

    def get(self, name: str) -> Any:
        if name not in self._by_name:
            self._by_name[name] = build_scheduler(name, self._by_name["default"].config)
        return self._by_name[name]
